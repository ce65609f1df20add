"""Defaults a user relies on (loopback binding, where data lives) and the error taxonomy."""

from __future__ import annotations

from pathlib import Path

import pytest

from forgeml.client.http import default_url
from forgeml.core.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    SpecError,
    SystemError,
    UnavailableError,
    UserError,
    error_from_payload,
)
from forgeml.settings import Settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("FORGEML_HOST", "FORGEML_PORT", "FORGEML_HOME", "FORGEML_STORE", "FORGEML_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FORGEML_ARTIFACTS", raising=False)
    return monkeypatch


def test_the_server_binds_loopback_by_default(clean_env: pytest.MonkeyPatch) -> None:
    settings = Settings()
    assert settings.host == "127.0.0.1"
    assert settings.port == 8080


def test_the_bind_address_is_only_changed_when_asked(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("FORGEML_HOST", "0.0.0.0")
    assert Settings().host == "0.0.0.0"


def test_the_workspace_lives_under_forgeml_home(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings().home == Path.home() / ".forgeml"
    clean_env.setenv("FORGEML_HOME", str(tmp_path))
    settings = Settings()
    assert settings.store_url == f"sqlite:///{tmp_path.resolve() / 'forgeml.db'}"
    assert settings.artifacts_url == str(tmp_path.resolve() / "artifacts")


def test_clients_find_the_server_through_forgeml_url(clean_env: pytest.MonkeyPatch) -> None:
    assert default_url() == "http://127.0.0.1:8080"
    clean_env.setenv("FORGEML_URL", "http://10.0.0.5:9000/")
    assert default_url() == "http://10.0.0.5:9000"


@pytest.mark.parametrize(
    ("cls", "status"),
    [
        (SpecError, 422),
        (NotFoundError, 404),
        (ConflictError, 409),
        (ForbiddenError, 403),
        (UnavailableError, 503),
    ],
)
def test_errors_survive_the_wire(cls: type, status: int) -> None:
    err = cls("what went wrong")
    assert err.status_code == status
    again = error_from_payload(status, {"code": err.code, "message": str(err)})
    assert type(again) is cls
    assert str(again) == "what went wrong"


def test_a_spec_error_keeps_file_field_and_line_across_the_wire() -> None:
    err = SpecError("expected a number.", file="job.yml", field="jobs.train.inputs.lr", line=7)
    assert str(err) == "job.yml:7, field 'jobs.train.inputs.lr': expected a number."
    again = error_from_payload(422, {"code": err.code, "message": str(err), "details": err.details})
    assert isinstance(again, SpecError)
    assert (again.file, again.field, again.line) == ("job.yml", "jobs.train.inputs.lr", 7)


def test_unknown_codes_fall_back_on_the_status() -> None:
    assert isinstance(error_from_payload(404, {"code": "weird"}), NotFoundError)
    assert isinstance(error_from_payload(418, {}), UserError)
    assert isinstance(error_from_payload(502, {}), SystemError)
