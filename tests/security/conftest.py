"""Abuse tests: the real back-office in-process (services + aiohttp app) on SQLite with a ManualClock.

The storage back-ends are covered by tests/unit on SQLite and PostgreSQL; these tests are about what an
attacker can do through the interfaces, so one database keeps `make security` fast.
"""
from __future__ import annotations

import re
import shutil

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.core.kvstore import MemoryKV
from backoffice.core.migrate import upgrade
from backoffice.services import build_services
from backoffice.web.app import create_app
from tests.unit.conftest import ACCOUNT, clock, make_settings  # noqa: F401  (fixtures)

# staff accounts, the fake Rasa client and cheap argon2 are the console tests' own fixtures
from tests.unit.console.conftest import cheap_hashing, rasa, staff  # noqa: F401

OTHER = {**ACCOUNT, "account_number": "80010002", "name": "李娜", "id_number": "110105199001010029",
         "phone": "13900000002"}


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """Migrated once; every test gets a copy (a migration per test would double the suite's time)."""
    path = tmp_path_factory.mktemp("template") / "hall.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def services(tmp_path, clock, migrated_db):  # noqa: F811
    shutil.copyfile(migrated_db, tmp_path / "hall.db")
    url = f"sqlite:///{tmp_path / 'hall.db'}"
    svc = build_services(make_settings(url, tmp_path), clock=clock, kv=MemoryKV(clock))
    svc.accounts.create(ACCOUNT)
    svc.accounts.create(OTHER)
    yield svc
    svc.close()


@pytest.fixture
async def client(services, staff, rasa):
    async with TestClient(TestServer(create_app(services, rasa_client=rasa))) as c:
        c.staff = {"Authorization": f"Bearer {services.settings.admin_token}"}
        c.bot = {"Authorization": f"Bearer {services.settings.service_token}"}
        yield c


def last_code(services, phone: str) -> str:
    return re.search(r"验证码(\d{6})", services.sms.messages(phone)[-1]["text"]).group(1)


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


async def bot(client, path: str, **body) -> dict:
    resp = await client.post(path, json=body, headers=client.bot)
    assert resp.status < 500, await resp.text()
    return await resp.json()


async def log_in(client, services, sender: str, account=ACCOUNT) -> None:
    assert (await bot(client, "/api/bot/login/start", sender=sender, account_number=account["account_number"],
                      phone=account["phone"]))["status"] == "sent"
    code = last_code(services, account["phone"])
    assert (await bot(client, "/api/bot/login/verify", sender=sender, code=code))["status"] == "ok"
    assert (await bot(client, "/api/bot/login/complete", sender=sender, privacy_agreed=True))["status"] == "ok"


def open_application(services, account_number: str, sender: str, **kwargs) -> dict:
    """An application of `account_number`. Its verification steps (face, code, witness) have their own
    tests; here only who may see or touch it matters."""
    services.accounts._update(account_number, state="dormant")
    saved, services.applications.verification = services.applications.verification, None
    try:
        return services.applications.open("activate_dormant_account", account_number, sender, **kwargs)[0]
    finally:
        services.applications.verification = saved
