"""Throwaway PostgreSQL databases for tests, on the server at 127.0.0.1:5432.

Each test gets its own `supportbot_test_<random>` database and drops only that one;
without a reachable server (or without psycopg) the test is skipped with the reason.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

# The server this machine runs (trust auth); SUPPORTBOT_TEST_POSTGRES names another.
SERVER = os.environ.get("SUPPORTBOT_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def throwaway_database() -> Iterator[str]:
    """The URI of a new, empty database, dropped afterwards (with any connection left)."""
    try:
        import psycopg
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'supportbot[postgres]')")
    try:
        admin = psycopg.connect(f"{SERVER}/postgres", autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.skip(f"no PostgreSQL server at {SERVER}: {str(error).strip()[:200]}")
    name = f"supportbot_test_{secrets.token_hex(6)}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{SERVER}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.close()
