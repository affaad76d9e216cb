"""Migrations: empty database to head on SQLite and PostgreSQL (whichever the suite runs on), the schema
they build matches the models exactly, and they run down and up again."""

from __future__ import annotations

import uuid

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from credit.db import make_engine
from credit.migrate import alembic_config, current_revision, upgrade_to_head
from credit.models.firm import SEARCH_INDEX_OBJECTS
from tests.conftest import PG_URL, create_pg_database


def empty_database(tmp_path) -> str:
    if PG_URL:
        return create_pg_database(PG_URL, f"credit_mig_{uuid.uuid4().hex[:8]}")
    return f"sqlite:///{tmp_path / 'empty.db'}"


def _modelled(obj, name, type_, reflected, compare_to) -> bool:
    """Leave out the search index's own objects, which the models do not describe (migration 0009)."""
    return name not in SEARCH_INDEX_OBJECTS


def test_empty_to_head_matches_the_models(tmp_path):
    engine = make_engine(empty_database(tmp_path))
    try:
        assert current_revision(engine) is None
        head = upgrade_to_head(engine)
        assert head is not None
        assert {"firm", "users", "audit_log"} <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": _modelled})
            diff = compare_metadata(context, SQLModel.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        assert upgrade_to_head(engine) == head  # idempotent
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(tmp_path):
    engine = make_engine(empty_database(tmp_path))
    try:
        upgrade_to_head(engine)
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade_to_head(engine)
        assert "audit_log" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_constraint_names_follow_the_convention(engine):
    inspector = inspect(engine)
    assert inspector.get_pk_constraint("firm")["name"] in ("pk_firm", None)  # SQLite does not keep PK names
    assert any(ix["name"] == "ix_firm_uscc" and ix["unique"] for ix in inspector.get_indexes("firm"))
