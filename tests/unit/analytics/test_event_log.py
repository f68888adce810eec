"""The event log: Rasa's tracker store streams every event through our broker into the back-office table,
masked, on SQLite and on real PostgreSQL."""
from __future__ import annotations

import asyncio
import json

from rasa.core.brokers.broker import EventBroker
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from sqlalchemy import create_engine, select

from backoffice.analytics.events import ConversationEvent
from connectors.event_log import MaskingSQLEventBroker
from connectors.tracker_masking import MaskingInMemoryTrackerStore
from scripts.rasa_endpoints import render

DOMAIN = Domain.from_yaml("""
version: "3.1"
slots:
  requested_slot:
    type: any
    mappings: [{type: custom}]
""")


def _rows(url: str) -> list[ConversationEvent]:
    engine = create_engine(url, future=True)
    with engine.connect() as conn:
        rows = list(conn.execute(select(ConversationEvent.__table__).order_by(ConversationEvent.id)))
    engine.dispose()
    return rows


def test_the_endpoints_file_names_the_broker():
    config = render(None, "http://127.0.0.1:5055/webhook", "t")
    assert config["event_broker"] == {"type": "connectors.event_log.MaskingSQLEventBroker"}
    assert "event_broker" not in render(None, "http://127.0.0.1:5055/webhook", "t", event_log=False)


def test_tracker_events_reach_the_table_masked(database_url):
    async def scenario():
        # loaded the way Rasa loads it from the endpoints file
        broker = await EventBroker.create(EndpointConfig(type="connectors.event_log.MaskingSQLEventBroker",
                                                         url=database_url))
        assert isinstance(broker, MaskingSQLEventBroker)
        store = MaskingInMemoryTrackerStore(DOMAIN, event_broker=broker)
        tracker = DialogueStateTracker("rest:alice", DOMAIN.slots)
        tracker.update(ActionExecuted("action_listen"))
        tracker.update(UserUttered("我要解锁账户", intent={"name": "unlock_account", "confidence": 0.93},
                                   input_channel="rest", metadata={"client_ip": "203.0.113.7"},
                                   parse_data={"intent": {"name": "unlock_account", "confidence": 0.93},
                                               "intent_ranking": [{"name": "unlock_account", "confidence": 0.93}] * 5,
                                               "entities": []}))
        tracker.update(ActiveLoop("unlock_account_form"))
        tracker.update(SlotSet("requested_slot", "account_number"))
        tracker.update(BotUttered("请输入资金账号，短信将发送至 13800000001：http://127.0.0.1:8000/h5/privacy"))
        await store.save(tracker)
        tracker.update(UserUttered("80010001 手机13800000001 身份证110105198503120012",
                                   intent={"name": "inform", "confidence": 0.41}, input_channel="rest"))
        await store.save(tracker)
        assert broker.flush()
        await broker.close()

    asyncio.run(scenario())
    rows = _rows(database_url)
    assert [r.event for r in rows] == ["action", "user", "active_loop", "slot", "bot", "user"]
    action, user, loop, slot, bot, answer = rows
    assert (user.name, user.confidence, user.channel, user.sender) == ("unlock_account", 0.93, "rest", "rest:alice")
    assert len(user.data["parse_data"]["intent_ranking"]) == 3
    assert loop.name == "unlock_account_form" and (slot.name, slot.value) == ("requested_slot", "account_number")
    assert "13800000001" not in bot.text and "http://127.0.0.1:8000/h5/privacy" in bot.text
    assert answer.text == "80****01 手机138****0001 身份证110***********0012"
    everything = json.dumps([dict(r._mapping) for r in rows], default=str, ensure_ascii=False)
    for secret in ("13800000001", "110105198503120012", "80010001", "203.0.113.7"):
        assert secret not in everything
    assert user.at.year >= 2024


def test_events_wait_while_the_database_is_away(tmp_path):
    """No table yet (the back-office has not migrated): the events are kept and written once it exists."""
    from backoffice.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'late.db'}"
    broker = MaskingSQLEventBroker(url=url)
    broker.publish({"sender_id": "rest:bob", "event": "user", "text": "你好", "timestamp": 1_800_000_000.0,
                    "parse_data": {"intent": {"name": "greet", "confidence": 0.99}}, "input_channel": "rest"})
    assert not broker.flush(timeout=0.5)  # the write failed: the batch waits
    upgrade(url)
    assert broker.flush(timeout=10)
    asyncio.run(broker.close())
    assert [(r.sender, r.name, r.text) for r in _rows(url)] == [("rest:bob", "greet", "你好")]


