"""Legal pilot codes (试点代码): USCCs that fail only a check character, accepted as exceptions an admin
records with a reason and a document basis (issue 11).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 13:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pilot_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('failed_rule', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('document_basis', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_pilot_code_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pilot_code'))
    )
    with op.batch_alter_table('pilot_code', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pilot_code_code'), ['code'], unique=True)


def downgrade() -> None:
    with op.batch_alter_table('pilot_code', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pilot_code_code'))
    op.drop_table('pilot_code')
