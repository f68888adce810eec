"""Actions run against a real back-office app served in-process (SQLite), not a mock."""
from __future__ import annotations

import pytest
from aiohttp.test_utils import TestServer
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from backoffice.accounts.seed import seed
from backoffice.core.clock import SystemClock
from backoffice.core.kvstore import MemoryKV
from backoffice.core.migrate import upgrade
from backoffice.services import build_services
from backoffice.web.app import create_app
from bot.actions.backoffice import BackofficeClient
from tests.unit.conftest import make_settings


@pytest.fixture
async def backoffice(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'hall.db'}"
    upgrade(url)
    svc = build_services(make_settings(url, tmp_path), clock=SystemClock(), kv=MemoryKV())
    seed(svc)
    server = TestServer(create_app(svc))
    await server.start_server()
    client = BackofficeClient(base_url=str(server.make_url("")), token=svc.settings.service_token)
    import bot.actions.backoffice as module
    for name in ("bot.actions.login", "bot.actions.dialogue", "bot.actions.handoff", "bot.actions.steps",
                 "bot.actions.devices", "bot.actions.signature", "bot.actions.applications",
                 "bot.actions.unlock_account", "bot.actions.view_agreements"):
        monkeypatch.setattr(f"{name}.client", client)
    monkeypatch.setattr(module, "client", client)
    svc.http_client = client
    yield svc
    await server.close()
    svc.close()


def tracker(sender="s1", slots=None, text="", intent="inform", active_loop=None, events=None):
    return Tracker(sender, dict(slots or {}), {"text": text, "intent": {"name": intent, "confidence": 1.0},
                                              "entities": []},
                   events or [], False, None, {"name": active_loop} if active_loop else {}, "action_listen")


@pytest.fixture
def dispatcher():
    return CollectingDispatcher()


async def typed_account(dispatcher, number: str, sender: str = "s1"):
    """A login-form tracker after the customer typed `number` at the account step: the back-office notes the
    number, the slot holds only its mask."""
    from bot.actions.login import ValidateLoginForm

    result = await ValidateLoginForm().validate_account_number(number, dispatcher, tracker(sender=sender), {})
    assert result["account_number"] and "*" in result["account_number"], result
    return tracker(sender=sender, slots=result)
