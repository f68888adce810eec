"""Throw-away PostgreSQL databases and Redis prefixes for tests (real servers, never mocks)."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager

import psycopg2

ADMIN_URL = os.environ.get("TEST_DATABASE_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _admin():
    conn = psycopg2.connect(ADMIN_URL, connect_timeout=5)
    conn.autocommit = True
    return conn


@contextmanager
def temporary_postgres(prefix: str = "hall_test"):
    """Create a fresh database, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        base = ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}".replace("postgresql://", "postgresql+psycopg2://", 1)
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
