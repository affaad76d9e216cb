"""The client's network address on audit entries: who wrote from where (ASVS 7.1), and the count of failed
log-ins per address and per name and address that throttles password guessing.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: SQLite's batch mode rebuilds the table and would lose the
    # append-only triggers of the audit log.
    op.add_column('audit_log', sa.Column('address', sqlmodel.sql.sqltypes.AutoString(length=45), nullable=True))
    op.create_index(op.f('ix_audit_log_address'), 'audit_log', ['address'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_audit_log_address'), table_name='audit_log')
    op.drop_column('audit_log', 'address')  # SQLite ≥ 3.35 drops a column in place, triggers kept
