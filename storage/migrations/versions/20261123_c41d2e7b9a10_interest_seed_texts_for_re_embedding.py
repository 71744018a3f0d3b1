"""interest.seed_texts: the texts of BibTeX seed papers, so the interest can be re-embedded

Revision ID: c41d2e7b9a10
Revises: a8f607385167
Create Date: 2026-11-23 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c41d2e7b9a10"
down_revision: str | None = "a8f607385167"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get an empty list: interests imported before this have no texts to re-embed.
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seed_texts", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.drop_column("seed_texts")
