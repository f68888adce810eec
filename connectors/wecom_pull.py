"""Pulling 微信客服 messages: one puller per customer-service account across all processes, a durable cursor,
deduplication by msgid, one worker per customer so each customer's messages are handled in order.

WeCom's callback only says "account X has news" (with a sync token valid 10 minutes). `trigger(kfid)` marks
the account as needing a pull (a flag in the shared store, so a trigger that reaches a replica which is not
the puller is not lost) and starts a pull unless this process already runs one:

    lock pull:<kfid> (or leave it: the holder sees the flag)
      while the flag was set: clear it, then page through kf/sync_msg from the stored cursor:
          store the page (dedup by msgid + enqueue per customer, one atomic step)
          advance the cursor                      ← a crash before this replays the page: dedup drops it
          start a worker for each customer with new messages
    unlock; look at the flag once more (a trigger that came while unlocking)

A worker (`busy:<sender>` lock, renewed while it runs) handles its customer's queue front to back: the message
stays at the front until handled (a worker killed mid-turn leaves it for the next one, which retries it at
most MAX_ATTEMPTS times). A sweep every WECOM_SWEEP_SECONDS re-pulls accounts whose pull failed and
drains queues that a dead process left behind; at start-up every known account is pulled once (messages that
arrived while no process listened).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import uuid
from typing import Awaitable, Callable

from backoffice.core import tracing
from connectors.wecom_api import KfClient, WeComAPIError
from connectors.wecom_ids import sender_id

log = logging.getLogger("connectors.wecom")

PULL_LOCK_TTL = 30.0
BUSY_TTL = 60.0
PENDING_TTL = 3 * 86400.0  # a pull that keeps failing is retried by the sweep while WeCom still has the messages
SYNC_TOKEN_TTL = 600  # WeCom's sync token lives 10 minutes
MAX_ATTEMPTS = 3
CUSTOMER = 3  # origin: 3 the customer, 4 a system event, 5 a servicer in WeCom

# process(sender, message) handles one stored message
Process = Callable[[str, dict], Awaitable[None]]


def sync_token_key(kfid: str) -> str:
    return f"synctoken:{kfid}"


def message_sender(msg: dict) -> str | None:
    """The customer a pulled message or event is about (events carry the ids inside `event`)."""
    event = msg.get("event") if isinstance(msg.get("event"), dict) else {}
    return sender_id(event.get("open_kfid") or msg.get("open_kfid"),
                     event.get("external_userid") or msg.get("external_userid"))


class Puller:
    def __init__(self, client: KfClient, store, metrics, process: Process, *, limit: int | None = None,
                 sweep_seconds: float | None = None):
        self.client, self.store, self.metrics, self.process = client, store, metrics, process
        self.limit = limit or int(os.environ.get("WECOM_SYNC_LIMIT", "1000"))
        self.sweep_seconds = sweep_seconds or float(os.environ.get("WECOM_SWEEP_SECONDS", "30"))
        # Fault-injection point for tests/faults (default 0): wait between storing a page and advancing the cursor.
        self.pause_after_store = float(os.environ.get("WECOM_FAULT_PAUSE_AFTER_STORE", "0") or 0)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._pulling: set[str] = set()
        self._draining: set[str] = set()
        self._tasks: set[asyncio.Task] = set()
        self._sweeper: asyncio.Task | None = None

    async def _run(self, func, *args):
        return await asyncio.to_thread(func, *args)

    def _spawn(self, coro) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # --- pulling ------------------------------------------------------------------------------------------
    async def trigger(self, kfid: str, token: str | None = None) -> None:
        """Note that `kfid` has news (durably), then pull in the background."""
        if token:
            await self._run(self.store.set, sync_token_key(kfid), token, SYNC_TOKEN_TTL)
        await self._run(self.store.remember_account, kfid)
        await self._run(self.store.flag, f"pending:{kfid}", PENDING_TTL)
        if kfid not in self._pulling:
            self._pulling.add(kfid)
            self._spawn(self._pull_loop(kfid))

    async def _exclusive(self, name: str, ttl: float, work, again) -> None:
        """`work()` under the lock `name` (renewed while it runs), repeated while `again()` finds more after
        unlocking; nothing when another process holds the lock (it will find the work)."""
        while await self._run(self.store.lock, name, self.owner, ttl):
            try:
                async with self._heartbeat(name, ttl):
                    await work()
            finally:
                await self._run(self.store.unlock, name, self.owner)
            if not await again():
                return

    async def _pull_loop(self, kfid: str) -> None:
        async def work():
            while await self._run(self.store.take_flag, f"pending:{kfid}"):
                try:
                    await self._pull_all(kfid)
                except Exception as exc:  # retried by the sweep (or the next callback)
                    self.metrics.pull_errors += 1
                    log.warning("WeCom pull failed: %s", exc)
                    await self._run(self.store.flag, f"retry:{kfid}", PENDING_TTL)
                    return

        async def again():  # a trigger that came while we were unlocking
            return await self._run(self.store.has_flag, f"pending:{kfid}")

        try:
            await self._exclusive(f"pull:{kfid}", PULL_LOCK_TTL, work, again)
        finally:
            self._pulling.discard(kfid)

    async def _pull_all(self, kfid: str) -> None:
        token = await self._run(self.store.get, sync_token_key(kfid)) or ""
        cursor = await self._run(self.store.cursor, kfid)
        while True:
            try:
                page = await self.client.sync_msg(kfid, cursor, token, self.limit)
            except WeComAPIError as exc:
                if not token:
                    raise
                log.info("WeCom sync token refused (%s): pulling without it", exc.errcode)
                token = ""
                await self._run(self.store.delete, sync_token_key(kfid))
                continue
            self.metrics.pulls += 1
            self.metrics.pulled += len(page.messages)
            senders = await self._store_page(page.messages)
            if self.pause_after_store and senders:
                log.warning("fault injection: pausing %.1f s between storing a page and advancing the cursor",
                            self.pause_after_store)
                await asyncio.sleep(self.pause_after_store)
            if page.next_cursor and page.next_cursor != cursor:
                cursor = page.next_cursor
                await self._run(self.store.set_cursor, kfid, cursor)
            for sender in dict.fromkeys(senders):
                self.drain_soon(sender)
            if not page.has_more:
                return

    async def _store_page(self, messages: list[dict]) -> list[str]:
        items = []
        for msg in messages:
            msgid = msg.get("msgid")
            if not isinstance(msgid, str) or not msgid:
                continue
            if msg.get("msgtype") != "event" and msg.get("origin") != CUSTOMER:
                self.metrics.ignored += 1  # a system message, or a servicer's own message in WeCom
                continue
            sender = message_sender(msg)
            if sender is None:
                if msg.get("msgtype") != "event" or (msg.get("event") or {}).get("external_userid"):
                    self.metrics.refused_ids += 1
                    log.warning("WeCom message with an unusable id ignored")
                continue
            items.append((msgid, sender, json.dumps(msg, ensure_ascii=False)))
        new = await self._run(self.store.store, items)
        self.metrics.stored += len(new)
        self.metrics.duplicates += len(items) - len(new)
        return new

    # --- one worker per customer -------------------------------------------------------------------------
    def drain_soon(self, sender: str) -> None:
        if sender not in self._draining:
            self._draining.add(sender)
            self._spawn(self._drain(sender))

    async def _drain(self, sender: str) -> None:
        async def work():
            while (raw := await self._run(self.store.peek, sender)) is not None:
                await self._handle(sender, raw)
                await self._run(self.store.pop, sender)

        async def again():  # a message that arrived while we were unlocking
            return not await self._run(self.store.settle, sender)

        try:
            await self._exclusive(f"busy:{sender}", BUSY_TTL, work, again)
        except Exception as exc:  # the store is unreachable: the sweep takes the queue up again
            log.warning("WeCom worker stopped: %s", exc.__class__.__name__)
        finally:
            self._draining.discard(sender)

    async def _handle(self, sender: str, raw: str) -> None:
        msg = json.loads(raw)
        attempts = await self._run(self.store.attempt, str(msg.get("msgid")))
        if attempts > MAX_ATTEMPTS:
            log.error("WeCom message given up after %d attempts", MAX_ATTEMPTS)
            self.metrics.dropped += 1
            return
        # a trace of its own per pulled message (linked to the callback that triggered the pull), the turn inside
        with tracing.root_span("wecom message", {"hall.channel": "wecom", "hall.attempt": attempts}):
            try:
                await self.process(sender, msg)
            except Exception:
                log.exception("WeCom message handling failed")

    @contextlib.asynccontextmanager
    async def _heartbeat(self, name: str, ttl: float):
        """Keep a lock while the block runs (renewed at a third of its lifetime)."""
        async def renew():
            while True:
                await asyncio.sleep(ttl / 3)
                if not await self._run(self.store.renew, name, self.owner, ttl):
                    log.warning("WeCom lock %s lost", name.split(":")[0])
                    return

        task = asyncio.get_running_loop().create_task(renew())
        try:
            yield
        finally:
            task.cancel()

    # --- start-up and sweep ------------------------------------------------------------------------------
    def start(self) -> None:
        """Recover at start-up and sweep periodically (call once the event loop runs)."""
        if self._sweeper is None or self._sweeper.done():
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever())

    async def idle(self) -> None:
        """Wait until no pull or worker of this process runs (tests, orderly shutdown)."""
        while self._tasks:
            await asyncio.wait(list(self._tasks))

    async def stop(self) -> None:
        for task in [self._sweeper, *self._tasks]:
            if task is not None:
                task.cancel()

    async def sweep(self, startup: bool = False) -> None:
        for kfid in await self._run(self.store.accounts):
            retry = await self._run(self.store.take_flag, f"retry:{kfid}")
            if startup or retry or await self._run(self.store.has_flag, f"pending:{kfid}"):
                await self.trigger(kfid)
        for sender in await self._run(self.store.ready):
            self.drain_soon(sender)

    async def _sweep_forever(self) -> None:
        startup = True
        while True:
            try:
                await self.sweep(startup)
                startup = False
            except Exception as exc:  # Redis away: try again next round
                log.warning("WeCom sweep failed: %s", exc.__class__.__name__)
            await asyncio.sleep(self.sweep_seconds)
