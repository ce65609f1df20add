"""Rendering a command: `${{inputs.x}}`, `${{outputs.y}}` and optional `$[[ ... ]]` fragments."""

from __future__ import annotations

import pytest

from forgeml.core.errors import SpecError
from forgeml.runtime.command import render
from forgeml.runtime.inputs import literal_text

OUTPUTS = {"model": "/w/outputs_model"}


def test_inputs_and_outputs_are_substituted_as_they_are() -> None:
    line = render(
        "python train.py --data ${{inputs.data}} --lr ${{ inputs.lr }} --out ${{outputs.model}}",
        {"data": "/cache/trees/abc", "lr": "0.01"},
        OUTPUTS,
    )
    assert line == "python train.py --data /cache/trees/abc --lr 0.01 --out /w/outputs_model"


def test_an_optional_fragment_is_kept_when_its_inputs_have_values() -> None:
    line = render(
        "python a.py $[[--epochs ${{inputs.epochs}}]] $[[--seed ${{inputs.seed}}]] --x 1",
        {"epochs": "3", "seed": None},
        {},
    )
    assert line == "python a.py --epochs 3  --x 1"


def test_a_fragment_is_dropped_when_any_of_its_inputs_is_unset() -> None:
    line = render(
        "echo start$[[ --a ${{inputs.a}} --b ${{inputs.b}}]]; echo end",
        {"a": "1"},  # b is declared optional and left out altogether
        {},
    )
    assert line == "echo start; echo end"


def test_a_fragment_may_span_lines_and_name_outputs() -> None:
    line = render(
        "python a.py $[[\n  --model ${{inputs.m}}\n  --out ${{outputs.model}}]]",
        {"m": "/m"},
        OUTPUTS,
    )
    assert line == "python a.py \n  --model /m\n  --out /w/outputs_model"


@pytest.mark.parametrize(
    ("command", "inputs", "needle"),
    [
        ("echo ${{inputs.typo}}", {"data": "/d"}, "has no input 'typo'. Inputs: data"),
        ("echo ${{outputs.nope}}", {}, "has no output 'nope'. Outputs: model"),
        ("echo ${{inputs.seed}}", {"seed": None}, "'seed' has no value"),
        ("echo ${{search_space.lr}}", {}, "a command job cannot resolve"),
    ],
)
def test_what_cannot_be_resolved_is_refused_by_name(
    command: str, inputs: dict[str, str | None], needle: str
) -> None:
    with pytest.raises(SpecError) as caught:
        render(command, inputs, OUTPUTS)
    assert needle in caught.value.message
    assert caught.value.field == "command"


def test_shell_syntax_around_expressions_is_left_alone() -> None:
    line = render('echo "$HOME" ${PATH} && ls ${{inputs.d}}/*.csv | wc -l', {"d": "/d"}, {})
    assert line == 'echo "$HOME" ${PATH} && ls /d/*.csv | wc -l'


@pytest.mark.parametrize(
    ("value", "text"), [(0.01, "0.01"), (3, "3"), (True, "True"), ("a b", "a b")]
)
def test_literals_read_as_python_writes_them(value: object, text: str) -> None:
    assert literal_text(value) == text
