"""Rasa event broker that writes every conversation event, masked, to the back-office's event log table
(backoffice/analytics/events.py) in the back-office database: SQLite by default, PostgreSQL in tests and
production (DATABASE_URL, as the back-office reads it).

Rasa's own SQLEventBroker stores each event as sent, phone and ID numbers in clear, one commit per event on
the turn's path. This one masks each event as the tracker store does (connectors/tracker_masking.mask_event)
and hands it to a writer thread that inserts in batches, so a turn never waits on the database: a turn's
events are a few Python dict copies on the event loop. When the database is away, events wait in memory (at
most MAX_PENDING, the oldest dropped beyond, counted in the log) and are written when it is back.

endpoints (scripts/rasa_endpoints.py writes it):

    event_broker:
      type: connectors.event_log.MaskingSQLEventBroker
"""
from __future__ import annotations

import asyncio
import logging
import os
import queue
import threading
from typing import Any

from rasa.core.brokers.broker import EventBroker
from sqlalchemy import insert

from backoffice.analytics.events import ConversationEvent, columns
from backoffice.core.config import var_dir
from backoffice.core.db import make_engine
from connectors.tracker_masking import mask_event

log = logging.getLogger(__name__)

MAX_PENDING = 50_000  # events held while the database is unreachable (a few MB)
BATCH = 500
FLUSH_SECONDS = 0.2
RETRY_SECONDS = 2.0


def database_url() -> str:
    return os.environ.get("DATABASE_URL") or f"sqlite:///{var_dir() / 'hall.db'}"


class MaskingSQLEventBroker(EventBroker):
    def __init__(self, url: str | None = None, **_ignored: Any):
        self.url = url or database_url()
        self.engine = make_engine(self.url)
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._dropped = 0
        self._thread = threading.Thread(target=self._run, name="event-log-writer", daemon=True)
        self._thread.start()

    @classmethod
    async def from_endpoint_config(cls, broker_config, event_loop=None) -> "MaskingSQLEventBroker":
        kwargs = dict(broker_config.kwargs or {}) if broker_config else {}
        return cls(url=(broker_config.url if broker_config else None) or kwargs.pop("url", None), **kwargs)

    def publish(self, event: dict[str, Any]) -> None:
        try:
            row = columns(mask_event(event))
        except Exception as exc:  # a malformed event must not fail the customer's turn
            log.warning("event not logged: %s", exc.__class__.__name__)
            return
        if self._queue.qsize() >= MAX_PENDING:
            try:
                self._queue.get_nowait()
                self._dropped += 1
            except queue.Empty:
                pass
        self._queue.put(row)

    def is_ready(self) -> bool:
        return self._thread.is_alive()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every event published so far is written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    async def close(self) -> None:
        await asyncio.to_thread(self._close)

    def _close(self) -> None:
        self.flush(timeout=10.0)
        self._stop.set()
        self._queue.put(None)
        self._thread.join(timeout=5.0)
        self.engine.dispose()

    # --- the writer thread --------------------------------------------------------------------------

    def _take(self) -> tuple[list[dict], list[threading.Event]]:
        rows, waiters = [], []
        try:
            item = self._queue.get(timeout=FLUSH_SECONDS)
        except queue.Empty:
            return rows, waiters
        while True:
            if isinstance(item, threading.Event):
                waiters.append(item)
            elif item is not None:
                rows.append(item)
            if len(rows) >= BATCH:
                break
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
        return rows, waiters

    def _write(self, rows: list[dict]) -> None:
        while rows:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(ConversationEvent.__table__), rows)
                return
            except Exception as exc:  # database away: keep the batch, try again (the type only: no PII)
                log.warning("event log write failed (%d events waiting): %s", len(rows) + self._queue.qsize(),
                            exc.__class__.__name__)
                if self._stop.wait(RETRY_SECONDS):
                    return

    def _run(self) -> None:
        while not self._stop.is_set():
            rows, waiters = self._take()
            if rows:
                self._write(rows)
            if self._dropped:
                log.warning("event log dropped %d events (database unreachable too long)", self._dropped)
                self._dropped = 0
            for waiter in waiters:
                waiter.set()
