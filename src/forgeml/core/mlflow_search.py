"""MLflow's search grammar: filter strings, `order_by` clauses and page tokens, parsed in pure code.

A filter is a conjunction (`AND`, case-insensitive) of comparisons `[entity.]key op value`, with
no `OR`, `NOT` or parentheses except for `IN (...)` lists; each search kind (runs, experiments,
registered models, model versions, logged models) has a `Grammar` saying which entities,
attributes and operators it accepts. Parsing yields `Comparison`s that the store turns into SQL
(runs) or that `matches` evaluates on loaded objects (the smaller collections). Error messages
follow MLflow's, since users paste them into searches for help.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from forgeml.core.errors import UserError

Value = float | str | tuple[str, ...] | None
T = TypeVar("T")

NUMERIC_OPS = frozenset({">", ">=", "!=", "=", "<", "<="})
STRING_OPS = frozenset({"!=", "=", "LIKE", "ILIKE"})
NULL_OPS = frozenset({"IS NULL", "IS NOT NULL"})
LIST_OPS = frozenset({"IN", "NOT IN"})


@dataclass(frozen=True)
class Comparison:
    """One clause: `kind` is metric, param, tag, attribute or dataset; `key` is canonical."""

    kind: str
    key: str
    op: str
    value: Value


@dataclass(frozen=True)
class OrderKey:
    kind: str
    key: str
    ascending: bool = True


@dataclass(frozen=True)
class Grammar:
    """What one search endpoint accepts."""

    entities: dict[str, str]
    string_attributes: dict[str, str]
    numeric_attributes: dict[str, str] = field(default_factory=dict)
    list_attributes: frozenset[str] = frozenset()
    orderable: frozenset[str] = frozenset()
    string_ops: frozenset[str] = STRING_OPS
    tag_ops: frozenset[str] = STRING_OPS | NULL_OPS

    def attribute(self, key: str) -> tuple[str, bool] | None:
        """(canonical key, is numeric) for an attribute name, or None."""
        if key in self.string_attributes:
            return self.string_attributes[key], False
        if key in self.numeric_attributes:
            return self.numeric_attributes[key], True
        return None


def _aliases(**groups: Iterable[str]) -> dict[str, str]:
    return {alias: kind for kind, names in groups.items() for alias in names}


_TAGS = ("tag", "tags")
_ATTRS = ("attribute", "attributes", "attr")
RUNS = Grammar(
    entities=_aliases(
        metric=("metric", "metrics"),
        param=("param", "params", "parameter", "parameters"),
        tag=_TAGS,
        attribute=(*_ATTRS, "run"),
        dataset=("dataset", "datasets"),
    ),
    string_attributes={
        "run_id": "run_id",
        "run_name": "run_name",
        "run name": "run_name",
        "Run name": "run_name",
        "Run Name": "run_name",
        "status": "status",
        "user_id": "user_id",
        "artifact_uri": "artifact_uri",
        "lifecycle_stage": "lifecycle_stage",
    },
    numeric_attributes={
        "start_time": "start_time",
        "end_time": "end_time",
        "created": "start_time",
        "Created": "start_time",
    },
    list_attributes=frozenset({"run_id"}),
    orderable=frozenset(
        {"run_id", "run_name", "status", "user_id", "artifact_uri", "start_time", "end_time"}
    ),
)
EXPERIMENTS = Grammar(
    entities=_aliases(tag=_TAGS, attribute=_ATTRS),
    string_attributes={"name": "name", "experiment_id": "experiment_id"},
    numeric_attributes={
        "creation_time": "creation_time",
        "last_update_time": "last_update_time",
    },
    list_attributes=frozenset({"experiment_id"}),
    orderable=frozenset({"name", "experiment_id", "creation_time", "last_update_time"}),
)
REGISTERED_MODELS = Grammar(
    entities=_aliases(tag=_TAGS, attribute=_ATTRS),
    string_attributes={"name": "name"},
    numeric_attributes={
        "creation_timestamp": "creation_timestamp",
        "timestamp": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
    },
    list_attributes=frozenset({"name"}),
    orderable=frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    tag_ops=STRING_OPS,
)
MODEL_VERSIONS = Grammar(
    entities=_aliases(tag=_TAGS, attribute=_ATTRS),
    string_attributes={
        "name": "name",
        "run_id": "run_id",
        "source_path": "source",
        "source": "source",
    },
    numeric_attributes={
        "version_number": "version_number",
        "version": "version_number",
        "creation_timestamp": "creation_timestamp",
        "timestamp": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
    },
    list_attributes=frozenset({"run_id", "name"}),
    orderable=frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
    tag_ops=STRING_OPS,
)
LOGGED_MODELS = Grammar(
    entities=_aliases(
        metric=("metric", "metrics"),
        param=("param", "params"),
        tag=_TAGS,
        attribute=_ATTRS,
    ),
    string_attributes={
        "name": "name",
        "model_id": "model_id",
        "model_type": "model_type",
        "status": "status",
        "source_run_id": "source_run_id",
    },
    numeric_attributes={
        "creation_timestamp": "creation_timestamp",
        "creation_time": "creation_timestamp",
        "last_updated_timestamp": "last_updated_timestamp",
        "last_updated_time": "last_updated_timestamp",
    },
    list_attributes=frozenset({"model_id", "name"}),
    orderable=frozenset(
        {"name", "model_id", "model_type", "status", "creation_timestamp", "last_updated_timestamp"}
    ),
)


def _bad(message: str) -> UserError:
    return UserError(message, details={"field": "filter"})


class _Scanner:
    """A character-level scanner: MLflow filters are small and the grammar is tiny."""

    _WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
    _KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.]*")
    _NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
    _SYMBOL = re.compile(r"[!<>=~]+")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def done(self) -> bool:
        self.skip()
        return self.pos >= len(self.text)

    def peek(self) -> str:
        self.skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def match(self, pattern: re.Pattern[str]) -> str | None:
        self.skip()
        m = pattern.match(self.text, self.pos)
        if not m:
            return None
        self.pos = m.end()
        return m.group(0)

    def quoted(self) -> tuple[str, str] | None:
        """A quoted token: (quote char, unquoted text)."""
        quote = self.peek()
        if quote not in ("'", '"', "`"):
            return None
        out, i = [], self.pos + 1
        while i < len(self.text):
            ch = self.text[i]
            if ch == "\\" and i + 1 < len(self.text):
                out.append(self.text[i + 1])
                i += 2
                continue
            if ch == quote:
                if i + 1 < len(self.text) and self.text[i + 1] == quote:  # SQL-style doubling
                    out.append(quote)
                    i += 2
                    continue
                self.pos = i + 1
                return quote, "".join(out)
            out.append(ch)
            i += 1
        raise _bad(f"Unterminated quoted string in filter string '{self.text}'.")

    def keyword(self, *words: str) -> bool:
        """Consume the given keywords (case-insensitive) if they come next."""
        start = self.pos
        for word in words:
            got = self.match(self._WORD)
            if got is None or got.upper() != word:
                self.pos = start
                return False
        return True


def _identifier(sc: _Scanner, grammar: Grammar, *, what: str) -> tuple[str, str]:
    """Read `[entity.]key` and return (kind, canonical key)."""
    quoted = sc.quoted()
    if quoted is not None:
        entity, key = None, quoted[1]
    else:
        word = sc.match(_Scanner._WORD)
        if word is None:
            raise _bad(f"Invalid {what}: expected an identifier at '{sc.text[sc.pos :]}'.")
        if sc.pos < len(sc.text) and sc.text[sc.pos] == ".":
            sc.pos += 1
            entity = word
            inner = sc.quoted() if sc.peek() in ("`", '"') else None
            if inner is not None:
                key = inner[1]
            else:
                bare = _Scanner._KEY.match(sc.text, sc.pos)
                if not bare:
                    raise _bad(f"Invalid {what}: '{word}.' must be followed by a key.")
                sc.pos = bare.end()
                key = bare.group(0)
        else:
            entity, key = None, word
    if entity is None:
        kind = "attribute"
    else:
        kind = grammar.entities.get(entity, grammar.entities.get(entity.lower(), ""))
        if not kind:
            valid = sorted(set(grammar.entities))
            raise _bad(f"Invalid entity type '{entity}'. Valid values are {valid}")
    if kind == "attribute":
        found = grammar.attribute(key)
        if found is None:
            valid = sorted({*grammar.string_attributes, *grammar.numeric_attributes})
            raise _bad(f"Invalid attribute key '{key}' specified. Valid keys are '{valid}'")
        key = found[0]
    elif kind == "dataset" and key not in ("name", "digest", "context"):
        raise _bad(
            f"Invalid dataset key '{key}' specified. Valid keys are ['context', 'digest', 'name']"
        )
    return kind, key


def _operator(sc: _Scanner) -> str:
    symbol = sc.match(_Scanner._SYMBOL)
    if symbol is not None:
        return "!=" if symbol == "<>" else symbol
    for words in (("IS", "NOT", "NULL"), ("IS", "NULL"), ("NOT", "IN")):
        if sc.keyword(*words):
            return " ".join(words)
    word = sc.match(_Scanner._WORD)
    if word is None:
        raise _bad(f"Invalid filter: expected a comparator at '{sc.text[sc.pos :]}'.")
    return word.upper()


def _allowed_ops(grammar: Grammar, kind: str, key: str) -> frozenset[str]:
    if kind == "metric":
        return NUMERIC_OPS
    if kind in ("param", "tag"):
        return grammar.tag_ops if kind == "tag" else STRING_OPS | NULL_OPS
    if kind == "dataset":
        return STRING_OPS | LIST_OPS
    numeric = key in grammar.numeric_attributes.values()
    if numeric:
        return NUMERIC_OPS
    ops = grammar.string_ops
    return ops | LIST_OPS if key in grammar.list_attributes else ops


def _list(sc: _Scanner) -> tuple[str, ...]:
    sc.pos += 1  # "("
    items: list[str] = []
    while True:
        quoted = sc.quoted()
        if quoted is None or quoted[0] == "`":
            raise _bad(
                "While parsing a list in the query, expected a non-empty list of string "
                "values, but got ill-formed list."
            )
        items.append(quoted[1])
        nxt = sc.peek()
        sc.pos += 1
        if nxt == ")":
            return tuple(items)
        if nxt != ",":
            raise _bad(
                "While parsing a list in the query, expected a comma-separated list of "
                "quoted string values."
            )


def _value(sc: _Scanner, kind: str, key: str, op: str, numeric: bool) -> Value:
    if op in NULL_OPS:
        return None
    if op in LIST_OPS:
        if sc.peek() != "(":
            raise _bad(f"Expected a list of quoted strings in parentheses after '{op}'.")
        return _list(sc)
    if numeric:
        number = sc.match(_Scanner._NUMBER)
        if number is None:
            what = "metric" if kind == "metric" else f"numeric attribute: {key}"
            raise _bad(f"Expected numeric value type for {what}. Found {sc.text[sc.pos :]!r}")
        return float(number)
    quoted = sc.quoted()
    if quoted is None or quoted[0] == "`":
        raise _bad(
            f"Expected a quoted string value for {kind} (e.g. 'my-value'). "
            f"Got value {sc.text[sc.pos :].split(' ')[0]}"
        )
    return quoted[1]


def parse_filter(text: str | None, grammar: Grammar) -> list[Comparison]:
    """Parse a filter string; an empty one matches everything."""
    if not text or not text.strip():
        return []
    sc = _Scanner(text)
    out: list[Comparison] = []
    while True:
        kind, key = _identifier(sc, grammar, what="filter")
        op = _operator(sc)
        allowed = _allowed_ops(grammar, kind, key)
        if op not in allowed:
            raise _bad(f"Invalid comparator '{op}' not one of '{sorted(allowed)}'")
        numeric = kind == "metric" or (
            kind == "attribute" and key in grammar.numeric_attributes.values()
        )
        out.append(Comparison(kind, key, op, _value(sc, kind, key, op, numeric)))
        if sc.done():
            return out
        if not sc.keyword("AND"):
            rest = sc.text[sc.pos :].split()
            clause = rest[0] if rest else ""
            raise _bad(f"Invalid clause(s) in filter string: '{clause}'")


def parse_order_by(clauses: Iterable[str] | None, grammar: Grammar) -> list[OrderKey]:
    out: list[OrderKey] = []
    for clause in clauses or ():
        if not clause or not clause.strip():
            continue
        sc = _Scanner(clause)
        kind, key = _identifier(sc, grammar, what=f"order_by clause '{clause}'")
        if kind == "attribute" and key not in grammar.orderable:
            raise _bad(
                f"Invalid order_by clause '{clause}': '{key}' cannot be ordered by. Use one of "
                f"{sorted(grammar.orderable)}."
            )
        if kind == "dataset":
            raise _bad(f"Invalid order_by clause '{clause}': datasets cannot be ordered by.")
        ascending = True
        if sc.keyword("DESC"):
            ascending = False
        else:
            sc.keyword("ASC")
        if not sc.done():
            raise _bad(
                f"Invalid order_by clause '{clause}'. Use '<key> [ASC|DESC]', e.g. "
                "'metrics.acc DESC'."
            )
        out.append(OrderKey(kind, key, ascending))
    return out


# ----------------------------------------------------------------------- in-memory evaluation


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for ch in pattern:
        parts.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def compare(op: str, actual: object, expected: Value) -> bool:
    """Does `actual` satisfy `op expected`? A missing value matches only IS NULL."""
    if op == "IS NULL":
        return actual is None
    if op == "IS NOT NULL":
        return actual is not None
    if actual is None:
        return False
    if isinstance(expected, tuple):
        inside = str(actual) in expected
        return inside if op == "IN" else not inside
    if isinstance(expected, float):
        try:
            number = float(actual)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return False
        if math.isnan(number):
            return False
        return {
            "=": number == expected,
            "!=": number != expected,
            ">": number > expected,
            ">=": number >= expected,
            "<": number < expected,
            "<=": number <= expected,
        }[op]
    text, want = str(actual), str(expected)
    if op == "=":
        return text == want
    if op == "!=":
        return text != want
    if op in ("LIKE", "ILIKE"):
        return _like(want, ignore_case=op == "ILIKE").fullmatch(text) is not None
    raise _bad(f"Invalid comparator '{op}'.")


def like_to_glob(pattern: str) -> str:
    """A case-sensitive SQLite GLOB pattern equivalent to a LIKE pattern."""
    out = []
    for ch in pattern:
        if ch == "%":
            out.append("*")
        elif ch == "_":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


# ------------------------------------------------------------------------------ page tokens


def page_token(offset: int) -> str:
    """The opaque token for the next page, in MLflow's own shape (base64 of {"offset": N})."""
    return base64.b64encode(json.dumps({"offset": offset}).encode()).decode()


