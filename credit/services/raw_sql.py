"""Statements of the check hot path compiled once per dialect and run on the driver's own cursor.

SQLAlchemy builds and types them (the SQL text, the bind and result conversions of each column's type
for that dialect: dates as SQLite stores them, JSON, enums), but at run time a statement is one
`cursor.execute` with its parameters converted: no execution context, no cache key, no cursor metadata
per call. On the hot path that layer cost more than the database (issue 10: 0.2 ms of SQLAlchemy per
statement against 10-30 µs of SQLite). Everything else in the app uses SQLAlchemy as usual; these
statements run inside the transactions of the SQLAlchemy `Connection` they are given (its driver
connection), so they commit and roll back with it."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Dialect
from sqlalchemy.dialects import registry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import ClauseElement


def _compile_dialect(dialect: Dialect) -> Dialect:
    """The dialect to render with: SQLite's driver takes `:name` placeholders with a mapping (its default
    `?` would need the parameters in order); psycopg's `%(name)s` already does."""
    if dialect.name == "sqlite":
        return registry.load("sqlite")(paramstyle="named")
    return dialect


class RawStatement:
    """One statement as the driver runs it: its SQL, the conversion of each named parameter, the constant
    parameters SQLAlchemy rendered (values of the statement itself), and the conversion of each result
    column into what SQLAlchemy would have returned."""

    def __init__(self, statement: ClauseElement, dialect: Dialect, params: Iterable[str]) -> None:
        compiled = statement.compile(dialect=_compile_dialect(dialect), compile_kwargs={"render_postcompile": True})
        self.sql = str(compiled)
        self.params = tuple(params)
        self._binds: dict[str, Callable[[Any], Any] | None] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect) for name, bind in compiled.binds.items()
        }
        self._constants = {
            name: self._convert(name, value) for name, value in compiled.params.items() if name not in self.params
        }
        columns = getattr(statement, "selected_columns", ())
        self._results = tuple(column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns)
        self._convert_results = any(self._results)
        self._row = namedtuple("Row", [column.key for column in columns], rename=True) if columns else None  # type: ignore[misc]

    def _convert(self, name: str, value: Any) -> Any:
        process = self._binds.get(name)
        return process(value) if process is not None else value

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        bound = dict(self._constants)
        for name in self.params:
            bound[name] = self._convert(name, values[name])
        return bound

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> list[Any]:
        """Run it once on the connection's driver cursor; the rows (named tuples, converted) it returns."""
        with _cursor(conn, self.sql) as cursor:
            cursor.execute(self.sql, self.bind(values))
            return self._rows(cursor.fetchall()) if cursor.description is not None else []

    def execute_many(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run it for every row (an INSERT of many rows)."""
        with _cursor(conn, self.sql) as cursor:
            cursor.executemany(self.sql, [self.bind(row) for row in rows])

    def _rows(self, raw: list[tuple]) -> list[Any]:
        if self._row is None:
            return raw
        make = self._row._make
        if not self._convert_results:
            return [make(row) for row in raw]
        results = self._results
        return [
            make(value if process is None else process(value) for process, value in zip(results, row, strict=True))
            for row in raw
        ]


@contextmanager
def _cursor(conn: Connection, sql: str) -> Iterator[Any]:
    """The connection's driver cursor; a driver error comes out as SQLAlchemy would raise it (the same
    `sqlalchemy.exc` class, `connection_invalidated` set and the connection invalidated when the server
    is gone, and every pooled connection replaced), so callers handle one kind of error."""
    dbapi_conn = conn.connection.dbapi_connection
    cursor = dbapi_conn.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    except conn.dialect.loaded_dbapi.Error as exc:
        gone = conn.dialect.is_disconnect(exc, dbapi_conn, cursor)
        if gone:
            conn.invalidate(exc)
            conn.engine.dispose(close=False)  # the other pooled connections are as dead: start afresh
        raise DBAPIError.instance(
            sql, None, exc, conn.dialect.loaded_dbapi.Error, connection_invalidated=gone, dialect=conn.dialect
        ) from exc
    finally:
        if not conn.invalidated:
            cursor.close()


class RawStatements:
    """Raw statements built on first use, one per (name, dialect): `get(name, dialect, build)`."""

    def __init__(self) -> None:
        self._built: dict[tuple[str, str], RawStatement] = {}

    def get(
        self, name: str, dialect: Dialect, build: Callable[[], tuple[ClauseElement, Iterable[str]]]
    ) -> RawStatement:
        key = (name, dialect.name)
        found = self._built.get(key)
        if found is None:
            statement, params = build()
            found = self._built[key] = RawStatement(statement, dialect, params)
        return found
