"""interest ids are never reused: SQLite AUTOINCREMENT on interest

An interest id reached users (App Home buttons, `paperbot profile remove-interest`, digest items'
interest_id): after a removal SQLite handed the same id to the next interest, so a stale button or
command could remove the wrong one. PostgreSQL's serial sequence never hands an id out twice, so
this changes SQLite only.

Revision ID: 5e7d1c2a9b40
Revises: c41d2e7b9a10
Create Date: 2026-12-03 10:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "5e7d1c2a9b40"
down_revision: str | None = "c41d2e7b9a10"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _recreate(autoincrement: bool) -> None:
    # Nothing has a foreign key to interest, so recreating the table (copy, drop, rename) cascades nothing.
    with op.batch_alter_table(
        "interest", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    _recreate(True)
    # The copy leaves the counter at the highest id kept; ids removed above it may still be named by
    # digest items, so the counter starts past those too.
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'interest', 0 "
        "WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'interest')"
    )
    op.execute(
        "UPDATE sqlite_sequence SET seq = MAX(seq, (SELECT COALESCE(MAX(interest_id), 0) FROM digestitem)) "
        "WHERE name = 'interest'"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _recreate(False)
