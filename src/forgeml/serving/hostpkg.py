"""The scoring package as deployments import it: `forgeml.serving.envside` as `forgeml_scoring`.

Deployment environments do not have forgeml installed, so the stdlib-only modules of
`forgeml.serving.envside` are copied into ``<root>/<hash>/forgeml_scoring/``, where the hash
covers the files' names and contents: an upgraded forgeml gets a fresh folder, and hosts already
running keep theirs. The copy is made in a temporary folder and renamed into place, so a process
never sees a half-written package and two processes racing to create it both end up using the
one that won.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

PACKAGE_NAME = "forgeml_scoring"
_SOURCE = Path(__file__).with_name("envside")


def _sources() -> list[Path]:
    return sorted(p for p in _SOURCE.glob("*.py") if p.is_file())


def content_hash(files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:16]


def host_path(root: Path) -> Path:
    """The folder to put on PYTHONPATH so that `python -m forgeml_scoring.online` runs."""
    files = _sources()
    target = root / content_hash(files)
    if (target / PACKAGE_NAME / "__init__.py").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
    try:
        package = tmp / PACKAGE_NAME
        package.mkdir()
        for path in files:
            shutil.copyfile(path, package / path.name)
        try:
            os.rename(tmp, target)
        except OSError:
            # another process renamed its copy first; theirs is identical
            if not (target / PACKAGE_NAME / "__init__.py").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
