"""Reading YAML documents with their line numbers, and `--set key.path=value` overrides.

Users' YAML files are read with ruamel.yaml so that every error can point at the line it is about;
the positions are kept in a `Locator` beside the plain data the schemas validate.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from forgeml.core.errors import SpecError

FieldPath = tuple[str | int, ...]
#: how many values one document may expand to: aliases (`*name`) repeat what their anchor holds,
#: and a few nested ones (a "billion laughs" document) would otherwise expand without end
MAX_NODES = 200_000


class Locator:
    """Maps a field path to the 1-based line where it appears in the source file."""

    def __init__(self, lines: dict[FieldPath, int] | None = None) -> None:
        self._lines = lines or {}

    def line(self, path: Sequence[str | int]) -> int | None:
        key = tuple(path)
        while key:
            if key in self._lines:
                return self._lines[key]
            key = key[:-1]
        return None


class _Budget:
    def __init__(self, file: str) -> None:
        self.left = MAX_NODES
        self.file = file
        self.open: set[int] = set()  # the containers being copied: one met again loops

    def spend(self, node: Any) -> None:
        self.left -= 1
        if self.left < 0:
            raise SpecError(
                f"the document expands to more than {MAX_NODES:,} values (its aliases repeat "
                "what their anchors hold). Write the values out, or split the document.",
                file=self.file,
            )


def _plain(node: Any, path: FieldPath, lines: dict[FieldPath, int], budget: _Budget) -> Any:
    """Turn ruamel's commented containers into plain ones, recording each key's line."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    budget.spend(node)
    if isinstance(node, (CommentedMap, CommentedSeq)):
        if id(node) in budget.open:
            raise SpecError(
                f"an alias at {'.'.join(map(str, path))} refers to a value that contains it; "
                "a document must not contain itself.",
                file=budget.file,
                line=lines.get(path),
            )
        budget.open.add(id(node))
        try:
            return _container(node, path, lines, budget)
        finally:
            budget.open.discard(id(node))
    if isinstance(node, str):
        return str(node)
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _container(node: Any, path: FieldPath, lines: dict[FieldPath, int], budget: _Budget) -> Any:
    from ruamel.yaml.comments import CommentedMap

    if isinstance(node, CommentedMap):
        out: dict[str, Any] = {}
        for key, value in node.items():
            child = (*path, str(key))
            with contextlib.suppress(KeyError, TypeError, AttributeError):
                lines[child] = int(node.lc.key(key)[0]) + 1
            out[str(key)] = _plain(value, child, lines, budget)
        return out
    items = []
    for i, value in enumerate(node):
        child = (*path, i)
        with contextlib.suppress(KeyError, TypeError, AttributeError):
            lines[child] = int(node.lc.item(i)[0]) + 1
        items.append(_plain(value, child, lines, budget))
    return items


def parse_yaml(text: str, *, file: str = "<string>") -> tuple[Any, Locator]:
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(io.StringIO(text))
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise SpecError(
            f"this is not valid YAML: {exc.problem or exc}. Fix the syntax near that line.",
            file=file,
            line=line,
        ) from None
    lines: dict[FieldPath, int] = {}
    return _plain(raw, (), lines, _Budget(file)), Locator(lines)


def load_yaml_file(path: str | Path) -> tuple[dict[str, Any], Locator]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"the file {p} does not exist; check the path given with -f.") from None
    except IsADirectoryError:
        raise SpecError(f"{p} is a folder; pass the YAML file inside it.") from None
    data, locator = parse_yaml(text, file=str(p))
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise SpecError(
            f"the document must be a mapping of keys to values, not a {type(data).__name__}.",
            file=str(p),
            line=1,
        )
    return data, locator


def _scalar(text: str) -> Any:
    """Parse the right side of `--set k=v` as YAML does, so `0.1` is a number and `true` a bool."""
    from ruamel.yaml import YAML

    if text == "":
        return ""
    try:
        value = YAML(typ="safe").load(text)
    except Exception:
        return text
    return value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Patch `data` in place with `key.path=value` pairs, as `az ml ... --set` does."""
    for item in overrides:
        if "=" not in item:
            raise SpecError(f"--set '{item}' must look like key.path=value.", field=item)
        key, _, raw = item.partition("=")
        parts = [p for p in key.strip().split(".") if p]
        if not parts:
            raise SpecError(f"--set '{item}' names no key.", field=item)
        node: Any = data
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[int(part)]
                continue
            nxt = node.get(part)
            if not isinstance(nxt, dict | list):
                nxt = {}
                node[part] = nxt
            node = nxt
        if isinstance(node, list):
            node[int(parts[-1])] = _scalar(raw)
        else:
            node[parts[-1]] = _scalar(raw)
    return data


def dump_yaml(data: Any) -> str:
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    buf = io.StringIO()
    yaml.dump(data, buf)
    return buf.getvalue()
