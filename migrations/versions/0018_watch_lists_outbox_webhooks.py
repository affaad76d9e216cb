"""Watch lists, the change outbox and webhooks (issue 15): tables watch_entry, change_outbox,
webhook_subscription, webhook_delivery, webhook_attempt; triggers that write a listing's and a
publication's changes to the outbox in the same transaction, whichever path makes them (per firm or
set-based). On PostgreSQL the trigger takes the audit chain's advisory lock before the outbox id is drawn,
so ids are handed out in commit order (the lock is held until commit); SQLite has one writer.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# credit.models.audit.CHAIN_LOCK ("AUDITLOG"): the lock every audit append takes.
CHAIN_LOCK = 280603412820


def _listing_json(new: str, old: str | None, build: str) -> str:
    fields = {
        "listing_id": f"{new}.id",
        "list": f"{new}.kind",
        "status": f"{new}.status",
        "previous_status": f"{old}.status" if old else "NULL",
        "proposed_on": f"{new}.proposed_on",
        "deadline": f"{new}.deadline",
        "listed_from": f"{new}.listed_from",
        "listed_until": f"{new}.listed_until",
        "ended_on": f"{new}.ended_on",
        "end_code": f"{new}.end_code",
    }
    return f"{build}(" + ", ".join(f"'{k}', {v}" for k, v in fields.items()) + ")"


_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
_SQLITE_LISTING_CHANGED = (
    "NEW.status IS NOT OLD.status OR NEW.listed_from IS NOT OLD.listed_from "
    "OR NEW.listed_until IS NOT OLD.listed_until"
)


def _sqlite_listing_insert(kind: str, old: str | None) -> str:
    return (
        "INSERT INTO change_outbox (kind, firm_id, uscc, ref_id, data, recorded_at) VALUES ("
        f"{kind}, NEW.firm_id, (SELECT uscc FROM firm WHERE id = NEW.firm_id), NEW.id, "
        f"{_listing_json('NEW', old, 'json_object')}, {_SQLITE_NOW});"
    )


_NEW_KIND = "'listing.' || NEW.status"
_PUBLICATION_FIELDS = (
    "'publication_id', NEW.id, 'number', NEW.number, 'period', NEW.period, "
    "'snapshot_date', NEW.snapshot_date, 'corrects_id', NEW.corrects_id"
)

_PG_LISTING_FUNCTION = f"""
CREATE FUNCTION change_outbox_listing() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.listed_from IS NOT DISTINCT FROM OLD.listed_from
       AND NEW.listed_until IS NOT DISTINCT FROM OLD.listed_until THEN
        RETURN NULL;
    END IF;
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    IF TG_OP = 'INSERT' THEN
        INSERT INTO change_outbox (kind, firm_id, uscc, ref_id, data, recorded_at) VALUES (
            'listing.' || NEW.status, NEW.firm_id, (SELECT uscc FROM firm WHERE id = NEW.firm_id), NEW.id,
            {_listing_json('NEW', None, 'jsonb_build_object')}, now());
    ELSE
        INSERT INTO change_outbox (kind, firm_id, uscc, ref_id, data, recorded_at) VALUES (
            CASE WHEN NEW.status = OLD.status THEN 'listing.updated' ELSE 'listing.' || NEW.status END,
            NEW.firm_id, (SELECT uscc FROM firm WHERE id = NEW.firm_id), NEW.id,
            {_listing_json('NEW', 'OLD', 'jsonb_build_object')}, now());
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql
"""

_PG_PUBLICATION_FUNCTION = f"""
CREATE FUNCTION change_outbox_publication() RETURNS trigger AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({CHAIN_LOCK});
    INSERT INTO change_outbox (kind, data, ref_id, recorded_at) VALUES (
        'publication.published', jsonb_build_object({_PUBLICATION_FIELDS}), NEW.id, now());
    RETURN NULL;
