"""Back-office fixtures: every service test runs on SQLite and on real PostgreSQL, memory and real Redis."""
from __future__ import annotations

import os
import uuid

# One action per live check in unit tests: a rendered clip per person serves every check (live.py picks from these).
os.environ.setdefault("HALL_LIVENESS_ACTIONS", "blink")

import pytest

from backoffice.core.clock import ManualClock
from backoffice.core.config import Settings
from backoffice.core.kvstore import MemoryKV, RedisKV
from backoffice.core.migrate import upgrade
from backoffice.services import build_services
from tests.support.databases import REDIS_URL, temporary_postgres


@pytest.fixture(scope="session")
def pg_url():
    with temporary_postgres("hall_unit") as url:
        upgrade(url)
        yield url


@pytest.fixture
def clock():
    return ManualClock(1_800_000_000.0)


@pytest.fixture(params=["memory", "redis"])
def kv(request, clock):
    if request.param == "memory":
        yield MemoryKV(clock)
        return
    store = RedisKV(REDIS_URL, prefix=f"test:{uuid.uuid4().hex[:8]}:")
    yield store
    for key in store.client.scan_iter(store.prefix + "*"):
        store.client.delete(key)


def make_settings(database_url: str, tmp_path, **overrides) -> Settings:
    values = dict(production=False, database_url=database_url, redis_url=None, sms_gateway="sandbox",
                  media_dir=tmp_path / "media", admin_token="admin-" + os.urandom(6).hex(),
                  service_token="service-" + os.urandom(6).hex(), data_keys=["unit-test-key"],
                  public_url="http://127.0.0.1:8000", rasa_url="http://127.0.0.1:1")
    values.update(overrides)
    return Settings(**values)


def _truncate(url: str) -> None:
    from sqlalchemy import create_engine, text

    import backoffice.models  # noqa: F401
    from backoffice.core.db import Base

    engine = create_engine(url, future=True)
    with engine.begin() as conn:
        names = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'hall.db'}"
        upgrade(url)
        return url
    url = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@pytest.fixture
def services(database_url, tmp_path, clock):
    """Services on a migrated database with an in-memory KV (KV behaviour is tested on its own)."""
    svc = build_services(make_settings(database_url, tmp_path), clock=clock, kv=MemoryKV(clock))
    yield svc
    svc.close()


ACCOUNT = {"account_number": "80010001", "name": "张伟", "id_number": "110105198503120012",
           "phone": "13800000001", "investor_type": "投资者", "opened_on": "2018-04-16", "state": "normal",
           "balance": "100.50"}
