"""The channel's durable state, in memory and on real Redis: the same behaviour from both."""
import time

from connectors.wecom_store import MemoryWeComStore


def test_store_deduplicates_by_msgid_and_queues_per_customer_in_order(wecom_store):
    s = wecom_store
    new = s.store([("m1", "wecom:k:a", "a1"), ("m2", "wecom:k:b", "b1"), ("m3", "wecom:k:a", "a2")])
    assert new == ["wecom:k:a", "wecom:k:b", "wecom:k:a"]
    assert s.store([("m1", "wecom:k:a", "a1"), ("m3", "wecom:k:a", "a2"), ("m4", "wecom:k:a", "a3")]) == ["wecom:k:a"]
    assert s.ready() == ["wecom:k:a", "wecom:k:b"]
    assert s.peek("wecom:k:a") == "a1" and s.peek("wecom:k:a") == "a1"  # peeking does not take
    assert [s.pop("wecom:k:a") for _ in range(4)] == ["a1", "a2", "a3", None]
    assert s.settle("wecom:k:a") and s.ready() == ["wecom:k:b"]
    assert not s.settle("wecom:k:b")  # its queue is not empty: it stays ready


def test_cursor_accounts_flags_and_attempts(wecom_store):
    s = wecom_store
    assert s.cursor("wk1") == ""
    s.set_cursor("wk1", "CUR1")
    s.remember_account("wk1")
    s.remember_account("wk1")
    assert s.cursor("wk1") == "CUR1" and s.accounts() == ["wk1"]
    assert not s.take_flag("pending:wk1")
    s.flag("pending:wk1", 60)
    assert s.has_flag("pending:wk1") and s.take_flag("pending:wk1") and not s.has_flag("pending:wk1")
    assert [s.attempt("m9") for _ in range(3)] == [1, 2, 3]


def test_locks_belong_to_their_owner(wecom_store):
    s = wecom_store
    assert s.lock("pull:wk1", "me", 30) and not s.lock("pull:wk1", "you", 30)
    assert not s.renew("pull:wk1", "you", 30) and s.renew("pull:wk1", "me", 30)
    s.unlock("pull:wk1", "you")  # not theirs to release
    assert not s.lock("pull:wk1", "you", 30)
    s.unlock("pull:wk1", "me")
    assert s.lock("pull:wk1", "you", 30)


def test_the_budget_is_five_per_customer_message_and_shared(wecom_store):
    s, who = wecom_store, "wecom:k:c"
    assert s.reserve(who, 3, 5) == 0  # no customer message: nothing may be sent
    s.open_window(who, time.time() + 3600)
    assert s.reserve(who, 3, 5) == 3 and s.reserve(who, 3, 5) == 2 and s.reserve(who, 1, 5) == 0
    s.unreserve(who, 1)  # one of them was not sent after all
    assert s.used(who) == 4 and s.reserve(who, 2, 5) == 1
    s.open_window(who, time.time() + 3600)  # the customer wrote again
    assert s.used(who) == 0 and s.reserve(who, 6, 5) == 5


def test_the_window_closes_after_48_hours():
    from backoffice.core.clock import ManualClock

    clock = ManualClock(1_800_000_000.0)
    s = MemoryWeComStore(clock)
    s.open_window("wecom:k:d", clock.now() + 48 * 3600)
    assert s.reserve("wecom:k:d", 1, 5) == 1
    clock.advance(48 * 3600 + 1)
    assert s.reserve("wecom:k:d", 1, 5) == 0


def test_held_messages_keep_their_order(wecom_store):
    s, who = wecom_store, "wecom:k:e"
    s.hold(who, ["3", "4"], 60)
    s.hold(who, ["1", "2"], 60, front=True)  # what could not be sent of an earlier batch goes first
    s.hold(who, ["5"], 60)
    assert s.held_count(who) == 5
    assert s.take_held(who) == ["1", "2", "3", "4", "5"] and s.take_held(who) == [] and s.held_count(who) == 0


def test_small_values_expire(wecom_store):
    s = wecom_store
    s.set("state:x", "1", 60)
    assert s.get("state:x") == "1"
    s.delete("state:x")
    assert s.get("state:x") is None