END $$ LANGUAGE plpgsql
"""

_SQLITE_TRIGGERS = {
    "change_outbox_listing_insert": (
        f"AFTER INSERT ON listing BEGIN {_sqlite_listing_insert(_NEW_KIND, None)} END"
    ),
    "change_outbox_listing_update": (
        f"AFTER UPDATE OF status, listed_from, listed_until ON listing WHEN {_SQLITE_LISTING_CHANGED} BEGIN "
        + _sqlite_listing_insert(
            "CASE WHEN NEW.status IS OLD.status THEN 'listing.updated' ELSE 'listing.' || NEW.status END", "OLD"
        )
        + " END"
    ),
    "change_outbox_publication_insert": (
        "AFTER INSERT ON publication BEGIN "
        "INSERT INTO change_outbox (kind, data, ref_id, recorded_at) VALUES ("
        f"'publication.published', json_object({_PUBLICATION_FIELDS}), NEW.id, {_SQLITE_NOW}); END"
    ),
}


def upgrade() -> None:
    op.create_table(
        'change_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('firm_id', sa.Integer(), nullable=True),
        sa.Column('uscc', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column('ref_id', sa.Integer(), nullable=True),
        sa.Column('data', sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), 'postgresql'), nullable=False),
        sa.Column('recorded_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_change_outbox')),
    )
    op.create_table(
        'watch_entry',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('uscc', sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['department_id'], ['department.id'], name=op.f('fk_watch_entry_department_id_department')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_watch_entry')),
        sa.UniqueConstraint('department_id', 'uscc', name='uq_watch_entry_department_id'),
    )
    op.create_index(op.f('ix_watch_entry_uscc'), 'watch_entry', ['uscc'], unique=False)
    op.create_table(
        'webhook_subscription',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('department_id', sa.Integer(), nullable=False),
        sa.Column('url', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('scope', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('secret_encrypted', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('fanout_upto', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('ended_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['department_id'], ['department.id'], name=op.f('fk_webhook_subscription_department_id_department')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_subscription')),
    )
    op.create_index(
        op.f('ix_webhook_subscription_department_id'), 'webhook_subscription', ['department_id'], unique=False
    )
    op.create_table(
        'webhook_delivery',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('subscription_id', sa.Integer(), nullable=False),
        sa.Column('outbox_id', sa.Integer(), nullable=True),
        sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('next_attempt_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('lease_until', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column('lease_token', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('delivered_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ['subscription_id'],
            ['webhook_subscription.id'],
            name=op.f('fk_webhook_delivery_subscription_id_webhook_subscription'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery')),
        sa.UniqueConstraint('subscription_id', 'outbox_id', name='uq_webhook_delivery_subscription_id'),
    )
    op.create_index('ix_webhook_delivery_due', 'webhook_delivery', ['status', 'next_attempt_at'], unique=False)
    op.create_table(
        'webhook_attempt',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.Integer(), nullable=False),
        sa.Column('at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column('status_code', sa.Integer(), nullable=True),
        sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column('duration_ms', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ['delivery_id'], ['webhook_delivery.id'], name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt')),
    )
    op.create_index(op.f('ix_webhook_attempt_delivery_id'), 'webhook_attempt', ['delivery_id'], unique=False)

    if op.get_bind().dialect.name == 'postgresql':
        op.execute(_PG_LISTING_FUNCTION)
        op.execute(_PG_PUBLICATION_FUNCTION)
        op.execute(
            'CREATE TRIGGER change_outbox_listing AFTER INSERT OR UPDATE ON listing '
            'FOR EACH ROW EXECUTE FUNCTION change_outbox_listing()'
        )
        op.execute(
            'CREATE TRIGGER change_outbox_publication AFTER INSERT ON publication '
            'FOR EACH ROW EXECUTE FUNCTION change_outbox_publication()'
        )
    else:
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f'CREATE TRIGGER {name} {body}')


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS change_outbox_publication ON publication')
        op.execute('DROP TRIGGER IF EXISTS change_outbox_listing ON listing')
        op.execute('DROP FUNCTION IF EXISTS change_outbox_publication()')
        op.execute('DROP FUNCTION IF EXISTS change_outbox_listing()')
    else:
        for name in _SQLITE_TRIGGERS:
            op.execute(f'DROP TRIGGER IF EXISTS {name}')
    op.drop_index(op.f('ix_webhook_attempt_delivery_id'), table_name='webhook_attempt')
    op.drop_table('webhook_attempt')
    op.drop_index('ix_webhook_delivery_due', table_name='webhook_delivery')
    op.drop_table('webhook_delivery')
    op.drop_index(op.f('ix_webhook_subscription_department_id'), table_name='webhook_subscription')
    op.drop_table('webhook_subscription')
    op.drop_index(op.f('ix_watch_entry_uscc'), table_name='watch_entry')
    op.drop_table('watch_entry')
    op.drop_table('change_outbox')
