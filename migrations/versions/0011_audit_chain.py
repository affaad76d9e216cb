"""Tamper evidence: each audit entry carries the hash of the one before it and its own hash over a
canonical serialisation (credit.models.audit.entry_hash). Backfills the chain over the existing entries
in id order.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = ('at', 'actor', 'actor_user_id', 'source', 'address', 'action', 'entity', 'entity_id', 'before', 'after', 'note')


def upgrade() -> None:
    # Plain ADD COLUMN (not batch mode, which would rebuild the table and lose its append-only triggers).
    op.add_column('audit_log', sa.Column('prev_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    op.add_column('audit_log', sa.Column('hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True))
    _backfill()


def _backfill() -> None:
    from credit.models.audit import GENESIS, AuditEntry, entry_hash
    from migrations.helpers import append_only, drop_append_only

    bind = op.get_bind()
    table = AuditEntry.__table__
    rows = bind.execute(sa.select(table.c.id, *(table.c[name] for name in COLUMNS)).order_by(table.c.id)).mappings()
    head, updates = GENESIS, []
    for row in rows:
        values = dict(row)
        values['prev_hash'] = head
        head = entry_hash(values)
        updates.append({'entry_id': values['id'], 'prev_hash': values['prev_hash'], 'hash': head})
    if not updates:
        return
    # The log refuses UPDATE: lift the guard for this one backfill, inside the migration's transaction.
    drop_append_only('audit_log')
    bind.execute(
        table.update().where(table.c.id == sa.bindparam('entry_id')).values(
            prev_hash=sa.bindparam('prev_hash'), hash=sa.bindparam('hash')
        ),
        updates,
    )
    append_only('audit_log')


def downgrade() -> None:
    op.drop_column('audit_log', 'hash')
    op.drop_column('audit_log', 'prev_hash')
