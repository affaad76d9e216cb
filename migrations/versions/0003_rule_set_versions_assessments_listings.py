"""Rule-set versions (at most one active), assessments and list entries (at most one open per firm and list).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 08:48:23.158432
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('rule_set_version',
    sa.Column('version', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('document', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('source_text', sqlmodel.sql.sqltypes.AutoString(), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('activated_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('version', name=op.f('pk_rule_set_version'))
    )
    with op.batch_alter_table('rule_set_version', schema=None) as batch_op:
        batch_op.create_index('uq_rule_set_version_active', ['active'], unique=True, sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.create_table('assessment',
    sa.Column('firm_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('grade', sqlmodel.sql.sqltypes.AutoString(length=1), nullable=False),
    sa.Column('triggers', sqlmodel.sql.sqltypes.AutoString(length=400), nullable=False),
    sa.Column('red_eligible', sa.Boolean(), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('computed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_assessment_firm_id_firm')),
    sa.PrimaryKeyConstraint('firm_id', name=op.f('pk_assessment'))
    )
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_assessment_grade'), ['grade'], unique=False)

    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('basis', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('covers_event_id', sa.Integer(), nullable=True),
    sa.Column('proposed_on', sa.Date(), nullable=True),
    sa.Column('deadline', sa.Date(), nullable=True),
    sa.Column('waived', sa.Boolean(), nullable=False),
    sa.Column('listed_from', sa.Date(), nullable=True),
    sa.Column('listed_until', sa.Date(), nullable=True),
    sa.Column('decided_on', sa.Date(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decision_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('ended_on', sa.Date(), nullable=True),
    sa.Column('end_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_listing_decided_by_id_users')),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_listing_firm_id_firm')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing'))
    )
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_firm_id'), ['firm_id'], unique=False)
        batch_op.create_index('ix_listing_kind_status', ['kind', 'status'], unique=False)
        batch_op.create_index('uq_listing_open', ['firm_id', 'kind'], unique=True, sqlite_where=sa.text("status IN ('proposed', 'listed')"), postgresql_where=sa.text("status IN ('proposed', 'listed')"))



def downgrade() -> None:
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index('uq_listing_open', sqlite_where=sa.text("status IN ('proposed', 'listed')"), postgresql_where=sa.text("status IN ('proposed', 'listed')"))
        batch_op.drop_index('ix_listing_kind_status')
        batch_op.drop_index(batch_op.f('ix_listing_firm_id'))

    op.drop_table('listing')
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_assessment_grade'))

    op.drop_table('assessment')
    with op.batch_alter_table('rule_set_version', schema=None) as batch_op:
        batch_op.drop_index('uq_rule_set_version_active', sqlite_where=sa.text('active'), postgresql_where=sa.text('active'))

    op.drop_table('rule_set_version')
