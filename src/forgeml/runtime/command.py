"""Rendering a job's command: `${{inputs.x}}` and `${{outputs.y}}` substituted, optional parts kept
or dropped.

A `$[[ ... ]]` fragment is kept (without its brackets) when every input it names has a value, and
dropped whole when any of them is unset, as Azure ML does for optional component inputs. Values
are inserted as they are, with no shell quoting, which is what Azure ML's command lines expect. A
reference to anything else (an unknown input, an unset input outside an optional fragment, another
expression kind) is an error that names it.
"""

from __future__ import annotations

import re

from forgeml.core.errors import SpecError

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
_OPTIONAL = re.compile(r"\$\[\[(.*?)\]\]", re.DOTALL)


def _input_names(text: str) -> list[str]:
    names = []
    for expr in _EXPR.findall(text):
        kind, _, name = expr.partition(".")
        if kind == "inputs":
            names.append(name)
    return names


def render(command: str, inputs: dict[str, str | None], outputs: dict[str, str]) -> str:
    """The command line to run: expressions replaced, optional fragments resolved."""

    def optional(match: re.Match[str]) -> str:
        body = match.group(1)
        if any(inputs.get(name) is None for name in _input_names(body)):
            return ""
        return body

    text = _OPTIONAL.sub(optional, command)

    def value(match: re.Match[str]) -> str:
        expr = match.group(1)
        kind, _, name = expr.partition(".")
        if kind == "inputs":
            if name not in inputs:
                raise SpecError(
                    f"the command uses ${{{{{expr}}}}}, but the job has no input '{name}'. "
                    f"Inputs: {', '.join(sorted(inputs)) or 'none'}.",
                    field="command",
                )
            found = inputs[name]
            if found is None:
                raise SpecError(
                    f"the input '{name}' has no value, and the command uses it outside an "
                    "optional $[[ ... ]] fragment; give it a value or wrap that part of the "
                    "command in $[[ ... ]].",
                    field="command",
                )
            return found
        if kind == "outputs":
            if name not in outputs:
                raise SpecError(
                    f"the command uses ${{{{{expr}}}}}, but the job has no output '{name}'. "
                    f"Outputs: {', '.join(sorted(outputs)) or 'none'}.",
                    field="command",
                )
            return outputs[name]
        raise SpecError(
            f"the command uses ${{{{{expr}}}}}, which a command job cannot resolve; only "
            "${{inputs.<name>}} and ${{outputs.<name>}} are allowed here.",
            field="command",
        )

    return _EXPR.sub(value, text)
