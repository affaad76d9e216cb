"""Publication seals (digest of the canonical snapshot, audit anchor, Ed25519 signature), append-only; the
configuration version bumped by signing-key changes, so web workers pick up a rotated key at once.

Existing publications are sealed here (`backfilled`): the digest of their stored snapshot and, as their
anchor, the newest audit entry before the publication's own. They carry no signature: one made now
would vouch only for what the database says today.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As migration 0008: which signing-key changes empty the per-process caches (the signer among them).
WATCHED_COLUMNS = ("key_id", "public_key", "retired_on")
BUMP = (
    "INSERT INTO config_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = config_version.version + 1"
)


def upgrade() -> None:
    from migrations.helpers import append_only

    op.create_table('publication_seal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('audit_entry_id', sa.Integer(), nullable=True),
    sa.Column('audit_head', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('key_id', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('signature', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    sa.Column('backfilled', sa.Boolean(), nullable=False),
    sa.Column('sealed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_publication_seal_publication_id_publication')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_seal')),
    sa.UniqueConstraint('publication_id', name=op.f('uq_publication_seal_publication_id'))
    )
    _backfill()
    append_only('publication_seal')

    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            f"CREATE TRIGGER signing_key_config_version AFTER INSERT OR DELETE OR UPDATE OF "
            f"{', '.join(WATCHED_COLUMNS)} ON signing_key FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump()"
        )
    else:
        for verb in ("INSERT", "DELETE", f"UPDATE OF {', '.join(WATCHED_COLUMNS)}"):
            name = f"signing_key_config_version_{verb.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {verb} ON signing_key BEGIN {BUMP}; END")


def _backfill() -> None:
    from credit.models.audit import GENESIS
    from credit.models.base import utcnow
    from credit.services.publications.seals import stored_digest

    bind = op.get_bind()
    publications = bind.execute(sa.text("SELECT id, published_at FROM publication ORDER BY id")).all()
    rows = []
    for publication_id, published_at in publications:
        # The publication's own first audit entry (the ORM hook's "create"); the anchor is the one before.
        first = bind.execute(
            sa.text(
                "SELECT MIN(id) FROM audit_log WHERE entity = 'publication' AND action = 'create' "
                "AND entity_id = :id"
            ),
            {"id": str(publication_id)},
        ).scalar()
        if first is not None:
            before = bind.execute(
                sa.text("SELECT id, hash FROM audit_log WHERE id < :first ORDER BY id DESC LIMIT 1"), {"first": first}
            ).first()
        else:
            before = bind.execute(
                sa.text("SELECT id, hash FROM audit_log WHERE at <= :at ORDER BY id DESC LIMIT 1"), {"at": published_at}
            ).first()
        audit_entry, audit_head = (before[0], before[1] or GENESIS) if before is not None else (None, GENESIS)
        rows.append(
            {
                "publication_id": publication_id,
                "digest": stored_digest(bind, publication_id, audit_entry=audit_entry, audit_head=audit_head),
                "audit_entry_id": audit_entry,
                "audit_head": audit_head,
                "backfilled": True,
                "sealed_at": utcnow(),
            }
        )
    if rows:
        table = sa.table(
            'publication_seal',
            *(sa.column(name) for name in ('publication_id', 'digest', 'audit_entry_id', 'audit_head', 'backfilled')),
            sa.column('sealed_at', sqlmodel.sql.sqltypes.UTCDateTime()),
        )
        bind.execute(table.insert(), rows)


def downgrade() -> None:
    from migrations.helpers import drop_append_only

    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS signing_key_config_version ON signing_key")
    else:
        for verb in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS signing_key_config_version_{verb}")
    drop_append_only('publication_seal')
    op.drop_table('publication_seal')
