"""`client.data`, `client.models`, `client.environments`, `client.components`.

Each `create_or_update` uploads the entity's local files (relative to the YAML's folder) and posts
the document; the server applies every rule and answers with the stored version.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Generic, TypeVar

from forgeml.client.http import Http
from forgeml.client.upload import Uploader
from forgeml.core.content import is_local_path
from forgeml.core.errors import SpecError
from forgeml.core.specs import (
    CommandComponent,
    Data,
    Environment,
    Model,
    VersionedAsset,
    component_model,
)
from forgeml.core.specs.yamlio import load_yaml_file
from forgeml.schemas import AssetContainer

A = TypeVar("A", bound=VersionedAsset)


def _local(base: Path, value: str) -> Path | None:
    return (base / value).resolve() if is_local_path(value) else None


class AssetOperations(Generic[A]):
    """Operations on one asset kind, shaped like azure-ai-ml's `*Operations` classes."""

    def __init__(self, http: Http, kind: str, model: type[A]) -> None:
        self._http = http
        self._kind = kind
        self._model = model
        self._uploader = Uploader(http)

    # ------------------------------------------------------------------ helpers
    def _entity(self, data: dict[str, Any]) -> A:
        model = component_model(data) if self._kind == "components" else self._model
        return model.model_validate(data)  # type: ignore[return-value]

    def _inline_environment(self, env: Environment, base: Path, field: str) -> dict[str, Any]:
        body = env.to_wire()
        if isinstance(env.conda_file, str):
            conda_path = _local(base, env.conda_file)
            if conda_path is None:
                raise SpecError(
                    "'conda_file' must be a local file or an inline mapping.",
                    field=f"{field}conda_file",
                )
            if not conda_path.is_file():
                raise SpecError(
                    f"the conda file {conda_path} does not exist.", field=f"{field}conda_file"
                )
            conda, _ = load_yaml_file(conda_path)
            body["conda_file"] = conda
        if env.build is not None:
            build = _local(base, env.build.path)
            if build is not None:
                body["build"]["path"] = self._uploader.upload_path(
                    build, field=f"{field}build.path"
                )
        return body

    def _prepare(self, entity: A) -> dict[str, Any]:
        base = entity.base_path
        body = entity.to_wire()
        if isinstance(entity, Model):
            local = _local(base, entity.path)
            if local is not None:
                # a model keeps its folder's name, as under Azure ML's AZUREML_MODEL_DIR
                body["path"] = self._uploader.upload_named(local, field="path")
        elif isinstance(entity, Data):
            local = _local(base, entity.path)
            if local is not None:
                body["path"] = self._uploader.upload_path(local, field="path")
        elif isinstance(entity, Environment):
            body = self._inline_environment(entity, base, "")
        elif isinstance(entity, CommandComponent):
            if entity.code is not None:
                code = _local(base, entity.code)
                if code is not None:
                    includes = [(base / p).resolve() for p in entity.additional_includes or []]
                    body["code"] = self._uploader.upload_path(
                        code, field="code", honour_ignore=True, includes=includes
                    )
            if isinstance(entity.environment, Environment):
                body["environment"] = self._inline_environment(
                    entity.environment, base, "environment."
                )
        return body

    # --------------------------------------------------------------- operations
    def create_or_update(self, entity: A) -> A:
        """Create a version (the next number if `version` is unset); same content is a no-op."""
        if not isinstance(entity, VersionedAsset):
            raise TypeError(f"expected a {self._model.__name__}, got {type(entity).__name__}")
        try:
            body = self._prepare(entity)
            return self._entity(self._http.json("POST", f"/{self._kind}", json=body))
        except SpecError as exc:
            raise exc.in_file(entity.source) from None

    def get(self, name: str, version: str | None = None, label: str | None = None) -> A:
        if version is not None:
            return self._entity(self._http.json("GET", f"/{self._kind}/{name}/versions/{version}"))
        return self._entity(
            self._http.json("GET", f"/{self._kind}/{name}/labels/{label or 'latest'}")
        )

    def resolve(self, reference: str) -> A:
        """Resolve any reference form (`azureml:n:v`, `n@latest`, registry URIs) to a version."""
        return self._entity(
            self._http.json("GET", f"/{self._kind}/resolve", params={"ref": reference})
        )

    def list(
        self,
        name: str | None = None,
        *,
        include_archived: bool = False,
        max_results: int | None = None,
    ) -> Iterator[Any]:
        """Versions of `name`, newest first; without a name, one summary per asset name."""
        path = f"/{self._kind}/{name}/versions" if name else f"/{self._kind}"
        token: str | None = None
        seen = 0
        while True:
            params: dict[str, Any] = {"include_archived": include_archived, "limit": 100}
            if token:
                params["page_token"] = token
            page = self._http.json("GET", path, params=params)
            for item in page["items"]:
                yield self._entity(item) if name else AssetContainer.model_validate(item)
                seen += 1
                if max_results is not None and seen >= max_results:
                    return
            token = page.get("next_token")
            if not token:
                return

    def archive(self, name: str, version: str | None = None) -> None:
        params = {"version": version} if version else {}
        self._http.json("POST", f"/{self._kind}/{name}/archive", params=params)

    def restore(self, name: str, version: str | None = None) -> None:
        params = {"version": version} if version else {}
        self._http.json("POST", f"/{self._kind}/{name}/restore", params=params)
