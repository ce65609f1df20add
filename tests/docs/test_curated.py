"""docs/assets.md lists every curated environment alias with the requirements it installs.

The table between the `curated:start` and `curated:end` markers is generated from
src/forgeml/core/curated.py; `FORGEML_UPDATE_DOCS=1 pytest tests/docs` rewrites it.
"""

from __future__ import annotations

import os
import re

from forgeml.core.curated import CURATED_ENVIRONMENTS
from tests.cli.live import REPO

ASSETS = REPO / "docs" / "assets.md"
_TABLE = re.compile(r"(<!-- curated:start[^\n]*-->\n)(.*?)(<!-- curated:end -->)", re.DOTALL)


def render_table() -> str:
    rows = ["| name | pip requirements |", "|---|---|"]
    for name in sorted(CURATED_ENVIRONMENTS):
        reqs = ", ".join(f"`{r}`" for r in CURATED_ENVIRONMENTS[name]) or "(none: Python only)"
        rows.append(f"| `{name}` | {reqs} |")
    return "\n".join(rows) + "\n"


def test_curated_table_is_generated_from_the_alias_table() -> None:
    text = ASSETS.read_text(encoding="utf-8")
    match = _TABLE.search(text)
    assert match, "docs/assets.md lost its curated:start / curated:end markers"
    if os.environ.get("FORGEML_UPDATE_DOCS") == "1":
        text = text[: match.start(2)] + render_table() + text[match.end(2) :]
        ASSETS.write_text(text, encoding="utf-8")
        match = _TABLE.search(text)
        assert match
    assert match[2] == render_table(), (
        "docs/assets.md's curated environment table is out of date: run "
        "FORGEML_UPDATE_DOCS=1 pytest tests/docs/test_curated.py"
    )


def test_every_alias_is_documented() -> None:
    documented = set(re.findall(r"^\| `([^`]+)` \|", ASSETS.read_text(), re.MULTILINE))
    assert set(CURATED_ENVIRONMENTS) <= documented
