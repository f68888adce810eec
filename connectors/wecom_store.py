"""Durable state of the 微信客服 channel: Redis when REDIS_URL is set (shared by every worker, replica and the
back-office), process memory otherwise (`make run`: one Rasa worker; the console's replies then count
against a separate budget in the back-office process).

- the sync cursor per customer-service account (`open_kfid`), advanced only after a page is stored;
- pulled messages, deduplicated by `msgid` (kept 4 days: WeCom serves the last 3) and queued per customer in
  arrival order (`inbox`), with the set of customers whose queue is not empty (`ready`), so any process can
  pick up a queue a dead one left;
- locks with an owner and a lifetime (one puller per account, one worker per customer across replicas) and
  "pull again" flags;
- the reply budget per customer (5 messages within 48 h after the customer's last message) and the messages
  held back for the customer's next message.
"""
from __future__ import annotations

import threading
import time
from collections import deque

DEDUP_SECONDS = 4 * 86400


class RedisWeComStore:
    # KEYS: seen keys…, inboxes…, ready; ARGV: ttl ms, then per message: sender, payload. Dedup and enqueue in
    # one step, so a message is either queued or recognisably not new.
    _STORE = """
local n = (#KEYS - 1) / 2
local ready = KEYS[#KEYS]
local new = {}
for i = 1, n do
  if redis.call('SET', KEYS[i], '1', 'PX', ARGV[1], 'NX') then
    redis.call('RPUSH', KEYS[n + i], ARGV[2 * i + 1])
    redis.call('SADD', ready, ARGV[2 * i])
    table.insert(new, ARGV[2 * i])
  end
end
return new
"""
    _SETTLE = """
if redis.call('LLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[1]) return 1 end
return 0
"""
    _RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
    _UNLOCK = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
    # KEYS: window, count; ARGV: wanted, limit. The window key expires when the 48 h run out.
    _RESERVE = """
local left = redis.call('PTTL', KEYS[1])
if left <= 0 then return 0 end
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local k = math.min(tonumber(ARGV[1]), tonumber(ARGV[2]) - used)
if k <= 0 then return 0 end
redis.call('INCRBY', KEYS[2], k)
redis.call('PEXPIRE', KEYS[2], left)
return k
"""
    _UNRESERVE = """
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used <= 0 then return 0 end
return redis.call('DECRBY', KEYS[1], math.min(used, tonumber(ARGV[1])))
"""

    def __init__(self, url: str, prefix: str = "hall:"):
        import redis

        self.client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.prefix = prefix + "wecom:"
        self._scripts = {name: self.client.register_script(getattr(self, "_" + name.upper()))
                         for name in ("store", "settle", "renew", "unlock", "reserve", "unreserve")}

    def _k(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    # cursor and accounts
    def cursor(self, kfid: str) -> str:
        return self.client.get(self._k("cursor", kfid)) or ""

    def set_cursor(self, kfid: str, cursor: str) -> None:
        self.client.set(self._k("cursor", kfid), cursor)

    def remember_account(self, kfid: str) -> None:
        self.client.sadd(self._k("accounts"), kfid)

    def accounts(self) -> list[str]:
        return sorted(self.client.smembers(self._k("accounts")))

    # pulled messages
    def store(self, items: list[tuple[str, str, str]]) -> list[str]:
        """items: (msgid, sender, payload). Returns the senders of the new ones, in order."""
        if not items:
            return []
        keys = [self._k("seen", msgid) for msgid, _, _ in items] + [self._k("inbox", s) for _, s, _ in items]
        args = [int(DEDUP_SECONDS * 1000)] + [v for _, s, p in items for v in (s, p)]
        return list(self._scripts["store"](keys=keys + [self._k("ready")], args=args))

    def peek(self, sender: str) -> str | None:
        return self.client.lindex(self._k("inbox", sender), 0)

    def pop(self, sender: str) -> str | None:
        return self.client.lpop(self._k("inbox", sender))

    def attempt(self, msgid: str) -> int:
        """How many times processing of this message has started (a message that kills its worker is retried
        a bounded number of times)."""
        key = self._k("attempt", msgid)
        with self.client.pipeline() as pipe:
            pipe.incr(key)
            pipe.expire(key, DEDUP_SECONDS)
            return int(pipe.execute()[0])

    def settle(self, sender: str) -> bool:
        """Leave the ready set if the queue is empty (atomically); False when something arrived meanwhile."""
        return bool(self._scripts["settle"](keys=[self._k("inbox", sender), self._k("ready")], args=[sender]))

    def ready(self) -> list[str]:
        return sorted(self.client.smembers(self._k("ready")))

    # locks and flags
    def lock(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self.client.set(self._k("lock", name), owner, px=int(ttl * 1000), nx=True))

    def renew(self, name: str, owner: str, ttl: float) -> bool:
        return bool(self._scripts["renew"](keys=[self._k("lock", name)], args=[owner, int(ttl * 1000)]))

    def unlock(self, name: str, owner: str) -> None:
        self._scripts["unlock"](keys=[self._k("lock", name)], args=[owner])

    def flag(self, name: str, ttl: float) -> None:
        self.client.set(self._k("flag", name), "1", px=int(ttl * 1000))

    def take_flag(self, name: str) -> bool:
        with self.client.pipeline() as pipe:  # MULTI: read and clear in one step
            pipe.get(self._k("flag", name))
            pipe.delete(self._k("flag", name))
            return pipe.execute()[0] is not None

    def has_flag(self, name: str) -> bool:
        return bool(self.client.exists(self._k("flag", name)))

    # reply budget
    def open_window(self, sender: str, until: float) -> None:
        with self.client.pipeline() as pipe:
            pipe.set(self._k("window", sender), str(until), pxat=int(until * 1000))
            pipe.delete(self._k("sent", sender))
            pipe.execute()

    def reserve(self, sender: str, wanted: int, limit: int) -> int:
        return int(self._scripts["reserve"](keys=[self._k("window", sender), self._k("sent", sender)],
                                            args=[wanted, limit]))

    def unreserve(self, sender: str, count: int) -> None:
        if count > 0:
            self._scripts["unreserve"](keys=[self._k("sent", sender)], args=[count])

    def used(self, sender: str) -> int:
        return int(self.client.get(self._k("sent", sender)) or 0)

    # held messages
    def hold(self, sender: str, payloads: list[str], ttl: float, front: bool = False) -> None:
        if not payloads:
            return
        key = self._k("held", sender)
        with self.client.pipeline() as pipe:
            if front:
                pipe.lpush(key, *reversed(payloads))
            else:
                pipe.rpush(key, *payloads)
            pipe.pexpire(key, int(ttl * 1000))
            pipe.execute()

    def held_count(self, sender: str) -> int:
        return int(self.client.llen(self._k("held", sender)))

    def take_held(self, sender: str) -> list[str]:
        key = self._k("held", sender)
        with self.client.pipeline() as pipe:
            pipe.lrange(key, 0, -1)
            pipe.delete(key)
            return list(pipe.execute()[0])

    # small values (sync tokens, session-state cache, numbered options)
    def get(self, key: str) -> str | None:
        return self.client.get(self._k("kv", key))

    def set(self, key: str, value: str, ttl: float) -> None:
        self.client.set(self._k("kv", key), value, px=max(1, int(ttl * 1000)))

    def delete(self, key: str) -> None:
        self.client.delete(self._k("kv", key))


class MemoryWeComStore:
    """The same operations in one process (development without Redis, unit tests)."""

    def __init__(self, clock=None):
        self.clock = clock
        self._lock = threading.RLock()
        self._values: dict[str, tuple[str, float | None]] = {}  # key → (value, expires at)
        self._cursors: dict[str, str] = {}
        self._accounts: set[str] = set()
        self._inbox: dict[str, deque] = {}
        self._ready: set[str] = set()
        self._held: dict[str, tuple[list[str], float]] = {}

    def _now(self) -> float:
        return self.clock.now() if self.clock is not None else time.time()

    def _live(self, key: str) -> str | None:
        item = self._values.get(key)
        if item is None:
            return None
        if item[1] is not None and item[1] <= self._now():
            del self._values[key]
            return None
        return item[0]

    def _put(self, key: str, value: str, ttl: float | None) -> None:
        self._values[key] = (value, None if ttl is None else self._now() + ttl)

    def cursor(self, kfid):
        with self._lock:
            return self._cursors.get(kfid, "")

    def set_cursor(self, kfid, cursor):
        with self._lock:
            self._cursors[kfid] = cursor

    def remember_account(self, kfid):
        with self._lock:
            self._accounts.add(kfid)

    def accounts(self):
        with self._lock:
            return sorted(self._accounts)

    def store(self, items):
        new = []
        with self._lock:
            for msgid, sender, payload in items:
                if self._live("seen:" + msgid) is not None:
                    continue
                self._put("seen:" + msgid, "1", DEDUP_SECONDS)
                self._inbox.setdefault(sender, deque()).append(payload)
                self._ready.add(sender)
                new.append(sender)
        return new

    def peek(self, sender):
        with self._lock:
            queue = self._inbox.get(sender)
            return queue[0] if queue else None

    def pop(self, sender):
        with self._lock:
            queue = self._inbox.get(sender)
            return queue.popleft() if queue else None

    def attempt(self, msgid):
        with self._lock:
            count = int(self._live("attempt:" + msgid) or 0) + 1
            self._put("attempt:" + msgid, str(count), DEDUP_SECONDS)
            return count

    def settle(self, sender):
        with self._lock:
            if self._inbox.get(sender):
                return False
            self._inbox.pop(sender, None)
            self._ready.discard(sender)
            return True

    def ready(self):
        with self._lock:
            return sorted(self._ready)

    def lock(self, name, owner, ttl):
        with self._lock:
            if self._live("lock:" + name) is not None:
                return False
            self._put("lock:" + name, owner, ttl)
            return True

    def renew(self, name, owner, ttl):
        with self._lock:
            if self._live("lock:" + name) != owner:
                return False
            self._put("lock:" + name, owner, ttl)
            return True

    def unlock(self, name, owner):
        with self._lock:
            if self._live("lock:" + name) == owner:
                del self._values["lock:" + name]

    def flag(self, name, ttl):
        with self._lock:
            self._put("flag:" + name, "1", ttl)

    def take_flag(self, name):
        with self._lock:
            present = self._live("flag:" + name) is not None
            self._values.pop("flag:" + name, None)
            return present

    def has_flag(self, name):
        with self._lock:
            return self._live("flag:" + name) is not None

    def open_window(self, sender, until):
        with self._lock:
            self._put("window:" + sender, str(until), until - self._now())
            self._values.pop("sent:" + sender, None)

    def reserve(self, sender, wanted, limit):
        with self._lock:
            if self._live("window:" + sender) is None:
                return 0
            used = int(self._live("sent:" + sender) or 0)
            k = min(wanted, limit - used)
            if k <= 0:
                return 0
            self._values["sent:" + sender] = (str(used + k), self._values["window:" + sender][1])
            return k

    def unreserve(self, sender, count):
        with self._lock:
            used = int(self._live("sent:" + sender) or 0)
            if used > 0 and count > 0:
                self._values["sent:" + sender] = (str(max(0, used - count)), self._values["sent:" + sender][1])

    def used(self, sender):
        with self._lock:
            return int(self._live("sent:" + sender) or 0)

    def _held_items(self, sender) -> list[str]:
        entry = self._held.get(sender)
        if entry is None:
            return []
        if entry[1] <= self._now():
            del self._held[sender]
            return []
        return entry[0]

    def hold(self, sender, payloads, ttl, front=False):
        if not payloads:
            return
        with self._lock:
            items = self._held_items(sender)
            items = list(payloads) + items if front else items + list(payloads)
            self._held[sender] = (items, self._now() + ttl)

    def held_count(self, sender):
        with self._lock:
            return len(self._held_items(sender))

    def take_held(self, sender):
        with self._lock:
            items = self._held_items(sender)
            self._held.pop(sender, None)
            return items

    def get(self, key):
        with self._lock:
            return self._live("kv:" + key)

    def set(self, key, value, ttl):
        with self._lock:
            self._put("kv:" + key, value, ttl)

    def delete(self, key):
        with self._lock:
            self._values.pop("kv:" + key, None)


def make_store(redis_url: str | None, prefix: str = "hall:", clock=None):
    return RedisWeComStore(redis_url, prefix) if redis_url else MemoryWeComStore(clock)
