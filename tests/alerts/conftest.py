"""The alert store on both backends: an SQLite file, and the PostgreSQL server of
``CHURN_TEST_PG_URL`` (``.ci/run`` starts one; skipped only when the variable is unset)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from alerts.store import AlertStore, open_store

PG_ENV = "CHURN_TEST_PG_URL"


def _reset_pg(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("outcomes", "deliveries", "alerts", "alembic_version"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'alerts.db'}"
        return
    url = os.environ.get(PG_ENV)
    if not url:
        pytest.skip(f"{PG_ENV} is not set (no PostgreSQL server)")
    _reset_pg(url)
    yield url
    _reset_pg(url)


@pytest.fixture
def store(db_url: str) -> Iterator[AlertStore]:
    opened = open_store(db_url)
    yield opened
    opened.engine.dispose()
