"""WeChat server API client (access token, 客服消息, temporary media) on wechatpy.

wechatpy is synchronous (requests): every call runs in a worker thread so the event loop never blocks.
The access token lives in Redis when REDIS_URL is set (connectors.token_store), so all workers and the
back-office share one token instead of invalidating each other's; in memory otherwise.
"""
from __future__ import annotations

import asyncio
import logging
import os
import threading

from wechatpy import WeChatClient
from wechatpy.client.api import WeChatMedia, WeChatMessage
from wechatpy.exceptions import WeChatClientException

from connectors.channel_metrics import api_error
from connectors.token_store import token_storage
from connectors.wechat_settings import WeChatSettings, load_wechat_settings

log = logging.getLogger(__name__)
TOKEN_ERRORS = (40001, 40014, 42001)


class WeChatAPIError(RuntimeError):
    pass


class _Client(WeChatClient):
    """WeChatClient against a configurable API base (tests and the simulator run a fake WeChat)."""

    message = WeChatMessage()
    media = WeChatMedia()

    def __init__(self, appid, secret, api_base, session=None, timeout=10):
        self._calls = threading.local()
        super().__init__(appid, secret, session=session, timeout=timeout)
        self.API_BASE_URL = api_base.rstrip("/") + "/cgi-bin/"

    # wechatpy refreshes the token and retries on 40001/42001, but without a bound: a server that keeps
    # answering 40001 would recurse forever. Allow one refresh per call (per thread: calls run in threads).
    @property
    def auto_retry(self):
        return getattr(self._calls, "depth", 0) <= 1

    @auto_retry.setter
    def auto_retry(self, _value):
        pass

    def fetch_access_token(self):
        # wechatpy hard-codes the real host here; use the configured base instead.
        return self._fetch_access_token(url=self.API_BASE_URL + "token", params={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret})

    def _handle_result(self, res, method=None, url=None, result_processor=None, **kwargs):
        depth = getattr(self._calls, "depth", 0)
        self._calls.depth = depth + 1
        try:
            return super()._handle_result(res, method, url, result_processor, **kwargs)
        finally:
            self._calls.depth = depth


class WeChatAPI:
    def __init__(self, settings: WeChatSettings, redis_url: str | None = None):
        self.settings = settings
        self.client = _Client(settings.app_id, settings.app_secret, settings.api_base,
                              session=token_storage(redis_url, "hall:wechat"))

    async def _call(self, func, *args, **kwargs):
        try:
            return await asyncio.to_thread(func, *args, **kwargs)
        except WeChatClientException as exc:
            api_error("wechat", getattr(func, "__name__", "call"))
            # errcode/errmsg only: the request may contain the customer's message
            raise WeChatAPIError(f"WeChat API error {exc.errcode}") from None
        except Exception as exc:
            api_error("wechat", getattr(func, "__name__", "call"))
            raise WeChatAPIError(f"WeChat API unreachable: {exc.__class__.__name__}") from None

    async def send_text(self, openid: str, text: str) -> None:
        await self._call(self.client.message.send_text, openid, text)

    async def send_image(self, openid: str, media_id: str) -> None:
        await self._call(self.client.message.send_image, openid, media_id)

    async def send_news(self, openid: str, articles: list[dict]) -> None:
        items = [{"title": a.get("title", ""), "description": a.get("description", ""), "url": a.get("url", ""),
                  "image": a.get("image") or a.get("picurl", "")} for a in articles]
        await self._call(self.client.message.send_articles, openid, items)

    async def send(self, openid: str, item: dict) -> None:
        if item["type"] == "text":
            await self.send_text(openid, item["content"])
        elif item["type"] == "image":
            await self.send_image(openid, item["media_id"])
        elif item["type"] == "news":
            await self.send_news(openid, item["articles"])

    async def download_media(self, media_id: str) -> tuple[bytes, str]:
        """(content, content type). Video media come back as JSON with a download URL."""
        result = await self._call(self.client.media.download, media_id)
        if isinstance(result, dict):
            if result.get("video_url"):
                return await self.fetch_url(result["video_url"])
            raise WeChatAPIError("media/get answered JSON without content")
        return result.content, result.headers.get("Content-Type", "application/octet-stream")

    async def upload_media(self, kind: str, filename: str, data: bytes) -> str:
        result = await self._call(self.client.media.upload, kind, (filename, data))
        return result["media_id"]

    async def fetch_url(self, url: str) -> tuple[bytes, str]:
        def get():
            res = self.client._http.get(url, timeout=15)
            res.raise_for_status()
            return res.content, res.headers.get("Content-Type", "application/octet-stream")

        return await self._call(get)


_lock = threading.Lock()
_instances: dict[tuple, WeChatAPI] = {}


def get_api(settings: WeChatSettings | None = None) -> WeChatAPI:
    """One client per settings/Redis URL per process (a client owns an HTTP connection pool)."""
    settings = settings or load_wechat_settings()
    redis_url = os.environ.get("REDIS_URL") or None
    key = (settings, redis_url)
    with _lock:
        if key not in _instances:
            _instances[key] = WeChatAPI(settings, redis_url)
        return _instances[key]