def test_retention_purges_old_events(services, clock):
    from datetime import timedelta

    from backoffice.maintenance.retention import Retention

    now = clock.utcnow()
    with services.db.session() as s:
        for days in (91, 89):
            s.add(ConversationEvent(sender="rest:old", at=now - timedelta(days=days), event="user", data={}))
    assert Retention(services).purge()["events"] == 1
    with services.db.session() as s:
        assert [r.at.day for r in s.execute(select(ConversationEvent)).scalars()] == [(now - timedelta(days=89)).day]


class _Collecting:
    """A broker that keeps what it is given (the real one is tested above)."""

    def __init__(self):
        self.events = []

    def publish(self, event):
        self.events.append(event)


def test_each_event_is_streamed_once_without_a_second_load():
    """The store notes how many events a tracker had when it handed it out; a save streams only the rest."""
    import uuid

    from connectors.tracker_masking import MaskingRedisTrackerStore
    from tests.support.databases import REDIS_URL

    async def scenario(store):
        broker = store.event_broker = _Collecting()
        tracker = await store.get_or_create_tracker("rest:carol")  # new: saved with its action_listen
        tracker.update(UserUttered("你好", intent={"name": "greet", "confidence": 0.99}))
        await store.save(tracker)
        loads = []
        original = store.retrieve

        async def counting(sender_id):
            loads.append(sender_id)
            return await original(sender_id)

        store.retrieve = counting
        again = await store.get_or_create_tracker("rest:carol")  # the next turn
        again.update(BotUttered("您好"))
        again.update(ActionExecuted("action_listen"))
        await store.save(again)
        await store.save(again)  # nothing new
        assert loads == ["rest:carol"]  # the turn's own load only: saving loaded nothing
        return [e["event"] for e in broker.events]

    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    stores = [MaskingInMemoryTrackerStore(DOMAIN),
              MaskingRedisTrackerStore(DOMAIN, host=host, port=int(port), key_prefix=f"t{uuid.uuid4().hex[:8]}",
                                       record_exp=60)]
    for store in stores:
        assert asyncio.run(scenario(store)) == ["action", "user", "bot", "action"], type(store).__name__


def test_the_turn_only_queues_the_writer_masks_and_counts_its_cost(tmp_path):
    """Masking and rows are made in the writer thread; a malformed event is dropped there, never raised into the
    turn; the CPU each side spends is counted (hall_event_log_cpu_seconds_total)."""
    from backoffice.core.migrate import upgrade
    from tests.support.metrics import sample

    url = f"sqlite:///{tmp_path / 'events.db'}"
    upgrade(url)
    broker = MaskingSQLEventBroker(url=url)
    before = {"written": sample("hall_event_log_events_total"), "dropped": sample("hall_event_log_dropped_total"),
              "publish": sample("hall_event_log_cpu_seconds_total", part="publish"),
              "write": sample("hall_event_log_cpu_seconds_total", part="write")}
    broker.publish({"sender_id": "rest:dan", "event": "user", "parse_data": 5, "timestamp": 1_800_000_000.0})
    event = {"sender_id": "rest:dan", "event": "user", "text": "手机13800000001", "timestamp": 1_800_000_000.0,
             "parse_data": {"intent": {"name": "inform", "confidence": 0.5}}}
    broker.publish(event)
    assert event["text"] == "手机13800000001"  # queued as it came: masked only in the writer
    assert broker.flush(timeout=10)
    asyncio.run(broker.close())
    assert [(r.sender, r.text) for r in _rows(url)] == [("rest:dan", "手机138****0001")]
    assert sample("hall_event_log_events_total") == before["written"] + 1
    assert sample("hall_event_log_dropped_total") == before["dropped"] + 1
    assert sample("hall_event_log_cpu_seconds_total", part="publish") > before["publish"]
    assert sample("hall_event_log_cpu_seconds_total", part="write") > before["write"]
