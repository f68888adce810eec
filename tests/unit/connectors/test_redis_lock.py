"""The Redis lock store serialises one conversation's turns across processes (real Redis, real processes)."""
from __future__ import annotations

import asyncio
import multiprocessing
import uuid
from urllib.parse import urlparse

import pytest
import redis
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from connectors.redis_lock import KEY_GRACE_SECONDS, AtomicRedisLockStore
from tests.support.databases import REDIS_URL

PROCESSES, TURNS = 4, 15


def endpoint(prefix: str) -> EndpointConfig:
    url = urlparse(REDIS_URL)
    # what scripts/rasa_endpoints.py writes, read back the way Rasa reads the endpoints file
    return EndpointConfig(url=url.hostname, type="connectors.redis_lock.AtomicRedisLockStore",
                          port=url.port or 6379, db=int(url.path.strip("/") or 0), key_prefix=prefix)


@pytest.fixture
def prefix():
    prefix = "locktest" + uuid.uuid4().hex[:8]
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


def _turns(prefix: str, conversation: str, start: multiprocessing.Event) -> None:
    """One Rasa process: TURNS turns of one conversation, each a non-atomic read-modify-write of its "tracker"."""
    store = LockStore.create(endpoint(prefix))
    client = redis.Redis.from_url(REDIS_URL)
    start.wait()

    async def run():
        for _ in range(TURNS):
            async with store.lock(conversation, lock_lifetime=30, wait_time_in_seconds=0.002):
                # Two holders at once would both pass this SET NX, or one turn's write would overwrite another's.
                if not client.set(f"{prefix}:inside", "1", nx=True):
                    client.incr(f"{prefix}:overlaps")
                count = int(client.get(f"{prefix}:count") or 0)
                await asyncio.sleep(0.001)
                client.set(f"{prefix}:count", count + 1)
                client.delete(f"{prefix}:inside")

    asyncio.run(run())


def test_endpoints_file_builds_the_atomic_store(prefix):
    store = LockStore.create(endpoint(prefix))
    assert isinstance(store, AtomicRedisLockStore)
    assert store.key_prefix.startswith(prefix)


def test_turns_of_one_conversation_in_several_processes_never_overlap(prefix):
    ctx = multiprocessing.get_context("fork")  # rasa is imported already: children start in milliseconds
    start = ctx.Event()
    workers = [ctx.Process(target=_turns, args=(prefix, "conv", start)) for _ in range(PROCESSES)]
    for worker in workers:
        worker.start()
    start.set()  # all processes hit the same (absent) lock at the same moment
    for worker in workers:
        worker.join(120)
        assert worker.exitcode == 0
    client = redis.Redis.from_url(REDIS_URL)
    assert int(client.get(f"{prefix}:overlaps") or 0) == 0
    assert int(client.get(f"{prefix}:count")) == PROCESSES * TURNS  # no turn lost
    store = LockStore.create(endpoint(prefix))
    assert store.get_lock("conv") is None  # the last turn removed the lock


async def test_tickets_are_served_in_order_and_the_lock_is_removed_after_the_last(prefix):
    store = LockStore.create(endpoint(prefix))
    first = store.issue_ticket("c", 30)
    second = store.issue_ticket("c", 30)
    assert (first, second) == (0, 1)
    lock = store.get_lock("c")
    assert not lock.is_locked(first) and lock.is_locked(second)
    store.cleanup("c", first)
    assert not store.get_lock("c").is_locked(second)  # the waiter is served next, its ticket kept
    store.cleanup("c", second)
    assert store.get_lock("c") is None


async def test_the_key_expires_with_its_last_ticket(prefix):
    """A process killed while holding a lock leaves no key behind for long."""
    store = LockStore.create(endpoint(prefix))
    store.issue_ticket("c", 30)
    ttl = store.red.ttl(store.key_prefix + "c")
    assert 30 <= ttl <= 30 + KEY_GRACE_SECONDS + 1


async def test_a_waiter_takes_over_from_a_holder_whose_ticket_expired(prefix):
    store = LockStore.create(endpoint(prefix))
    store.issue_ticket("c", 0.2)  # a holder that died mid-turn
    async with store.lock("c", lock_lifetime=30, wait_time_in_seconds=0.05) as lock:
        assert lock.now_serving == 1  # served only once the dead holder's ticket 0 expired
    assert store.get_lock("c") is None
