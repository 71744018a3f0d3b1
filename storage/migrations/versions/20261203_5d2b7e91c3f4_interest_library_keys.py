"""interest.library_keys: arXiv id, DOI and title keys of the papers an interest was made from

Revision ID: 5d2b7e91c3f4
Revises: 5e7d1c2a9b40
Create Date: 2026-12-03 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5d2b7e91c3f4"
down_revision: str | None = "5e7d1c2a9b40"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get an empty list. Seed-paper interests are still excluded by their listing ids;
    # a BibTeX import made before this keeps only texts, so its papers are recognised once it is
    # removed and imported again.
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.add_column(sa.Column("library_keys", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("interest", schema=None) as batch_op:
        batch_op.drop_column("library_keys")
