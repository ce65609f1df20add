"""The metadata store: tables, migrations and repositories over SQLAlchemy 2."""

from forgeml.store.db import Database, normalize_url

__all__ = ["Database", "normalize_url"]
