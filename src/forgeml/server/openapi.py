"""`python -m forgeml.server.openapi FILE`: write the API's OpenAPI document, which the studio's
build turns into its TypeScript API types (they are never written by hand)."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any


def document() -> dict[str, Any]:
    """The OpenAPI document of the server, built over a throwaway workspace."""
    from forgeml.server.app import create_app, open_workspace
    from forgeml.settings import Settings

    with tempfile.TemporaryDirectory(prefix="forgeml-openapi-") as home:
        workspace = open_workspace(Settings(home=Path(home)))
        try:
            return create_app(workspace).openapi()
        finally:
            workspace.db.dispose()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(document(), indent=1, sort_keys=True) + "\n"
    if not args or args[0] == "-":
        sys.stdout.write(text)
    else:
        Path(args[0]).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
