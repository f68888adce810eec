"""Two Rasa server processes on one Redis tracker and lock store (how Rasa scales out, README "Scaling").

One conversation's turns go alternately to both processes, several conversations at once, and two messages
of one conversation arrive at both processes at the same moment. The tracker must hold every event once, in
order, each turn complete before the next begins; the customer gets the replies in order; the business state
(the login, its OTP in the back-office) continues whichever process answers.
"""
from __future__ import annotations

import json
import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from scripts.train import model_path
from tests.e2e.conftest import latest_code
from tests.support.databases import REDIS_URL, temporary_postgres
from tests.support.stack import Stack, http, texts

# accounts with different phones: one login code per phone and minute
ACCOUNTS = {"80010001": "13800000001", "80010003": "13800000003", "80010004": "13800000004",
            "80010006": "13800000006", "80010007": "13800000007", "80010009": "13800000009"}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    model = model_path()
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` first (make test does)")
    with temporary_postgres("hall_two_rasa") as url:
        stack = Stack(tmp_path_factory.mktemp("two-rasa"), database_url=url, redis_url=REDIS_URL, model=model,
                      rasa_instances=2, extra_env={"BIOMETRICS_PREWARM": "0"})
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()


def tracker(stack: Stack, sender: str, index: int) -> list[dict]:
    status, body = http("GET", f"{stack.rasa_url(index)}/conversations/{sender}/tracker")
    assert status == 200, body
    return body["events"]


def check_tracker(stack: Stack, sender: str, sent: list[str], replies: list[list[str]]) -> None:
    """Every message once and in order, each followed by exactly the replies the customer got, turn by turn."""
    events = tracker(stack, sender, 0)
    assert events == tracker(stack, sender, 1)  # both processes read the same tracker
    turns: list[dict] = []
    for event in events:
        if event["event"] == "user":
            turns.append({"text": event["text"], "bot": [], "closed": False})
        elif turns and event["event"] == "bot":
            assert not turns[-1]["closed"], f"a reply after the turn ended: {event.get('text')!r}"
            turns[-1]["bot"].append(event.get("text") or "")
        elif turns and event["event"] == "action" and event["name"] == "action_listen":
            turns[-1]["closed"] = True
    assert len(turns) == len(sent)
    assert all(same_message(t["text"], text) for t, text in zip(turns, sent)), [t["text"] for t in turns]
    assert [len(t["bot"]) for t in turns] == [len(r) for r in replies]
    assert all(same_message(b, r) for t, rs in zip(turns, replies) for b, r in zip(t["bot"], rs)), \
        [t["bot"] for t in turns]
    assert all(t["closed"] for t in turns)
    # Not checked: timestamps sorted. The store's order is the truth; a timestamp is taken by whoever made the
    # event (e.g. the action server for the events its actions return), a moment before Rasa appends it.
    # no event twice (same kind, same content, same moment)
    keys = [(e["event"], e.get("name"), e.get("text"),
             json.dumps(e.get("value"), sort_keys=True) if e["event"] == "slot" else None, e["timestamp"])
            for e in events]
    assert len(keys) == len(set(keys))


def same_message(stored: str, sent: str) -> bool:
    """The tracker keeps personal data masked (138****0001, also digit runs in bot texts): each run of '*' in
    the stored text stands for some hidden characters, everything else must be the same."""
    if stored == sent:
        return True
    pattern = "".join(".+?" if part.startswith("*") else re.escape(part) for part in re.split(r"(\*+)", stored)
                      if part)
    return "*" in stored and re.fullmatch(pattern, sent, flags=re.S) is not None


def log_in_alternately(stack: Stack, sender: str, account: str, phone: str, first: int = 0):
    sent, replies = [], []

    def say(text: str) -> str:
        index = (first + len(sent)) % 2  # one process, then the other
        answer = stack.say(sender, text, index=index)
        sent.append(text)
        replies.append([r.get("text", "") for r in answer])
        return texts(answer)

    assert "登录类型" in say("我要登录")
    assert "资金账号" in say("投资者")
    assert "手机号" in say(account)
    assert phone[:3] + "****" + phone[-4:] in say(phone)
    assert "隐私政策" in say(latest_code(stack, phone))
    assert "登录成功" in say("同意")
    assert "已登录" in say("登录")  # the back-office session holds, on whichever process asks
    return sent, replies


def test_one_conversation_alternating_between_processes(pair):
    sender = "rest:two-rasa-" + os.urandom(4).hex()
    sent, replies = log_in_alternately(pair, sender, "80010001", ACCOUNTS["80010001"])
    check_tracker(pair, sender, sent, replies)


def test_several_conversations_at_once(pair):
    senders = {account: f"rest:two-rasa-{account}-{os.urandom(3).hex()}" for account in list(ACCOUNTS)[1:]}
    with ThreadPoolExecutor(max_workers=len(senders)) as pool:
        futures = {account: pool.submit(log_in_alternately, pair, sender, account, ACCOUNTS[account], i % 2)
                   for i, (account, sender) in enumerate(senders.items())}
        results = {account: future.result() for account, future in futures.items()}
    for account, (sent, replies) in results.items():
        check_tracker(pair, senders[account], sent, replies)


def test_simultaneous_messages_of_one_conversation_are_serialised(pair):
    """Two messages of one conversation hit both processes at once: the Redis lock lets one turn finish first."""
    sender = "rest:two-rasa-race-" + os.urandom(4).hex()
    first = [r.get("text", "") for r in pair.say(sender, "你好", index=0)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        a = pool.submit(pair.say, sender, "帮助", 0)
        b = pool.submit(pair.say, sender, "谢谢", 1)
        answers = {"帮助": [r.get("text", "") for r in a.result()], "谢谢": [r.get("text", "") for r in b.result()]}
    assert answers["帮助"] and answers["谢谢"]
    order = [e["text"] for e in tracker(pair, sender, 1) if e["event"] == "user"][1:]  # no PII here: unmasked
    assert sorted(order) == ["帮助", "谢谢"]
    check_tracker(pair, sender, ["你好", *order], [first, *(answers[text] for text in order)])