def page_offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token, validate=True))
        offset = int(data["offset"])
    except Exception:
        raise UserError(
            f"Invalid page token '{token}': pass the next_page_token of a previous answer.",
            details={"field": "page_token"},
        ) from None
    if offset < 0:
        raise UserError(f"Invalid page token '{token}': negative offset.")
    return offset


def select_items(
    items: Iterable[T], comparisons: list[Comparison], value: Callable[[T, str, str], object]
) -> list[T]:
    """The items satisfying every comparison; `value(item, kind, key)` reads one field."""
    return [
        item
        for item in items
        if all(compare(c.op, value(item, c.kind, c.key), c.value) for c in comparisons)
    ]


def order_items(
    items: list[T], keys: list[OrderKey], value: Callable[[T, str, str], object]
) -> list[T]:
    """Sort by the keys, first key first; items lacking a key go last whatever the direction."""
    for key in reversed(keys):
        values = [(value(i, key.kind, key.key), i) for i in items]
        present = [(v, i) for v, i in values if v is not None]
        present.sort(key=lambda pair: pair[0], reverse=not key.ascending)  # type: ignore[arg-type,return-value]
        items = [i for _, i in present] + [i for v, i in values if v is None]
    return items


def paginate(items: list[T], offset: int, limit: int) -> tuple[list[T], str | None]:
    more = offset + limit < len(items)
    return items[offset : offset + limit], page_token(offset + limit) if more else None
