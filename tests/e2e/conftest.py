"""One real stack (back-office + action server + Rasa) per test session, on PostgreSQL and Redis."""
from __future__ import annotations

import itertools
import os
import re

import pytest

from scripts.train import model_path
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.stack import Stack

_senders = itertools.count(1)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first (make test does)")
    with temporary_postgres("hall_e2e") as url:
        s = Stack(tmp_path_factory.mktemp("stack"), database_url=url, redis_url=REDIS_URL, model=model)
        try:
            s.start()
            yield s
        finally:
            s.stop()


@pytest.fixture
def sender(request):
    """A fresh channel sender id (= device) per test."""
    return f"e2e-{request.node.name[:40]}-{next(_senders)}-{os.urandom(3).hex()}"


def latest_code(stack: Stack, phone: str) -> str:
    messages = stack.sms(phone)
    assert messages, f"no SMS sent to {phone}"
    match = re.search(r"验证码(\d{6})", messages[-1]["text"])
    assert match, messages[-1]["text"]
    return match.group(1)
