"""双随机 supervision plans (issue 12): the inspector roster, plans and the firms they chose, append-only.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOC = sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    from migrations.helpers import append_only

    op.create_table('inspector',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=30), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('unit', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('updated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inspector'))
    )
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inspector_code'), ['code'], unique=True)

    op.create_table('supervision_plan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('seed', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('industry', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('rates', JSON_DOC, nullable=False),
    sa.Column('inspectors_per_firm', sa.Integer(), nullable=False),
    sa.Column('grades', JSON_DOC, nullable=False),
    sa.Column('firm_count', sa.Integer(), nullable=False),
    sa.Column('firms_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('roster_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('history_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('audit_entry_id', sa.Integer(), nullable=True),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_supervision_plan'))
    )
    with op.batch_alter_table('supervision_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_supervision_plan_seed'), ['seed'], unique=False)

    op.create_table('plan_firm',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('industry', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('inspectors', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_plan_firm_firm_id_firm')),
    sa.ForeignKeyConstraint(['plan_id'], ['supervision_plan.id'], name=op.f('fk_plan_firm_plan_id_supervision_plan')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_plan_firm')),
    sa.UniqueConstraint('plan_id', 'position', name='uq_plan_firm_plan_id')
    )
    with op.batch_alter_table('plan_firm', schema=None) as batch_op:
        batch_op.create_index('ix_plan_firm_firm_id_plan_id', ['firm_id', 'plan_id'], unique=False)

    append_only('supervision_plan')
    append_only('plan_firm')


def downgrade() -> None:
    from migrations.helpers import drop_append_only

    drop_append_only('plan_firm')
    drop_append_only('supervision_plan')
    with op.batch_alter_table('plan_firm', schema=None) as batch_op:
        batch_op.drop_index('ix_plan_firm_firm_id_plan_id')
    op.drop_table('plan_firm')
    with op.batch_alter_table('supervision_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_supervision_plan_seed'))
    op.drop_table('supervision_plan')
    with op.batch_alter_table('inspector', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inspector_code'))
    op.drop_table('inspector')
