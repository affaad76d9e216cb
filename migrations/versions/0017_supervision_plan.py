"""Reserved for work queues, honour rolls, the 首席质量官 registry and the 双随机 plan (issue 12): empty until that work lands.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 22:10:00
"""

from collections.abc import Sequence

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
