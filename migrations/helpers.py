"""Shared DDL for migrations: database-level guards that hold whatever client writes."""

from alembic import op


def refuse(table: str, verbs: tuple[str, ...], message: str) -> None:
    """Make the database itself refuse `verbs` (UPDATE, DELETE) on `table`, on SQLite and PostgreSQL."""
    name = f"{table}_refuse_{'_'.join(v.lower() for v in verbs)}"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger AS $$ "
            f"BEGIN RAISE EXCEPTION '{message}'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            f"CREATE TRIGGER {name} BEFORE {' OR '.join(verbs)} ON {table} FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    else:
        for verb in verbs:
            op.execute(
                f"CREATE TRIGGER {name}_{verb.lower()} BEFORE {verb} ON {table} BEGIN SELECT RAISE(ABORT, '{message}'); END"
            )


def drop_refuse(table: str, verbs: tuple[str, ...]) -> None:
    name = f"{table}_refuse_{'_'.join(v.lower() for v in verbs)}"
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        op.execute(f"DROP FUNCTION IF EXISTS {name}()")
    else:
        for verb in verbs:
            op.execute(f"DROP TRIGGER IF EXISTS {name}_{verb.lower()}")


def append_only(table: str) -> None:
    """Refuse UPDATE and DELETE on `table`."""
    refuse(table, ("UPDATE", "DELETE"), f"{table} is append-only")


def drop_append_only(table: str) -> None:
    drop_refuse(table, ("UPDATE", "DELETE"))
