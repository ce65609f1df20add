"""FORGEML_* settings: where the workspace keeps its data and where clients find it."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_URL = "http://127.0.0.1:8080"


class Settings(BaseSettings):
    """Server settings; each can be set as FORGEML_<NAME> or with a `forgeml up` flag."""

    model_config = SettingsConfigDict(env_prefix="FORGEML_", extra="ignore")

    home: Path = Field(default_factory=lambda: Path.home() / ".forgeml")
    store: str | None = None
    artifacts: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    #: the URL job runners call back; default http://<host>:<port> (loopback for 0.0.0.0)
    public_url: str | None = None
    #: keep a job runner process started ahead of the next job (faster submit-to-running)
    warm_runner: bool = True
    #: the key endpoint keys are encrypted with; default: `secret.key` in the home, made once
    secret_key: str | None = Field(default=None, repr=False)
    #: how often collected scoring data (a deployment's `data_collector`) is stored, in seconds
    collector_flush_s: float = 30.0

    @property
    def store_url(self) -> str:
        return self.store or f"sqlite:///{self.home.expanduser().resolve() / 'forgeml.db'}"

    @property
    def artifacts_url(self) -> str:
        return self.artifacts or str(self.home.expanduser().resolve() / "artifacts")
