"""Console fixtures: the web app in-process with a fake Rasa server client, and a logged-in browser-like client."""
from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from backoffice.console.staff import StaffService
from backoffice.web.app import create_app

PASSWORD = "correct-horse-battery"


class FakeRasa:
    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.trackers: dict[str, dict] = {}
        self.executed: dict[str, list[dict]] = {}

    async def pause(self, sender):
        self.calls.append(("pause", sender))

    async def resume(self, sender):
        self.calls.append(("resume", sender))

    async def tracker(self, sender, include_events="ALL"):
        return self.trackers.get(sender, {"events": [], "slots": {}})

    async def append_events(self, sender, events):
        self.calls.append(("events", sender, tuple(e.get("name") or e["event"] for e in events)))

    async def execute(self, sender, action):
        """What a form answers when run again: the question of its current step."""
        self.calls.append(("execute", sender, action))
        return self.executed.get(action, [])


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch):
    """Production argon2 parameters cost ~0.5 s a hash on a busy CI box; the scheme is the same."""
    from argon2 import PasswordHasher

    from backoffice.console import staff as staff_module

    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(staff_module, "_hasher", hasher)
    monkeypatch.setattr(staff_module, "_DUMMY_HASH", hasher.hash("dummy"))


@pytest.fixture
def staff(services):
    svc = StaffService(services.db, services.kv, services.audit, services.clock)
    for name, role in (("agent1", "agent"), ("reviewer1", "reviewer"), ("admin1", "admin")):
        svc.create(name, PASSWORD, role)
    return svc


@pytest.fixture
def rasa():
    return FakeRasa()


@pytest.fixture
async def client(services, staff, rasa):
    async with TestClient(TestServer(create_app(services, rasa_client=rasa))) as c:
        yield c


def form_csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


async def login(client, username: str, password: str = PASSWORD, *, ip_headers=None):
    page = await client.get("/console/login")
    csrf = form_csrf(await page.text())
    return await client.post("/console/login", data={"csrf": csrf, "username": username, "password": password,
                                                     "next": "/console"},
                             allow_redirects=False, headers=ip_headers or {})


async def session_csrf(client, path: str = "/console/queue") -> str:
    return form_csrf(await (await client.get(path)).text())
