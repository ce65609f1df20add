"""The error taxonomy every layer speaks.

`UserError` and its subclasses describe problems the caller can fix (a bad spec, a missing asset,
a conflicting version, a forbidden call) and map to 4xx statuses; `SystemError` describes faults of
the workspace itself and maps to 5xx. The HTTP mapping lives here, beside the classes, so that the
server renders and the SDK re-raises the same class from the same table.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ForgemlError(Exception):
    """Root of every error forgeml raises on purpose."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return self.message


class UserError(ForgemlError):
    """Something the caller can correct: the message says what and how."""

    status_code = 400
    code = "bad_request"


class SpecError(UserError):
    """A YAML document or request body that does not match its schema."""

    status_code = 422
    code = "invalid_spec"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        field: str | None = None,
        line: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        where = []
        if file:
            where.append(file + (f":{line}" if line else ""))
        if field:
            where.append(f"field '{field}'")
        text = f"{', '.join(where)}: {message}" if where else message
        merged = {"file": file, "field": field, "line": line, "reason": message, **(details or {})}
        super().__init__(text, details={k: v for k, v in merged.items() if v is not None})
        self.file, self.field, self.line = file, field, line
        self._bare = message

    def in_file(self, file: str | None) -> SpecError:
        """The same error, naming the YAML file it concerns (when known and not yet named)."""
        if not file or self.file:
            return self
        line = self.line
        if line is None and self.field:
            # the workspace names the field; the file on this machine knows its line
            try:
                from forgeml.core.specs.yamlio import load_yaml_file

                _, locator = load_yaml_file(file)
                line = locator.line(tuple(self.field.split(".")))
            except Exception:
                line = None
        return SpecError(
            getattr(self, "_bare", self.message), file=file, field=self.field, line=line
        )


class NotFoundError(UserError):
    status_code = 404
    code = "not_found"


class ConflictError(UserError):
    status_code = 409
    code = "conflict"


class ForbiddenError(UserError):
    status_code = 403
    code = "forbidden"


class SystemError(ForgemlError):
    status_code = 500
    code = "internal"


class UnavailableError(SystemError):
    """A dependency (database, artifact store, server) cannot be reached."""

    status_code = 503
    code = "unavailable"


_BY_CODE: dict[str, type[ForgemlError]] = {
    cls.code: cls
    for cls in (
        ForgemlError,
        UserError,
        SpecError,
        NotFoundError,
        ConflictError,
        ForbiddenError,
        SystemError,
        UnavailableError,
    )
}


def error_from_payload(status: int, payload: dict[str, Any]) -> ForgemlError:
    """Rebuild the error a server reported, so SDK callers catch the same class."""
    code = str(payload.get("code", ""))
    message = str(payload.get("message", f"HTTP {status}"))
    details = payload.get("details") or {}
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = UserError if 400 <= status < 500 else SystemError
        if status == 404:
            cls = NotFoundError
        elif status == 409:
            cls = ConflictError
        elif status == 403:
            cls = ForbiddenError
    err = cls.__new__(cls)
    ForgemlError.__init__(err, message, details=details)
    if isinstance(err, SpecError):
        err.file, err.field, err.line = (
            details.get("file"),
            details.get("field"),
            details.get("line"),
        )
        err._bare = str(details.get("reason", message))
    return err
