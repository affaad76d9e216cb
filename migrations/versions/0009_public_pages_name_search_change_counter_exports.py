"""Public pages at scale: the firm-name search index (SQLite FTS5 trigram table kept by triggers;
PostgreSQL pg_trgm GIN and a code-point-ordered name index), the change counter of the current lists
(raised by triggers on listing and firm), stored publication exports, indexes for the lists.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:55:50.272094
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Raise the counter `lists` (credit.models.version) as an upsert, so it works on an emptied table too.
_SQLITE_BUMP = (
    "INSERT INTO change_counter (name, version) VALUES ('lists', 1) "
    "ON CONFLICT (name) DO UPDATE SET version = change_counter.version + 1"
)
_SQLITE_COUNTER_TRIGGERS = {
    "change_counter_lists_listing_insert": "AFTER INSERT ON listing",
    "change_counter_lists_listing_update": "AFTER UPDATE ON listing",
    "change_counter_lists_listing_delete": "AFTER DELETE ON listing",
    "change_counter_lists_firm_update": "AFTER UPDATE OF uscc, name, region ON firm",
}


def upgrade() -> None:
    op.create_table(
        "change_counter",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("txid", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_change_counter")),
    )
    op.create_table(
        "publication_export",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("format", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["publication_id"], ["publication.id"], name=op.f("fk_publication_export_publication_id_publication")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publication_export")),
        sa.UniqueConstraint("publication_id", "format", name="uq_publication_export_publication_id"),
    )
    # Plain CREATE INDEX, not batch mode: on SQLite a batch would copy the tables and lose their triggers
    # (publication_entry is append-only by trigger, migration 0004).
    op.create_index(op.f("ix_listing_end_code"), "listing", ["end_code"], unique=False)
    op.create_index("ix_listing_kind_listed_from", "listing", ["kind", "listed_from"], unique=False)
    op.create_index(op.f("ix_publication_entry_listing_id"), "publication_entry", ["listing_id"], unique=False)
    op.execute("INSERT INTO change_counter (name, version) VALUES ('lists', 0)")

    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.execute("CREATE INDEX ix_firm_name_trgm ON firm USING gin (name gin_trgm_ops)")
        # Search results are ordered by name in code-point order on both databases (as SQLite's BINARY).
        op.execute('CREATE INDEX ix_firm_name_c ON firm (name COLLATE "C", id)')
        # Deferred to the commit and raised once per transaction: the counter row is locked only while
        # a transaction commits, so writers of listings never wait on one another for it mid-way.
        op.execute(
            "CREATE FUNCTION change_counter_lists() RETURNS trigger AS $$ BEGIN "
            "INSERT INTO change_counter (name, version, txid) VALUES ('lists', 1, txid_current()) "
            "ON CONFLICT (name) DO UPDATE SET version = change_counter.version + 1, txid = EXCLUDED.txid "
            "WHERE change_counter.txid IS DISTINCT FROM EXCLUDED.txid; "
            "RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE CONSTRAINT TRIGGER change_counter_lists_listing AFTER INSERT OR UPDATE OR DELETE ON listing "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_counter_lists()"
        )
        op.execute(
            "CREATE CONSTRAINT TRIGGER change_counter_lists_firm AFTER UPDATE OF uscc, name, region ON firm "
            "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION change_counter_lists()"
        )
    else:
        # An external-content FTS5 table: the index only, the names stay in firm; triggers keep it in step.
        op.execute(
            "CREATE VIRTUAL TABLE firm_name_fts USING fts5("
            "name, content='firm', content_rowid='id', tokenize='trigram')"
        )
        op.execute(
            "CREATE TRIGGER firm_name_fts_insert AFTER INSERT ON firm BEGIN "
            "INSERT INTO firm_name_fts (rowid, name) VALUES (new.id, new.name); END"
        )
        op.execute(
            "CREATE TRIGGER firm_name_fts_delete AFTER DELETE ON firm BEGIN "
            "INSERT INTO firm_name_fts (firm_name_fts, rowid, name) VALUES ('delete', old.id, old.name); END"
        )
        op.execute(
            "CREATE TRIGGER firm_name_fts_update AFTER UPDATE OF name ON firm BEGIN "
            "INSERT INTO firm_name_fts (firm_name_fts, rowid, name) VALUES ('delete', old.id, old.name); "
            "INSERT INTO firm_name_fts (rowid, name) VALUES (new.id, new.name); END"
        )
        op.execute("INSERT INTO firm_name_fts (firm_name_fts) VALUES ('rebuild')")
        for name, when in _SQLITE_COUNTER_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {_SQLITE_BUMP}; END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS change_counter_lists_firm ON firm")
        op.execute("DROP TRIGGER IF EXISTS change_counter_lists_listing ON listing")
        op.execute("DROP FUNCTION IF EXISTS change_counter_lists()")
        op.execute("DROP INDEX IF EXISTS ix_firm_name_c")
        op.execute("DROP INDEX IF EXISTS ix_firm_name_trgm")
    else:
        for name in _SQLITE_COUNTER_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        for verb in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS firm_name_fts_{verb}")
        op.execute("DROP TABLE IF EXISTS firm_name_fts")
    op.drop_index(op.f("ix_publication_entry_listing_id"), table_name="publication_entry")
    op.drop_index("ix_listing_kind_listed_from", table_name="listing")
    op.drop_index(op.f("ix_listing_end_code"), table_name="listing")
    op.drop_table("publication_export")
    op.drop_table("change_counter")
