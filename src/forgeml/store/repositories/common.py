"""Helpers shared by the repositories."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every value stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
