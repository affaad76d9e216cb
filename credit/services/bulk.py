"""Writing many rows at database speed: PostgreSQL's COPY through psycopg, one executemany elsewhere.

For bulk paths only (imports, the demo): rows are dicts with the same keys, every column the table needs
given (COPY applies server defaults, not SQLAlchemy's Python-side ones); nothing is returned and no ORM
hook runs, so the caller audits the act."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert `rows` into `table` in the connection's transaction; returns how many."""
    if not rows:
        return 0
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        names = list(rows[0])
        columns = ", ".join(f'"{name}"' for name in names)  # names from our own tables, never from input
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:  # type: ignore[union-attr]
            for row in rows:
                copy.write_row([row[name] for name in names])
        return len(rows)
    connection.execute(insert(table), list(rows))
    return len(rows)
