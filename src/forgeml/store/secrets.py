"""Secrets at rest: endpoint keys (and later connection keys) are stored encrypted with the
workspace's key (Fernet: AES-128-CBC with an HMAC). The key comes from FORGEML_SECRET_KEY, or from
`secret.key` in the workspace home, created with owner-only permissions on first start; every
server replica of one workspace must share it."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from forgeml.core.errors import SystemError

KEY_FILE = "secret.key"


class SecretBox:
    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise SystemError(
                "FORGEML_SECRET_KEY is not a valid key: it must be 32 url-safe base64-encoded "
                "bytes (`python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'` makes one)."
            ) from exc

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A box whose key lives only in this process (tests, throw-away workspaces)."""
        return cls(Fernet.generate_key())

    @classmethod
    def for_home(cls, home: Path, key: str | None = None) -> SecretBox:
        if key:
            return cls(key.encode())
        path = home / KEY_FILE
        if not path.exists():
            fresh = Fernet.generate_key()
            fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(fresh)
            os.replace(path.with_suffix(".tmp"), path)
        return cls(path.read_bytes().strip())

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SystemError(
                "a stored secret cannot be decrypted with this workspace's key; every server "
                "of a workspace must use the same FORGEML_SECRET_KEY (or secret.key file)."
            ) from exc
