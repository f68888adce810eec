"""Where the channels keep their API access tokens: Redis when REDIS_URL is set, so every Rasa worker, every
replica and the back-office share one token instead of each fetching (and, for the Official Account,
invalidating) its own; process memory otherwise.

Both channels use wechatpy's session storages: the WeChat channel through wechatpy's own client, the WeCom
(微信客服) channel through `AccessToken`, an async cache with one fetch at a time per process.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from wechatpy.session.memorystorage import MemoryStorage

log = logging.getLogger(__name__)


def token_storage(redis_url: str | None, prefix: str):
    """A wechatpy SessionStorage: `prefix:<key>` in Redis, or a per-process dict."""
    if not redis_url:
        return MemoryStorage()
    import redis
    from wechatpy.session.redisstorage import RedisStorage

    return RedisStorage(redis.Redis.from_url(redis_url, socket_timeout=5), prefix=prefix)


# fetch() → (token, lifetime in seconds)
Fetch = Callable[[], Awaitable[tuple[str, int]]]
EARLY_REFRESH = 300  # stop using a token this long before it expires: a call in flight must not meet 42001


class AccessToken:
    """An access token in a shared storage, fetched when missing and dropped when the API rejects it.

    Fetches are serialised per process (a burst of calls after expiry makes one token request). Across
    processes two may fetch at once; WeCom hands out the same token while it is valid, so either write is
    right.
    """

    def __init__(self, storage, key: str, fetch: Fetch):
        self.storage, self.key, self.fetch = storage, key, fetch
        self._lock = asyncio.Lock()
        self.fetches = 0  # tokens fetched by this process (tests and metrics)

    async def get(self) -> str:
        token = await asyncio.to_thread(self.storage.get, self.key)
        if token:
            return token
        async with self._lock:
            token = await asyncio.to_thread(self.storage.get, self.key)  # another task may have fetched it
            if token:
                return token
            token, lifetime = await self.fetch()
            self.fetches += 1
            ttl = max(60, int(lifetime) - EARLY_REFRESH)
            await asyncio.to_thread(self.storage.set, self.key, token, ttl)
            return token

    async def invalidate(self, rejected: str) -> None:
        """Forget the token the API rejected (not one a concurrent refresh already replaced)."""
        async with self._lock:
            if await asyncio.to_thread(self.storage.get, self.key) == rejected:
                await asyncio.to_thread(self.storage.delete, self.key)
