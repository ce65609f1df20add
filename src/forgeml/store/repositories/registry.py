"""The MLflow registry's view of model assets: registered-model and model-version fields.

A registered model is the asset container (`kind = 'models'`) of that name and a model version
is one asset version; archived ones are invisible to MLflow. The `registry_*` tables add what
MLflow can change after the fact (model description and tags, aliases, a version's stage) and
where a version was registered from.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from forgeml.store.repositories.assets import AssetRecord, _record
from forgeml.store.repositories.common import aware
from forgeml.store.repositories.experiments import upsert
from forgeml.store.tables import AssetContainerRow, AssetVersionRow
from forgeml.store.tables_tracking import (
    RegistryAliasRow,
    RegistryModelRow,
    RegistryModelTagRow,
    RegistryVersionRow,
)

KIND = "models"


@dataclass(frozen=True)
class ModelMeta:
    name: str
    created_at: datetime
    updated_at: datetime
    description: str | None
    user_id: str | None
    creation_time: int | None
    last_updated_time: int | None


@dataclass(frozen=True)
class VersionMeta:
    source: str
    run_id: str | None
    run_link: str | None
    model_id: str | None
    stage: str
    user_id: str | None
    last_updated_time: int


class RegistryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -------------------------------------------------------------------- registered models
    def models(self, names: list[str] | None = None) -> list[ModelMeta]:
        """Visible registered models (non-archived model containers), with MLflow fields."""
        query = (
            select(
                AssetContainerRow.name,
                AssetContainerRow.created_at,
                AssetContainerRow.updated_at,
                RegistryModelRow.description,
                RegistryModelRow.user_id,
                RegistryModelRow.creation_time,
                RegistryModelRow.last_updated_time,
            )
            .outerjoin(RegistryModelRow, RegistryModelRow.name == AssetContainerRow.name)
            .where(AssetContainerRow.kind == KIND, AssetContainerRow.archived.is_(False))
        )
        if names is not None:
            query = query.where(AssetContainerRow.name.in_(names))
        return [
            ModelMeta(n, aware(c), aware(u), d, uid, ct, lt)
            for n, c, u, d, uid, ct, lt in self.session.execute(query)
        ]

    def container_state(self, name: str) -> bool | None:
        """None: no container; else whether it is archived."""
        row = self.session.get(AssetContainerRow, (KIND, name))
        return None if row is None else bool(row.archived)

    def put_model(
        self, name: str, *, description: str | None, user_id: str | None, now: int
    ) -> None:
        upsert(
            self.session,
            RegistryModelRow,
            [
                {
                    "name": name,
                    "description": description,
                    "user_id": user_id,
                    "creation_time": now,
                    "last_updated_time": now,
                }
            ],
            ["name"],
        )

    def touch_model(self, name: str, now: int, **values: Any) -> None:
        """Update MLflow fields of a model, creating its row for assets made outside MLflow."""
        result: Any = self.session.execute(
            update(RegistryModelRow)
            .where(RegistryModelRow.name == name)
            .values(last_updated_time=now, **values)
        )
        if result.rowcount == 0:
            container = self.session.get(AssetContainerRow, (KIND, name))
            created = int(aware(container.created_at).timestamp() * 1000) if container else now
            row = {"name": name, "description": None, "user_id": None, **values}
            upsert(
                self.session,
                RegistryModelRow,
                [{**row, "creation_time": created, "last_updated_time": now}],
                ["name"],
            )

    def forget_model(self, name: str) -> None:
        """Remove MLflow's fields of a deleted model and hide its versions."""
        for table in (RegistryModelTagRow, RegistryAliasRow, RegistryVersionRow, RegistryModelRow):
            self.session.execute(delete(table).where(table.name == name))
        self.session.execute(
            update(AssetVersionRow)
            .where(AssetVersionRow.kind == KIND, AssetVersionRow.name == name)
            .values(archived=True)
        )

    def model_tags(self, names: list[str]) -> dict[str, dict[str, str]]:
        out: dict[str, dict[str, str]] = defaultdict(dict)
        if names:
            for name, key, value in self.session.execute(
                select(
                    RegistryModelTagRow.name, RegistryModelTagRow.key, RegistryModelTagRow.value
                ).where(RegistryModelTagRow.name.in_(names))
            ):
                out[name][key] = value
        return out

    def set_model_tags(self, name: str, tags: dict[str, str]) -> None:
        rows = [{"name": name, "key": k, "value": v} for k, v in tags.items()]
        upsert(self.session, RegistryModelTagRow, rows, ["name", "key"])

    def delete_model_tag(self, name: str, key: str) -> int:
        result: Any = self.session.execute(
            delete(RegistryModelTagRow).where(
                RegistryModelTagRow.name == name, RegistryModelTagRow.key == key
            )
        )
        return int(result.rowcount)

    # ----------------------------------------------------------------------------- aliases
    def aliases(self, names: list[str]) -> dict[str, list[tuple[str, str]]]:
        out: dict[str, list[tuple[str, str]]] = defaultdict(list)
        if names:
            for name, alias, version in self.session.execute(
                select(RegistryAliasRow.name, RegistryAliasRow.alias, RegistryAliasRow.version)
                .where(RegistryAliasRow.name.in_(names))
                .order_by(RegistryAliasRow.alias)
            ):
                out[name].append((alias, version))
        return out

    def set_alias(self, name: str, alias: str, version: str) -> None:
        upsert(
            self.session,
            RegistryAliasRow,
            [{"name": name, "alias": alias, "version": version}],
            ["name", "alias"],
        )

    def delete_alias(self, name: str, alias: str, version: str | None = None) -> int:
        query = delete(RegistryAliasRow).where(RegistryAliasRow.name == name)
        if alias:
            query = query.where(RegistryAliasRow.alias == alias)
        if version is not None:
            query = query.where(RegistryAliasRow.version == version)
        result: Any = self.session.execute(query)
        return int(result.rowcount)

    # ---------------------------------------------------------------------------- versions
    def versions(self, names: list[str]) -> list[AssetRecord]:
        """Visible versions of visible models."""
        if not names:
            return []
        rows = self.session.scalars(
            select(AssetVersionRow)
            .join(
                AssetContainerRow,
                (AssetContainerRow.kind == AssetVersionRow.kind)
                & (AssetContainerRow.name == AssetVersionRow.name),
            )
            .where(
                AssetVersionRow.kind == KIND,
                AssetVersionRow.name.in_(names),
                AssetVersionRow.archived.is_(False),
                AssetContainerRow.archived.is_(False),
            )
        ).all()
        return [_record(r) for r in rows]

    def version(self, name: str, version: str) -> AssetRecord | None:
        found = [r for r in self.versions([name]) if r.version == version]
        return found[0] if found else None

    def version_meta(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], VersionMeta]:
        names = sorted({n for n, _ in keys})
        out: dict[tuple[str, str], VersionMeta] = {}
        if not names:
            return out
        wanted = set(keys)
        for row in self.session.scalars(
            select(RegistryVersionRow).where(RegistryVersionRow.name.in_(names))
        ):
            if (row.name, row.version) in wanted:
                out[(row.name, row.version)] = VersionMeta(
                    row.source,
                    row.run_id,
                    row.run_link,
                    row.model_id,
                    row.stage,
                    row.user_id,
                    row.last_updated_time,
                )
        return out

    def put_version_meta(self, name: str, version: str, meta: VersionMeta) -> None:
        upsert(
            self.session,
            RegistryVersionRow,
            [
                {
                    "name": name,
                    "version": version,
                    "source": meta.source,
                    "run_id": meta.run_id,
                    "run_link": meta.run_link,
                    "model_id": meta.model_id,
                    "stage": meta.stage,
                    "user_id": meta.user_id,
                    "last_updated_time": meta.last_updated_time,
                }
            ],
            ["name", "version"],
        )

    def archive_version(self, name: str, version: str) -> int:
        result: Any = self.session.execute(
            update(AssetVersionRow)
            .where(
                AssetVersionRow.kind == KIND,
                AssetVersionRow.name == name,
                AssetVersionRow.version == version,
            )
            .values(archived=True)
        )
        self.delete_alias(name, "", version)
        return int(result.rowcount)

    def unarchive_container(self, name: str) -> None:
        self.session.execute(
            update(AssetContainerRow)
            .where(AssetContainerRow.kind == KIND, AssetContainerRow.name == name)
            .values(archived=False)
        )
