"""`column IN (...)` for lists of thousands of values, as each database takes them best.

PostgreSQL gets one array parameter (`column = ANY(:values)`): a statement with 10,000
placeholders cost psycopg and the server a third of a second to parse and plan, the array
form a thirtieth. SQLite keeps the plain list, which it reads quickly (callers keep each list
under its limit on bound parameters).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql


def among(connection: sa.Connection, column: sa.ColumnElement[Any], values: Collection[Any]) -> sa.ColumnElement[bool]:
    if connection.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
    return column.in_(values)


def among_parameter(column: sa.ColumnElement[Any], name: str, postgres: bool) -> sa.ColumnElement[bool]:
    """`among` with the values left to the parameter `name`, for a statement built once."""
    if postgres:
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    return column.in_(sa.bindparam(name, expanding=True))
