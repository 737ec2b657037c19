"""Fixtures for the PostgreSQL ledger tests: a real server started by the test session itself
(``finetune_sdk.testing.postgres``), one fresh database per test. They skip with the reason only
when no server binary or no psycopg can be had."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from finetune_sdk.testing.postgres import ServerUnavailable, create_database, temporary_server


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The base URL ``postgresql://postgres@127.0.0.1:PORT`` of a running server."""
    pytest.importorskip("psycopg", reason="psycopg 3 is not installed (extra [postgres])")
    try:
        with temporary_server() as url:
            yield url
    except ServerUnavailable as exc:
        if "no PostgreSQL server binaries" in str(exc):
            pytest.skip(str(exc))
        raise


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's server (one per test)."""
    return create_database(postgres_server)
