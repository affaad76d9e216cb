"""The stored assessment's validity (valid_until, last_negative_on) for the credit-check hot path, and the
configuration version that web workers' per-process caches (active rule set, API keys) are checked
against, bumped by triggers on every change to what they cache.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 08:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Which changes invalidate the caches: (table, columns whose UPDATE counts; INSERT and DELETE always do).
WATCHED = {
    "api_key": ("prefix", "secret_hash", "scopes", "revoked_at", "department_id"),
    "department": ("name",),
    "rule_set_version": ("active", "document"),
}
BUMP = (
    "INSERT INTO config_version (id, version) VALUES (1, 1) "
    "ON CONFLICT (id) DO UPDATE SET version = config_version.version + 1"
)


def upgrade() -> None:
    op.create_table(
        'config_version',
        sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_config_version')),
    )
    op.execute("INSERT INTO config_version (id, version) VALUES (1, 1)")
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('valid_until', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('last_negative_on', sa.Date(), nullable=True))
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(
            "CREATE OR REPLACE FUNCTION config_version_bump() RETURNS trigger AS $$ "
            f"BEGIN {BUMP}; RETURN NULL; END; $$ LANGUAGE plpgsql"
        )
    for table, columns in WATCHED.items():
        if postgres:
            op.execute(
                f"CREATE TRIGGER {table}_config_version AFTER INSERT OR DELETE OR UPDATE OF {', '.join(columns)} "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION config_version_bump()"
            )
            continue
        for verb in ("INSERT", "DELETE", f"UPDATE OF {', '.join(columns)}"):
            name = f"{table}_config_version_{verb.split()[0].lower()}"
            op.execute(f"CREATE TRIGGER {name} AFTER {verb} ON {table} BEGIN {BUMP}; END")


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in WATCHED:
        if postgres:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version ON {table}")
        else:
            for verb in ("insert", "delete", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_config_version_{verb}")
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS config_version_bump()")
    with op.batch_alter_table('assessment', schema=None) as batch_op:
        batch_op.drop_column('last_negative_on')
        batch_op.drop_column('valid_until')
    op.drop_table('config_version')
