"""Settings are validated at start-up with messages that name the variable to fix."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from etest.config import Settings


def test_database_url_driver_is_named() -> None:
    with pytest.raises(ValidationError, match="ETEST_DATABASE_URL"):
        Settings(database_url="mysql://root@localhost/etest")


def test_callback_allow_list_entries_are_addresses_or_networks() -> None:
    assert Settings(
        callback_allow_networks=["127.0.0.1/32", "::1", "10.0.0.0/8"]
    ).callback_allow_networks == ["127.0.0.1/32", "::1", "10.0.0.0/8"]
    with pytest.raises(ValidationError, match="ETEST_CALLBACK_ALLOW_NETWORKS: 'intranet'"):
        Settings(callback_allow_networks=["127.0.0.1/32", "intranet"])


@pytest.mark.parametrize(
    ("mode", "url", "embedded"),
    [
        ("auto", "sqlite+aiosqlite:///./var/x.db", True),
        ("auto", "postgresql+psycopg://u@h/db", False),
        ("embedded", "postgresql+psycopg://u@h/db", True),
        ("external", "sqlite+aiosqlite:///./var/x.db", False),
    ],
)
def test_worker_mode_decides_the_embedded_dispatcher(mode: str, url: str, embedded: bool) -> None:
    settings = Settings(worker_mode=mode, database_url=url)  # type: ignore[arg-type]
    assert settings.embedded_worker is embedded


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"port": 9123}, "http://127.0.0.1:9123"),
        ({"host": "0.0.0.0", "port": 8080}, "http://127.0.0.1:8080"),
        ({"host": "exam.local", "port": 81}, "http://exam.local:81"),
        ({"host": "::1", "port": 8001}, "http://[::1]:8001"),
        ({"port": 9123, "base_url": "https://etest.example.org/"}, "https://etest.example.org"),
    ],
)
def test_links_follow_host_and_port_unless_a_base_url_is_set(
    env: dict[str, object], expected: str
) -> None:
    assert Settings(**env).base_url == expected  # type: ignore[arg-type]


def test_a_port_out_of_range_is_refused() -> None:
    with pytest.raises(ValidationError, match="port"):
        Settings(port=70000)
