"""Grade history for the supervision dashboard (issue 12): one row per change of a firm's score or grade,
seeded from the stored assessments.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('grade_history',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_grade_history_firm_id_firm')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_grade_history'))
    )
    with op.batch_alter_table('grade_history', schema=None) as batch_op:
        batch_op.create_index('ix_grade_history_as_of', ['as_of'], unique=False)
        batch_op.create_index('ix_grade_history_firm_as_of', ['firm_id', 'as_of', 'id'], unique=False)
    # The history starts with what is stored: each firm's latest assessment is its first row.
    op.execute(
        "INSERT INTO grade_history (firm_id, as_of, score, grade, rule_set_version) "
        "SELECT firm_id, as_of, score, grade, rule_set_version FROM assessment ORDER BY firm_id"
    )


def downgrade() -> None:
    with op.batch_alter_table('grade_history', schema=None) as batch_op:
        batch_op.drop_index('ix_grade_history_firm_as_of')
        batch_op.drop_index('ix_grade_history_as_of')
    op.drop_table('grade_history')
