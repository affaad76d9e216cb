"""Credit events, import batches, departments and their API keys. Events are never deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 08:26:17.589550
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations.helpers import drop_refuse, refuse

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('department',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_department'))
    )
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_department_name'), ['name'], unique=True)

    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('secret_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('scopes', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('last_used_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], name=op.f('fk_api_key_department_id_department')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key'))
    )
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_key_department_id'), ['department_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_api_key_prefix'), ['prefix'], unique=True)

    op.create_table('import_batch',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('sha256', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('skipped', sa.Integer(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_import_batch_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batch'))
    )
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batch_sha256'), ['sha256'], unique=False)

    op.create_table('credit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('event_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('occurred_on', sa.Date(), nullable=False),
    sa.Column('document_no', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('authority', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('severity', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=True),
    sa.Column('amount', sa.Numeric(precision=16, scale=2), nullable=True),
    sa.Column('product', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('valid_until', sa.Date(), nullable=True),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('person_name', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('certificate_no', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('rectifies_id', sa.Integer(), nullable=True),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('correction_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('import_batch_id', sa.Integer(), nullable=True),
    sa.Column('api_key_id', sa.Integer(), nullable=True),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('reviewed_by_id', sa.Integer(), nullable=True),
    sa.Column('reviewed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('review_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('revoked_by_id', sa.Integer(), nullable=True),
    sa.Column('revoked_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('revoke_reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['api_key_id'], ['api_key.id'], name=op.f('fk_credit_event_api_key_id_api_key')),
    sa.ForeignKeyConstraint(['corrects_id'], ['credit_event.id'], name=op.f('fk_credit_event_corrects_id_credit_event')),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_credit_event_firm_id_firm')),
    sa.ForeignKeyConstraint(['import_batch_id'], ['import_batch.id'], name=op.f('fk_credit_event_import_batch_id_import_batch')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_credit_event_recorded_by_id_users')),
    sa.ForeignKeyConstraint(['rectifies_id'], ['credit_event.id'], name=op.f('fk_credit_event_rectifies_id_credit_event')),
    sa.ForeignKeyConstraint(['reviewed_by_id'], ['users.id'], name=op.f('fk_credit_event_reviewed_by_id_users')),
    sa.ForeignKeyConstraint(['revoked_by_id'], ['users.id'], name=op.f('fk_credit_event_revoked_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_event'))
    )
    with op.batch_alter_table('credit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_event_event_type'), ['event_type'], unique=False)
        batch_op.create_index('ix_credit_event_firm_occurred', ['firm_id', 'occurred_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_event_import_batch_id'), ['import_batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_event_status'), ['status'], unique=False)
        batch_op.create_index('uq_credit_event_effective_key', ['firm_id', 'event_type', 'document_no'], unique=True, sqlite_where=sa.text("status = 'effective'"), postgresql_where=sa.text("status = 'effective'"))
        batch_op.create_index('uq_credit_event_natural_key', ['firm_id', 'event_type', 'document_no'], unique=True, sqlite_where=sa.text('corrects_id IS NULL'), postgresql_where=sa.text('corrects_id IS NULL'))
        batch_op.create_index('uq_credit_event_pending_correction', ['corrects_id'], unique=True, sqlite_where=sa.text("status = 'pending' AND corrects_id IS NOT NULL"), postgresql_where=sa.text("status = 'pending' AND corrects_id IS NOT NULL"))
    # Nothing lost: a credit event is revoked with a reason, never deleted.
    refuse("credit_event", ("DELETE",), "credit events are never deleted: revoke them")



def downgrade() -> None:
    drop_refuse("credit_event", ("DELETE",))
    with op.batch_alter_table('credit_event', schema=None) as batch_op:
        batch_op.drop_index('uq_credit_event_pending_correction', sqlite_where=sa.text("status = 'pending' AND corrects_id IS NOT NULL"), postgresql_where=sa.text("status = 'pending' AND corrects_id IS NOT NULL"))
        batch_op.drop_index('uq_credit_event_natural_key', sqlite_where=sa.text('corrects_id IS NULL'), postgresql_where=sa.text('corrects_id IS NULL'))
        batch_op.drop_index('uq_credit_event_effective_key', sqlite_where=sa.text("status = 'effective'"), postgresql_where=sa.text("status = 'effective'"))
        batch_op.drop_index(batch_op.f('ix_credit_event_status'))
        batch_op.drop_index(batch_op.f('ix_credit_event_import_batch_id'))
        batch_op.drop_index('ix_credit_event_firm_occurred')
        batch_op.drop_index(batch_op.f('ix_credit_event_event_type'))

    op.drop_table('credit_event')
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batch_sha256'))

    op.drop_table('import_batch')
    with op.batch_alter_table('api_key', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_key_prefix'))
        batch_op.drop_index(batch_op.f('ix_api_key_department_id'))

    op.drop_table('api_key')
    with op.batch_alter_table('department', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_department_name'))

    op.drop_table('department')
