"""Alembic is the only schema source: the migrated test database matches the models exactly."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from pydantic import ValidationError

from etest.config import Settings
from etest.models import Base


async def test_models_match_migrations(app: FastAPI) -> None:
    def diff(connection: Any) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with app.state.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


def test_settings_name_the_bad_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETEST_DATABASE_URL", "mysql://nope")
    with pytest.raises(ValidationError, match="ETEST_DATABASE_URL"):
        Settings()
