"""subscription.paused_until: a pause with an end date ("for 2 weeks") resumes by itself

Revision ID: d7e3a1f09b22
Revises: 5d2b7e91c3f4
Create Date: 2026-12-03 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision: str = "d7e3a1f09b22"
down_revision: str | None = "5d2b7e91c3f4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(sa.Column("paused_until", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
