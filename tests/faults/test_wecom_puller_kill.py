"""The 微信客服 puller SIGKILLed between storing a pulled page and advancing the cursor, then restarted.

"Between" is deterministic: Rasa runs with WECOM_FAULT_PAUSE_AFTER_STORE, so after storing a page with new
messages it waits before writing the cursor; the test kills it once the page is in Redis (the customer's queue
holds the message, the cursor is still the old one) and the pause is logged. The restarted Rasa (no pause)
drains the stored queue at start-up and pulls again from the old cursor: the replayed page is recognised by
msgid. The customer gets exactly one answer and the tracker exactly one turn for the message.
"""
from __future__ import annotations

import os
import signal
import time

import pytest
import redis

from tests.faults.conftest import until

pytestmark = pytest.mark.faults

PAUSE = "120"  # longer than the test needs to see the stored page and kill the process


def test_puller_killed_between_storing_and_advancing_the_cursor(faults):
    stack, side = faults.stack, faults.wecom
    store = redis.Redis.from_url(faults.redis.url, decode_responses=True)
    prefix = stack.env["HALL_KV_PREFIX"] + "wecom:"
    cursor_key = prefix + "cursor:" + side.kfid

    # a first message through the normal process: the account and its cursor exist
    first = f"wmfault{os.urandom(4).hex()}"
    assert "掌厅助手" in side.turn(first, "你好")
    cursor_before = store.get(cursor_key)
    assert cursor_before

    # Rasa again, with the pause between storing and advancing the cursor
    stack.stop("rasa0")
    stack.start_rasa(0, env={"WECOM_FAULT_PAUSE_AFTER_STORE": PAUSE})
    stack.wait_ready()
    log = stack.workdir / "rasa0.log"
    seen = log.read_text(errors="replace").count("fault injection: pausing")

    customer = f"wmfault{os.urandom(4).hex()}"
    inbox = prefix + "inbox:" + side.sender(customer)
    status, _body, _elapsed = side.says(customer, "帮助")
    assert status == 200
    assert until(lambda: log.read_text(errors="replace").count("fault injection: pausing") > seen, timeout=60)
    assert store.llen(inbox) == 1 and store.get(cursor_key) == cursor_before  # stored, cursor not advanced
    stack.stop("rasa0", sig=signal.SIGKILL)
    assert store.llen(inbox) == 1 and store.get(cursor_key) == cursor_before
    assert side.received(customer) == []

    calls = len(side.fake.sync_calls)
    stack.start_rasa(0)  # no pause: as deployed
    stack.wait_ready()
    # the stored message is answered once; the page is fetched again from the old cursor (after the dead
    # puller's lock expired) and its message recognised as seen
    assert until(lambda: side.received(customer), timeout=90)
    assert until(lambda: store.get(cursor_key) != cursor_before, timeout=90)
    replays = [c for c in side.fake.sync_calls[calls:] if c["cursor"] == cursor_before and c["returned"] >= 1]
    assert replays, side.fake.sync_calls[calls:]
    time.sleep(3)  # nothing else may follow
    assert len(side.received(customer)) == 1
    assert side.user_turns(customer) == 1
    assert store.llen(inbox) == 0 and side.sender(customer) not in store.smembers(prefix + "ready")
