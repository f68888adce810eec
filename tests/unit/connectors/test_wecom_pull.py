"""Pulling: paging, the durable cursor, msgid dedup, per-customer order, one puller across processes, a crash
between storing a page and advancing the cursor, retries. Real fake-WeCom HTTP, memory and Redis stores."""
import asyncio
import json

import pytest

from connectors.wecom_api import KfClient
from connectors.wecom_metrics import WeComMetrics
from connectors.wecom_pull import Puller
from tests.unit.connectors.conftest import KFID


class Recorder:
    """The message handler: records (sender, text) and can be slow."""

    def __init__(self, delay=0.0):
        self.seen, self.delay = [], delay

    async def __call__(self, sender, msg):
        await asyncio.sleep(self.delay)
        body = msg.get("text") or msg.get("event") or {}
        self.seen.append((sender, body.get("content") or body.get("event_type")))


def puller(settings, store, handler, limit=1000):
    client = KfClient(settings, metrics=WeComMetrics(), backoff=(0.01, 0.02))
    return Puller(client, store, client.metrics, handler, limit=limit, sweep_seconds=3600)


async def test_pages_are_followed_stored_and_the_cursor_kept(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    for i in range(5):
        fake.customer_message(KFID, "wmA", text=f"a{i}")
    handler = Recorder()
    p = puller(settings, wecom_store, handler, limit=2)
    await p.trigger(KFID, fake.sync_token(KFID))
    await p.idle()
    assert [t for _, t in handler.seen] == ["a0", "a1", "a2", "a3", "a4"]
    assert {s for s, _ in handler.seen} == {f"wecom:{KFID}:wmA"}
    assert [c["returned"] for c in fake.sync_calls] == [2, 2, 1] and all(c["token"] for c in fake.sync_calls)
    assert wecom_store.cursor(KFID) and p.metrics.stored == 5 and wecom_store.ready() == []
    # the next pull starts at the stored cursor: only the new message
    fake.customer_message(KFID, "wmA", text="a5")
    await p.trigger(KFID)
    await p.idle()
    assert fake.sync_calls[-1]["returned"] == 1 and handler.seen[-1][1] == "a5"


async def test_replayed_messages_and_a_lost_cursor_make_no_second_turn(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    fake.customer_message(KFID, "wmA", text="你好")
    fake.customer_message(KFID, "wmB", text="帮助")
    handler = Recorder()
    p = puller(settings, wecom_store, handler)
    await p.trigger(KFID)
    await p.idle()
    fake.duplicate_last(KFID, 2)  # WeCom serves them again
    await p.trigger(KFID)
    await p.idle()
    wecom_store.set_cursor(KFID, "")  # the cursor is lost: 3 days are replayed
    await p.trigger(KFID)
    await p.idle()
    assert sorted(t for _, t in handler.seen) == ["你好", "帮助"]
    assert p.metrics.duplicates == 2 + 4 and p.metrics.stored == 2  # the replayed 2, then all 4 again


async def test_what_is_not_the_customers_is_ignored_and_bad_ids_refused(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    fake.customer_message(KFID, "wmA", text="你好")
    fake.servicer_message(KFID, "wmA", "我是人工客服")  # origin 5
    fake._append(KFID, {"origin": 4, "msgtype": "text", "text": {"content": "系统消息"}})
    fake.customer_message(KFID, "wm bad\tid", text="x")
    fake.enter_session(KFID, "wmA")
    handler = Recorder()
    p = puller(settings, wecom_store, handler)
    await p.trigger(KFID)
    await p.idle()
    assert [t for _, t in handler.seen] == ["你好", "enter_session"]
    assert p.metrics.ignored == 2 and p.metrics.refused_ids == 1


async def test_each_customer_in_order_customers_in_parallel(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    for i in range(3):
        fake.customer_message(KFID, "wmA", text=f"a{i}")
        fake.customer_message(KFID, "wmB", text=f"b{i}")
    handler = Recorder(delay=0.05)
    p = puller(settings, wecom_store, handler)
    await p.trigger(KFID)
    await p.idle()
    by = {}
    for sender, text in handler.seen:
        by.setdefault(sender.rsplit(":", 1)[1], []).append(text)
    assert by == {"wmA": ["a0", "a1", "a2"], "wmB": ["b0", "b1", "b2"]}
    assert [t[0] for _, t in handler.seen[:2]] != ["a", "a"]  # B did not wait for all of A


async def test_a_crash_between_storing_and_advancing_the_cursor_loses_and_repeats_nothing(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    fake.customer_message(KFID, "wmA", text="一")
    fake.customer_message(KFID, "wmA", text="二")
    handler = Recorder()
    crashing = puller(settings, wecom_store, handler)

    class Killed(BaseException):
        pass

    original = wecom_store.set_cursor

    def die(*_):
        raise Killed()

    wecom_store.remember_account(KFID)  # as trigger() does before pulling
    wecom_store.set_cursor = die  # the process dies right after storing the page
    crashing.drain_soon = lambda sender: None  # … before any worker started
    with pytest.raises(Killed):
        await crashing._pull_all(KFID)
    wecom_store.set_cursor = original
    assert wecom_store.cursor(KFID) == "" and handler.seen == []
    for name in ("pull:" + KFID,):
        wecom_store.unlock(name, crashing.owner)
    fake.customer_message(KFID, "wmA", text="三")
    restarted = puller(settings, wecom_store, handler)
    await restarted.sweep(startup=True)  # what a restarted process does first
    await restarted.idle()
    assert [t for _, t in handler.seen] == ["一", "二", "三"]
    assert restarted.metrics.duplicates == 2 and wecom_store.cursor(KFID)


async def test_one_puller_per_account_across_processes(fake_wecom, wecom_store):
    """Two pullers (two replicas) on one store, triggered together many times: every message handled once."""
    fake, settings = fake_wecom
    handler = Recorder(delay=0.01)
    first, second = puller(settings, wecom_store, handler, limit=3), puller(settings, wecom_store, handler, limit=3)
    for round_ in range(4):
        for i in range(5):
            fake.customer_message(KFID, f"wm{i % 2}", text=f"r{round_}m{i}")
        await asyncio.gather(*(p.trigger(KFID) for p in (first, second, first, second)))
    for _ in range(3):
        await asyncio.gather(first.idle(), second.idle())
        await asyncio.gather(first.sweep(), second.sweep())
    await asyncio.gather(first.idle(), second.idle())
    texts = [t for _, t in handler.seen]
    assert sorted(texts) == sorted(f"r{r}m{i}" for r in range(4) for i in range(5)) and len(texts) == 20
    for uid in ("wm0", "wm1"):
        mine = [t for s, t in handler.seen if s.endswith(uid)]
        assert mine == sorted(mine, key=lambda t: (int(t[1]), int(t[3])))


async def test_a_refused_sync_token_falls_back_and_a_failed_pull_is_retried_by_the_sweep(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    fake.customer_message(KFID, "wmA", text="你好")
    handler = Recorder()
    p = puller(settings, wecom_store, handler)
    await p.trigger(KFID, "ENC-not-issued")
    await p.idle()
    assert handler.seen and fake.sync_calls[-1]["token"] is False
    fake.customer_message(KFID, "wmA", text="在吗")
    fake.fail_next("kf/sync_msg", 45009, times=5)  # more than the retries
    await p.trigger(KFID)
    await p.idle()
    assert p.metrics.pull_errors == 1 and len(handler.seen) == 1
    await p.sweep()
    await p.idle()
    assert [t for _, t in handler.seen] == ["你好", "在吗"]


async def test_a_message_that_keeps_killing_its_worker_is_given_up(fake_wecom, wecom_store):
    fake, settings = fake_wecom
    fake.customer_message(KFID, "wmA", text="毒")
    handler = Recorder()
    p = puller(settings, wecom_store, handler)
    raw = None

    async def store_only():
        nonlocal raw
        await p._store_page((await p.client.sync_msg(KFID)).messages)
        raw = wecom_store.peek(f"wecom:{KFID}:wmA")

    await store_only()
    for _ in range(3):
        wecom_store.attempt(json.loads(raw)["msgid"])  # three workers died on it
    p.drain_soon(f"wecom:{KFID}:wmA")
    await p.idle()
    assert handler.seen == [] and p.metrics.dropped == 1 and wecom_store.peek(f"wecom:{KFID}:wmA") is None
