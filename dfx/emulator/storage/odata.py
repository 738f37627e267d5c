"""OData filter literals for Table queries (quoted here because the SDK's ``@param`` splits on spaces)."""

from __future__ import annotations

from datetime import datetime

from dfx.model.encoding import to_utc


def string(value: str) -> str:
    """A string literal: ``'it''s'``."""
    return "'" + value.replace("'", "''") + "'"


def date_time(value: datetime) -> str:
    """A DateTime literal with seven fraction digits: ``datetime'2024-05-01T10:00:00.1234560Z'``."""
    return "datetime'" + to_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z'"


def eq(column: str, value: str) -> str:
    return f"{column} eq {string(value)}"
