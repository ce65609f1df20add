"""Alembic migrations of the metadata store, one history valid on SQLite and PostgreSQL."""
