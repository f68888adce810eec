"""Rasa event broker that writes every conversation event, masked, to the back-office's event log table
(backoffice/analytics/events.py) in the back-office database: SQLite by default, PostgreSQL in tests and
production (DATABASE_URL, as the back-office reads it).

Rasa's own SQLEventBroker stores each event as sent, phone and ID numbers in clear, one commit per event on
the turn's path. This one keeps the turn's cost to appending the event to a queue: a writer thread masks each
event as the tracker store does (connectors/tracker_masking.mask_event), makes its row and inserts in batches,
so a turn never waits on masking or on the database. When the database is away, events wait in memory (at most
MAX_PENDING, the oldest dropped beyond, counted in the log and in metrics) and are written when it is back.

Its cost is measured where it is spent: `hall_event_log_cpu_seconds_total{part}` (the turns' appends, the
writer's masking and inserts: thread CPU time), next to the events written, dropped and waiting; `make bench`
compares throughput with and without it.

endpoints (scripts/rasa_endpoints.py writes it):

    event_broker:
      type: connectors.event_log.MaskingSQLEventBroker
"""
from __future__ import annotations

import asyncio
import collections
import logging
import os
import threading
import time
from typing import Any

from prometheus_client import Counter, Gauge
from rasa.core.brokers.broker import EventBroker
from sqlalchemy import insert

from backoffice.analytics.events import ConversationEvent, columns, kept_parse_data
from backoffice.core.config import var_dir
from backoffice.core.db import make_engine
from connectors.tracker_masking import mask_event

log = logging.getLogger(__name__)

MAX_PENDING = 50_000  # events held while the database is unreachable (a few MB)
BATCH = 500
FLUSH_SECONDS = 0.2
RETRY_SECONDS = 2.0

WRITTEN = Counter("hall_event_log_events_total", "Conversation events written to the event log")
DROPPED = Counter("hall_event_log_dropped_total", "Events dropped (malformed, or the database away too long)")
CPU = Counter("hall_event_log_cpu_seconds_total", "CPU the event log spends: appends on the turn's path, "
              "masking and inserting in the writer thread", ["part"])
PENDING = Gauge("hall_event_log_pending", "Events waiting for the writer")
_PUBLISH_CPU, _WRITE_CPU = CPU.labels("publish"), CPU.labels("write")  # bound once: no label lookup per event


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir() / 'hall.db'}"


def _trimmed(event: dict) -> dict:
    """A user event with only the parse data the row keeps (events.kept_parse_data), cut before masking:
    masking the full ranking, the text again and the response selector would be work thrown away."""
    parse = event.get("parse_data")
    if event.get("event") != "user" or not isinstance(parse, dict):
        return event
    return {**event, "parse_data": kept_parse_data(parse)}


class MaskingSQLEventBroker(EventBroker):
    def __init__(self, url: str | None = None, **_ignored: Any):
        self.url = url or database_url()
        # no pre-ping: one writer, one connection, a round trip per batch saved; a connection a database restart
        # broke fails that write, which is retried on a fresh connection (SQLAlchemy invalidates it)
        self.engine = make_engine(self.url, pre_ping=False)
        # deque.append/popleft are atomic: the turn's side takes no lock and never wakes the writer
        self._pending: collections.deque = collections.deque()
        self._stop = threading.Event()
        self._dropped = 0
        PENDING.set_function(lambda: len(self._pending))
        self._thread = threading.Thread(target=self._run, name="event-log-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def from_endpoint_config(cls, broker_config, event_loop=None) -> "MaskingSQLEventBroker":
        kwargs = dict(broker_config.kwargs or {}) if broker_config else {}
        return cls(url=(broker_config.url if broker_config else None) or kwargs.pop("url", None), **kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        """On the turn's path: the event (a fresh dict Rasa made for us) is queued as it is."""
        started = time.perf_counter()
        if len(self._pending) >= MAX_PENDING:
            try:
                self._pending.popleft()
                self._dropped += 1
            except IndexError:
                pass
        self._pending.append(event)
        _PUBLISH_CPU.inc(time.perf_counter() - started)

    def is_ready(self) -> bool:
        return self._thread.is_alive()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event published so far is written (tests, shutdown)."""
        done = threading.Event()
        self._pending.append(done)
        return done.wait(timeout)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self.flush(timeout=10.0)
        self._stop.set()
        self._thread.join(timeout=5.0)
        self.engine.dispose()

    # --- the writer thread --------------------------------------------------------------------------

    def _take(self) -> tuple[list[dict], list[threading.Event]]:
        """Up to BATCH events as rows (masked here, off the turn's path) and the flushes waiting on them."""
        rows, waiters = [], []
        while len(rows) < BATCH:
            try:
                item = self._pending.popleft()
            except IndexError:
                break
            if isinstance(item, threading.Event):
                waiters.append(item)
                continue
            try:
                rows.append(columns(mask_event(_trimmed(item))))
            except Exception as exc:  # a malformed event is skipped, never the batch (the type only: no PII)
                log.warning("event not logged: %s", exc.__class__.__name__)
                DROPPED.inc()
        return rows, waiters

    def _write(self, rows: list[dict]) -> None:
        while rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(ConversationEvent.__table__), rows)
                WRITTEN.inc(len(rows))
                return
            except Exception as exc:  # database away: keep the batch, try again (the type only: no PII)
                log.warning("event log write failed (%d events waiting): %s", len(rows) + len(self._pending),
                            exc.__class__.__name__)
                if self._stop.wait(RETRY_SECONDS):
                    return

    def _run(self) -> None:
        while True:
            cpu = time.thread_time()
            rows, waiters = self._take()
            if rows:
                self._write(rows)
            _WRITE_CPU.inc(time.thread_time() - cpu)
            if self._dropped:
                log.warning("event log dropped %d events (database unreachable too long)", self._dropped)
                DROPPED.inc(self._dropped)
                self._dropped = 0
            for waiter in waiters:
                waiter.set()
            if self._stop.is_set() and not self._pending:
                return
            if len(self._pending) < BATCH:
                # gather for a while: one transaction per turn's few events would cost several times more
                # per event than one per batch (a stop or a flush waits at most this long)
                self._stop.wait(FLUSH_SECONDS)
