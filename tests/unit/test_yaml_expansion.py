"""YAML aliases repeat what their anchors hold: a document may use them, but one that expands
without end (a "billion laughs" document) is refused with a
message, quickly, since the server reads YAML pasted in the studio."""

from __future__ import annotations

import pytest

from forgeml.core.errors import SpecError
from forgeml.core.specs.yamlio import parse_yaml


def test_anchors_and_aliases_still_work() -> None:
    data, _ = parse_yaml("env: &env {image: python:3.11}\njobs:\n  a: {environment: *env}\n")
    assert data["jobs"]["a"]["environment"] == {"image": "python:3.11"}


def test_a_document_that_expands_without_end_is_refused() -> None:
    doc, prev = 'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n', "a"
    for name in "bcdefghi":  # 10**9 values once expanded
        doc += f"{name}: &{name} [{','.join([f'*{prev}'] * 10)}]\n"
        prev = name
    with pytest.raises(SpecError, match="expands to more than"):
        parse_yaml(doc, file="bomb.yml")


def test_a_value_that_refers_to_itself_does_not_loop() -> None:
    data, _ = parse_yaml("loop: &loop [1, *loop]\n", file="loop.yml")
    assert data["loop"][0] == 1
