"""Settings are validated at start-up with messages that name the variable to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from etest.config import Settings


def test_database_url_driver_is_named() -> None:
    with pytest.raises(ValidationError, match="ETEST_DATABASE_URL"):
        Settings(database_url="mysql://root@localhost/etest")


def test_callback_allow_list_entries_are_addresses_or_networks() -> None:
    assert Settings(callback_allow_networks=["127.0.0.1/32", "::1", "10.0.0.0/8"]) \
        .callback_allow_networks == ["127.0.0.1/32", "::1", "10.0.0.0/8"]
    with pytest.raises(ValidationError, match="ETEST_CALLBACK_ALLOW_NETWORKS: 'intranet'"):
        Settings(callback_allow_networks=["127.0.0.1/32", "intranet"])


@pytest.mark.parametrize(("mode", "url", "embedded"), [
    ("auto", "sqlite+aiosqlite:///./var/x.db", True),
    ("auto", "postgresql+psycopg://u@h/db", False),
    ("embedded", "postgresql+psycopg://u@h/db", True),
    ("external", "sqlite+aiosqlite:///./var/x.db", False),
])
def test_worker_mode_decides_the_embedded_dispatcher(mode: str, url: str,
                                                     embedded: bool) -> None:
    settings = Settings(worker_mode=mode, database_url=url)  # type: ignore[arg-type]
    assert settings.embedded_worker is embedded
