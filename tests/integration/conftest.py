"""Fixtures shared by integration tests: the results store on SQLite and on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from o2v.store import Store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[Store]:
    if request.param == "sqlite":
        db = Store(f"sqlite:///{tmp_path}/o2v.db")
        yield db
        db.close()
        return
    url = request.getfixturevalue("postgres_url")
    schema = f"o2v_test_{uuid.uuid4().hex[:12]}"
    admin = Store(url)  # resolves the driver the same way the store does
    with admin.engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = admin.engine.url.update_query_dict({"options": f"-csearch_path={schema}"})
    db = Store(scoped.render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.close()
        with admin.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.close()
