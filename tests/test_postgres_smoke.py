from __future__ import annotations

import psycopg
import pytest


@pytest.mark.postgres
def test_server_answers(postgres_url: str) -> None:
    with psycopg.connect(postgres_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
