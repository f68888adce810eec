"""Replies within WeCom's budget, against the fake WeCom API (which refuses what WeCom refuses)."""
import time

from connectors.wechat_format import split_text
from connectors.wecom_metrics import WeComMetrics
from connectors.wecom_replies import CUT_NOTE, MORE_NOTE, Outbound, is_continue, pack
from connectors.wecom_store import MemoryWeComStore
from tests.unit.connectors.conftest import KFID

WHO = f"wecom:{KFID}:wmCustomer"


def text(t):
    return {"type": "text", "content": t}


def test_pack_cuts_the_last_message_at_a_sentence_and_says_so():
    long = "。".join(f"第{i}句说明内容" for i in range(300)) + "。"  # ~ 7 KB: 4 pieces of a turn
    items = [text("一"), text("二")] + [text(p) for p in split_text(long)]
    send, held = pack(items, 3, limit=2000)
    assert len(send) == 3 and send[:2] == items[:2]
    assert send[2]["content"].endswith(CUT_NOTE) and len(send[2]["content"].encode()) <= 2000
    head = send[2]["content"].removesuffix("\n" + CUT_NOTE)
    assert head.endswith("。") and long.startswith(head)  # whole sentences
    assert head + "".join(h["content"].replace("\n", "") for h in held) == long  # nothing lost
    assert pack(items, 0) == ([], items) and pack(items, len(items)) == (items, [])
    send, held = pack([text("a"), {"type": "image", "media_id": "m"}, text("b")], 2)
    assert send == [text("a"), text(MORE_NOTE)] and held == [{"type": "image", "media_id": "m"}, text("b")]


def test_continue_words():
    assert is_continue("继续") and is_continue(" 继续。") and is_continue("更多")
    assert not is_continue("继续办理账户解锁") and not is_continue("123456")


async def test_six_messages_after_one_customer_message_five_go_one_waits(fake_wecom, kf_client):
    fake, _ = fake_wecom
    store, metrics = MemoryWeComStore(), WeComMetrics()
    out = Outbound(kf_client, store, metrics)
    fake.customer_message(KFID, "wmCustomer", text="你好")
    await out.customer_spoke(WHO, time.time())
    outcome = await out.send(WHO, [text(f"第{i}条。") for i in range(1, 7)])
    sent = [m["text"]["content"] for m in fake.messages_for("wmCustomer")]
    assert outcome.sent == 5 and outcome.held == 1  # the 5th is cut (it fits whole), "第6条。" is held
    assert sent[:4] == ["第1条。", "第2条。", "第3条。", "第4条。"] and sent[4].startswith("第5条。")
    assert sent[4].endswith(CUT_NOTE) and not fake.refused
    # a console reply meanwhile waits behind what is held
    assert (await out.send(WHO, [text("人工客服：稍等")])).held == 1
    fake.customer_message(KFID, "wmCustomer", text="继续")
    await out.customer_spoke(WHO, time.time())
    assert (await out.flush(WHO)).sent == 2
    assert [m["text"]["content"] for m in fake.messages_for("wmCustomer")][5:] == ["第6条。", "人工客服：稍等"]
    assert metrics.sent == 7 and not fake.refused


async def test_nothing_is_sent_before_a_customer_message_and_nothing_is_lost(fake_wecom, kf_client):
    fake, _ = fake_wecom
    out = Outbound(kf_client, MemoryWeComStore(), WeComMetrics())
    assert (await out.send(WHO, [text("审批结果：已通过。")])).held == 1
    assert fake.messages_for("wmCustomer") == [] and fake.send_attempts == 0


async def test_a_session_wecom_refuses_holds_the_reply_and_a_bad_message_is_dropped(fake_wecom, kf_client):
    fake, _ = fake_wecom
    store, metrics = MemoryWeComStore(), WeComMetrics()
    out = Outbound(kf_client, store, metrics)
    fake.customer_message(KFID, "wmCustomer", text="你好")
    await out.customer_spoke(WHO, time.time())
    store.set("state:" + WHO, "1", 60)
    fake.servicer_accepts(KFID, "wmCustomer")  # a WeCom servicer took it: state 3
    outcome = await out.send(WHO, [text("一"), text("二")])
    assert outcome.held == 2 and outcome.sent == 0 and fake.refused[-1]["errcode"] == 95018
    assert store.get("state:" + WHO) is None  # the cached "bot holds it" is gone
    assert store.used(WHO) == 0  # the refused sends gave their slots back
    fake.servicer_ends(KFID, "wmCustomer")
    fake.customer_message(KFID, "wmCustomer", text="你好")
    await out.customer_spoke(WHO, time.time())
    outcome = await out.flush(WHO)
    assert outcome.sent == 2
    dropped = await out.send(WHO, [{"type": "image", "media_id": "not-uploaded"}])
    assert dropped.dropped == 1 and metrics.dropped == 1 and store.held_count(WHO) == 0


async def test_the_held_queue_is_bounded_and_what_does_not_fit_is_counted(kf_client):
    from connectors.wecom_replies import HELD_MAX

    store, metrics = MemoryWeComStore(), WeComMetrics()
    out = Outbound(kf_client, store, metrics)  # no customer message: everything is held
    await out.send(WHO, [text(str(i)) for i in range(HELD_MAX - 1)])
    outcome = await out.send(WHO, [text("a"), text("b"), text("c")])
    assert outcome.held == 1 and outcome.dropped == 2 and metrics.dropped == 2
    assert store.held_count(WHO) == HELD_MAX
