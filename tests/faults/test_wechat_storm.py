"""A storm from WeChat: three messages of one customer sent at once, each retried three times within 5 seconds.

Exactly one bot turn per distinct message, in the order the messages arrived, and each turn's answer reaches
the customer exactly once (as the passive reply of one attempt or as a 客服消息).
"""
from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.stack import http

pytestmark = pytest.mark.faults

MESSAGES = ["你好", "帮助", "谢谢"]


def tracker_turns(stack, openid: str) -> list[tuple[str, list[str]]]:
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{openid}/tracker")
    assert status == 200, tracker
    turns: list[tuple[str, list[str]]] = []
    for event in tracker["events"]:
        if event["event"] == "user":
            turns.append((event.get("text"), []))
        elif event["event"] == "bot" and turns:
            turns[-1][1].append(event.get("text") or "")
    return turns


def test_retry_storm_and_concurrent_messages_from_one_user(faults):
    wechat = faults.wechat
    user = f"ostorm-{os.urandom(5).hex()}"
    msgs = [wechat.message(user, Content=text) for text in MESSAGES]
    # first attempts 0.3 s apart (that is their arrival order), then two retries each, all within 5 s
    schedule = sorted([(0.3 * i + delay, i) for i in range(len(msgs)) for delay in (0.0, 1.2, 2.6)])

    def attempt(item):
        delay, index = item
        time.sleep(delay)
        return index, wechat.post(msgs[index])

    with ThreadPoolExecutor(len(schedule)) as pool:
        results = list(pool.map(attempt, schedule))

    assert all(r[0] == 200 for _, r in results), [r[:3] for _, r in results]
    passive = {i: [] for i in range(len(msgs))}
    for index, (_status, reply, _raw, _elapsed) in results:
        if reply is not None:
            passive[index].append(reply["Content"])
    assert all(len(p) <= 1 for p in passive.values()), passive

    # one turn per message, in arrival order
    turns = tracker_turns(faults.stack, user)
    assert [t for t, _ in turns] == MESSAGES, turns

    # every turn's answer delivered once: passive replies + 客服消息 (those still pending arrive shortly)
    expected = sum(1 for i in passive if not passive[i])
    wechat.wait_sent(user, expected, timeout=20)
    time.sleep(1.0)  # nothing else may follow
    sent = [m["text"]["content"] for m in wechat.fake.messages_for(user) if m["msgtype"] == "text"]
    delivered = [text for p in passive.values() for text in p] + sent
    for text, bot in turns:
        assert bot, f"no answer to {text}"
        first = bot[0].splitlines()[0]
        assert sum(first in d for d in delivered) == 1, (text, first, delivered)
    assert len(delivered) == len(msgs), delivered
