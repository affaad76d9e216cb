"""Objections and credit-repair applications; publications, immutable once written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 09:08:58.431754
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from migrations.helpers import append_only, drop_append_only


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('publication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('period', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    sa.Column('rule_set_version', sa.Integer(), nullable=False),
    sa.Column('corrects_id', sa.Integer(), nullable=True),
    sa.Column('correction_note', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('red_count', sa.Integer(), nullable=False),
    sa.Column('black_count', sa.Integer(), nullable=False),
    sa.Column('published_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('published_by', sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
    sa.ForeignKeyConstraint(['corrects_id'], ['publication.id'], name=op.f('fk_publication_corrects_id_publication')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication'))
    )
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_number'), ['number'], unique=True)
        batch_op.create_index(batch_op.f('ix_publication_period'), ['period'], unique=False)

    op.create_table('publication_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('publication_id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=False),
    sa.Column('uscc', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('region', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.Column('industry', sqlmodel.sql.sqltypes.AutoString(length=3), nullable=False),
    sa.Column('reason', sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
    sa.Column('basis', sqlmodel.sql.sqltypes.AutoString(length=4000), nullable=False),
    sa.Column('listed_from', sa.Date(), nullable=False),
    sa.Column('listed_until', sa.Date(), nullable=True),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_publication_entry_listing_id_listing')),
    sa.ForeignKeyConstraint(['publication_id'], ['publication.id'], name=op.f('fk_publication_entry_publication_id_publication')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_publication_entry'))
    )
    with op.batch_alter_table('publication_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_publication_entry_publication_id'), ['publication_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_publication_entry_uscc'), ['uscc'], unique=False)

    op.create_table('petition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reference', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('firm_id', sa.Integer(), nullable=False),
    sa.Column('listing_id', sa.Integer(), nullable=True),
    sa.Column('event_id', sa.Integer(), nullable=True),
    sa.Column('applicant_name', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('applicant_contact', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('statement', sqlmodel.sql.sqltypes.AutoString(length=5000), nullable=False),
    sa.Column('filed_via', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('filed_by_id', sa.Integer(), nullable=True),
    sa.Column('client_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('filed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('penalty_performed', sa.Boolean(), nullable=False),
    sa.Column('rectified', sa.Boolean(), nullable=False),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
    sa.Column('decision_reason', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_petition_decided_by_id_users')),
    sa.ForeignKeyConstraint(['event_id'], ['credit_event.id'], name=op.f('fk_petition_event_id_credit_event')),
    sa.ForeignKeyConstraint(['filed_by_id'], ['users.id'], name=op.f('fk_petition_filed_by_id_users')),
    sa.ForeignKeyConstraint(['firm_id'], ['firm.id'], name=op.f('fk_petition_firm_id_firm')),
    sa.ForeignKeyConstraint(['listing_id'], ['listing.id'], name=op.f('fk_petition_listing_id_listing')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_petition'))
    )
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_petition_client_hash'), ['client_hash'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_event_id'), ['event_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_firm_id'), ['firm_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_listing_id'), ['listing_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_petition_reference'), ['reference'], unique=True)
        batch_op.create_index(batch_op.f('ix_petition_status'), ['status'], unique=False)
    # Publications are immutable: the database refuses to change or delete them.
    append_only("publication")
    append_only("publication_entry")


def downgrade() -> None:
    drop_append_only("publication_entry")
    drop_append_only("publication")
    with op.batch_alter_table('petition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_petition_status'))
        batch_op.drop_index(batch_op.f('ix_petition_reference'))
        batch_op.drop_index(batch_op.f('ix_petition_listing_id'))
        batch_op.drop_index(batch_op.f('ix_petition_kind'))
        batch_op.drop_index(batch_op.f('ix_petition_firm_id'))
        batch_op.drop_index(batch_op.f('ix_petition_event_id'))
        batch_op.drop_index(batch_op.f('ix_petition_client_hash'))

    op.drop_table('petition')
    with op.batch_alter_table('publication_entry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publication_entry_uscc'))
        batch_op.drop_index(batch_op.f('ix_publication_entry_publication_id'))

    op.drop_table('publication_entry')
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_publication_period'))
        batch_op.drop_index(batch_op.f('ix_publication_number'))

    op.drop_table('publication')
