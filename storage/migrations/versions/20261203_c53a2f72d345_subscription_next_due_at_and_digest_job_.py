"""subscription.next_due_at (when a tick looks at it next) and digest.job_id / job_attempt (the queue
job holding a claim)

Existing subscriptions get NULL: the first tick plans them from their created_at, which catches up at
most the latest missed period, as the old catch-up sweep did.

Revision ID: c53a2f72d345
Revises: d7e3a1f09b22
Create Date: 2026-12-03 10:29:41.754889
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "c53a2f72d345"
down_revision: str | None = "d7e3a1f09b22"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_id", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("job_attempt", sa.Integer(), nullable=True))

    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("next_due_at", storage.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(batch_op.f("ix_subscription_next_due_at"), ["next_due_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subscription", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscription_next_due_at"))
        batch_op.drop_column("next_due_at")

    with op.batch_alter_table("digest", schema=None) as batch_op:
        batch_op.drop_column("job_attempt")
        batch_op.drop_column("job_id")
