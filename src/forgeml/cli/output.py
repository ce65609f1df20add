"""Rendering results as JSON, YAML or a table (`-o json|yaml|table`)."""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Any


class OutputFormat(StrEnum):
    json = "json"
    yaml = "yaml"
    table = "table"


def plain(obj: Any) -> Any:
    """Entities and summaries as plain JSON-able data, without empty fields."""
    from pydantic import BaseModel

    if isinstance(obj, BaseModel):
        data = obj.model_dump(mode="json", exclude_none=True, by_alias=True)
        # what the user wrote first, what the workspace adds last
        for key in ("archived", "creation_context"):
            if key in data:
                data[key] = data.pop(key)
        return data
    if isinstance(obj, list):
        return [plain(o) for o in obj]
    return obj


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, bool):
        return "yes" if value else ""
    return str(value)


def emit(obj: Any, fmt: OutputFormat, columns: list[str] | None = None) -> None:
    data = plain(obj)
    if fmt is OutputFormat.json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    if fmt is OutputFormat.yaml:
        from forgeml.core.specs.yamlio import dump_yaml

        sys.stdout.write(dump_yaml(data))
        return
    from rich.console import Console
    from rich.table import Table

    if not isinstance(data, list):
        table = Table(show_edge=False, show_header=False)
        table.add_column(style="bold")
        table.add_column()
        for key, value in data.items():
            table.add_row(
                key, _cell(value) if not isinstance(value, dict | list) else json.dumps(value)
            )
        Console(soft_wrap=True).print(table)
        return
    rows = data
    cols = columns or sorted({k for r in rows for k in r})
    table = Table(show_edge=False, header_style="bold")
    for col in cols:
        table.add_column(col.replace("_", " ").upper())
    for row in rows:
        table.add_row(*[_cell(_dig(row, col)) for col in cols])
    Console(soft_wrap=True).print(table)


def _dig(row: dict[str, Any], col: str) -> Any:
    node: Any = row
    for part in col.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node
