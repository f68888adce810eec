"""Actions run against a real back-office app served in-process (SQLite), not a mock."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from backoffice.accounts.seed import seed
from backoffice.core.clock import SystemClock
from backoffice.core.kvstore import MemoryKV
from backoffice.core.migrate import upgrade
from backoffice.services import build_services
from backoffice.web.app import create_app
from bot.actions.backoffice import BackofficeClient
from bot.actions.steps import CATALOGUE
from bot.actions.turn import Turn
from businesses import get
from tests.unit.conftest import make_settings

ROOT = Path(__file__).resolve().parents[3]


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

    monkeypatch.setattr(module, "client", client)  # every action calls the back-office through it
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


# --- what the actions said, rendered as Rasa would (the texts are the domain's responses) -------------------
DOMAIN = Domain.load(str(ROOT / "bot" / "domain")).as_dict()
_VAR = re.compile(r"{([^{}\s]+)}")


def rendered(message: dict) -> str:
    """A dispatcher message as text: its response filled with its values (as Rasa's NLG does), or its text."""
    if message.get("response") in DOMAIN["responses"]:
        template = DOMAIN["responses"][message["response"]][0]
        text = template.get("text") or ""
        return _VAR.sub(lambda m: str(message.get(m.group(1), m.group(0))), text)
    return message.get("text") or message.get("response") or ""


def said(dispatcher) -> str:
    return "\n".join(rendered(m) for m in dispatcher.messages)


def turn(dispatcher, tracker_, business: str | None = "login") -> Turn:
    return Turn(dispatcher, tracker_, DOMAIN, get(business) if business else None)


async def step(slot: str, value, dispatcher, tracker_, business: str | None = "login") -> dict:
    """A step's validation of `value` as its form does it."""
    return await CATALOGUE[slot].validate(turn(dispatcher, tracker_, business), value)


async def typed_account(dispatcher, number: str, sender: str = "s1"):
    """A login-form tracker after the customer typed `number` at the account step: the back-office notes the
    number, the slot holds only its mask."""
    result = await step("account_number", number, dispatcher, tracker(sender=sender))
    assert result["account_number"] and "*" in result["account_number"], result
    return tracker(sender=sender, slots=result)
