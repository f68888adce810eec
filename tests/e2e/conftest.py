"""One real stack (back-office + action server + Rasa) per test session, on PostgreSQL and Redis."""
from __future__ import annotations

import itertools
import os
import re

import pytest

from scripts.train import model_path
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.otlp_collector import OtlpCollector
from tests.support.stack import Stack

_senders = itertools.count(1)
CREATED: dict[str, dict] = {}  # accounts made by new_account, by number (tests/e2e/test_identity.owner reads it)
IP_CODES_PER_HOUR = 2


def pytest_collection_modifyitems(items):
    """Tests marked after_suite (test_funnels_after_suite.py) read what every other test left: they go last."""
    items.sort(key=lambda item: item.get_closest_marker("after_suite") is not None)  # a stable sort


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first (make test does)")
    # Every e2e run is traced (OTLP to a fake collector, tests/e2e/test_tracing.py reads it): tracing breaking
    # anything shows everywhere
    with temporary_postgres("hall_e2e") as url, OtlpCollector() as collector:
        # Rasa trusts one proxy's X-Forwarded-For (loopback requests without it stay exempt from the per-IP
        # code cap, which is small here so that tests/e2e/test_code_limits.py reaches it in a few logins)
        # FACE_ACCEPT_MAX: a clip rendered from the photo on the card or on file matches (distance ~0.14), a clip
        # of another photo of the same person (~0.36) lands in the review band, so both paths run here
        s = Stack(tmp_path_factory.mktemp("stack"), database_url=url, redis_url=REDIS_URL, model=model,
                  extra_env={"SANIC_PROXIES_COUNT": "1", "HALL_IP_OTP_CODES_PER_HOUR": str(IP_CODES_PER_HOUR),
                             "FACE_ACCEPT_MAX": "0.25", "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
                             "OTEL_BSP_SCHEDULE_DELAY": "200"})
        s.collector = collector
        try:
            s.start()
            yield s
        finally:
            s.stop()


@pytest.fixture
def sender(request):
    """A fresh REST conversation (= device) per test: `rest:<sender>` (stack.say sends the sender part)."""
    return f"rest:e2e-{request.node.name[:36]}-{next(_senders)}-{os.urandom(3).hex()}"


def latest_code(stack: Stack, phone: str) -> str:
    messages = stack.sms(phone)
    assert messages, f"no SMS sent to {phone}"
    match = re.search(r"验证码(\d{6})", messages[-1]["text"])
    assert match, messages[-1]["text"]
    return match.group(1)


@pytest.fixture
def new_account(stack):
    """A fresh customer account of its own (number, phone and ID unused by any other test), with a handwritten
    signature on file like the seeded ones unless signature=False."""
    from backoffice.accounts.seed import demo_signature_png, id_number

    def create(signature: bool = True, **fields) -> dict:
        n = int.from_bytes(os.urandom(3), "big") % 10**6
        id17 = f"11010519900101{n % 1000:03d}"
        account = {"account_number": f"82{n:06d}", "phone": f"139{n:08d}", "name": "测试客户",
                   "id_number": id_number(id17),
                   "opened_on": "2020-05-06", **fields}
        if signature:
            account["signature_media_id"] = stack.upload(demo_signature_png(), None)
        status, body = stack.api("POST", "/api/accounts", account)
        assert status == 201, body
        CREATED[account["account_number"]] = account
        return account

    return create
