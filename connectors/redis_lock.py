"""A Redis lock store whose ticket lock holds across several Rasa processes.

Rasa 3.6's `RedisLockStore` keeps one JSON `TicketLock` per conversation and changes it by read-modify-write:
`issue_ticket` reads the lock, appends a ticket and writes the lock back; `finish_serving`, `update_lock` and
`cleanup` do the same. Two processes that receive a message of one conversation at the same moment both read
"no lock", both issue ticket 0 and both write: each believes it holds the lock, both run the turn, and the
second tracker save overwrites the first turn (found by tests/e2e/test_two_rasa.py: one of two simultaneous
messages vanished from the tracker). Rasa's fix for this (`ConcurrentRedisLockStore`) ships only in Rasa Pro.

Here every change of the stored lock is one optimistic Redis transaction (WATCH the key, compute the new lock,
MULTI/EXEC, retry on a conflict), so tickets are issued and removed exactly as Rasa's algorithm expects,
whatever the number of processes. The key also expires with its last ticket, so a process killed while
holding a lock leaves nothing behind for long.
"""
from __future__ import annotations

import json
import math
import time
from typing import Callable, Optional, TypeVar

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

T = TypeVar("T")
KEY_GRACE_SECONDS = 60  # the key outlives its last ticket by this much (a waiter still reads an expired ticket)


class AtomicRedisLockStore(RedisLockStore):
    """Rasa's ticket lock in Redis, each read-modify-write done as one transaction."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        # Rasa builds custom lock stores from the endpoints file as Class(endpoint_config=...)
        super().__init__(host=endpoint_config.url or "localhost", **endpoint_config.kwargs)

    def _atomically(self, conversation_id: str,
                    change: Callable[[Optional[TicketLock], str], "tuple[Optional[TicketLock], T]"]) -> T:
        """Apply `change` (the stored lock → the lock to store, None or empty deletes it; and a result)."""
        import redis

        key = self.key_prefix + conversation_id
        with self.red.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    lock = TicketLock.from_dict(json.loads(raw)) if raw else None
                    new, result = change(lock, conversation_id)
                    pipe.multi()
                    if new is None or not new.tickets:
                        pipe.delete(key)
                    else:
                        last = max(ticket.expires for ticket in new.tickets)
                        ttl = max(1, math.ceil(last - time.time()) + KEY_GRACE_SECONDS)
                        pipe.set(key, new.dumps(), ex=ttl)
                    pipe.execute()
                    return result
                except redis.WatchError:
                    continue  # another process changed the lock between our read and write: read again

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        def issue(lock: Optional[TicketLock], cid: str):
            lock = lock or TicketLock(cid)
            return lock, lock.issue_ticket(lock_lifetime)

        try:
            return self._atomically(conversation_id, issue)
        except Exception as exc:  # what Rasa's own issue_ticket raises, so its callers handle it alike
            raise LockError(f"Error while acquiring lock. Error:\n{exc}") from exc

    def update_lock(self, conversation_id: str) -> None:
        def drop_expired(lock: Optional[TicketLock], _cid: str):
            if lock is not None:
                lock.remove_expired_tickets()
            return lock, None

        self._atomically(conversation_id, drop_expired)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        def remove(lock: Optional[TicketLock], _cid: str):
            if lock is not None:
                lock.remove_ticket_for(ticket_number)
            return lock, None

        self._atomically(conversation_id, remove)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        # Rasa removes the ticket, then deletes the lock if nobody waits, in two separate steps: a ticket issued
        # in between would be deleted with the lock. One transaction here (an emptied lock is deleted).
        self.finish_serving(conversation_id, ticket_number)
