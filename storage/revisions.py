"""The schema revision the code expects, read from the migration files without Alembic or SQLAlchemy,
so that checking a database is up to date costs one query and no heavy import (storage.rows)."""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["MIGRATIONS", "head_revisions"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@cache
def head_revisions() -> frozenset[str]:
    """The revisions of the migration files that no other revision revises: an up-to-date schema's
    alembic_version. Read from the files' `revision` / `down_revision` lines, not through Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        names = _revision_names(path)
        revisions.add(names["revision"])
        down = names.get("down_revision")
        parents.update([down] if isinstance(down, str) else down or ())
    return frozenset(revisions - parents)


def _revision_names(path: Path) -> dict[str, Any]:
    """The `revision` and `down_revision` values assigned at the top level of a migration file."""
    values: dict[str, Any] = {}
    target: ast.expr
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            target, value = node.target, node.value
        elif isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
            values[target.id] = ast.literal_eval(value)
    return values
