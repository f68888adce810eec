"""A small typed async client for the 微信客服 (WeCom kf) endpoints the product uses.

wechatpy 1.8.18 has no 微信客服 module (and its 2.0 pre-release's sync_msg lacks open_kfid), so the kf endpoints
are called here with aiohttp on `WECOM_API_BASE`. The access token (gettoken with the corp id and the kf
secret) is kept in Redis when REDIS_URL is set (connectors.token_store), shared by every Rasa worker, every
replica and the back-office.

Errors: a rejected token (40001/40014/42001) is dropped and the call made once more with a fresh one; the
frequency limit (45009) and "system busy" (-1), like a lost connection, are retried with backoff. Anything
else raises WeComAPIError with WeCom's errcode (never the request body: it may hold a customer's message).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import threading
from dataclasses import dataclass

import aiohttp

from connectors.channel_metrics import api_error
from connectors.token_store import AccessToken, token_storage
from connectors.wecom_settings import WeComSettings, load_wecom_settings

log = logging.getLogger("connectors.wecom")

TOKEN_ERRORS = frozenset({40001, 40014, 42001})
RETRY_ERRORS = frozenset({45009, -1})  # frequency limit, system busy
BACKOFF = (0.5, 1.0, 2.0, 4.0)  # seconds before each retry (plus up to 25 % jitter)
UNREACHABLE = -1000  # our own code: no answer from WeCom after the retries

# 会话状态 (kf/service_state)
STATE_NEW, STATE_BOT, STATE_POOL, STATE_HUMAN, STATE_ENDED = 0, 1, 2, 3, 4
# errcodes the reply path acts on (the others are failures)
SESSION_STATE_INVALID = 95018  # send_msg while the session is not 0/1
SEND_COUNT_LIMIT = 95001  # more than the customer's message allows (as we understand WeCom's list)
SEND_TIME_LIMIT = 95002  # more than 48 h after the customer's last message (idem)


class WeComAPIError(RuntimeError):
    def __init__(self, errcode: int, path: str):
        super().__init__(f"WeCom API {path} error {errcode}")
        self.errcode = errcode


@dataclass(frozen=True)
class SyncPage:
    messages: list[dict]
    next_cursor: str
    has_more: bool


@dataclass(frozen=True)
class ServiceState:
    state: int
    servicer_userid: str = ""


class KfClient:
    def __init__(self, settings: WeComSettings, storage=None, *, metrics=None, timeout: float = 10.0,
                 backoff: tuple[float, ...] = BACKOFF):
        self.settings, self.metrics, self.backoff = settings, metrics, backoff
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        storage = storage if storage is not None else token_storage(None, "")
        self.token = AccessToken(storage, f"wecom:{settings.corp_id}:kf_access_token", self._fetch_token)
        self._http: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- plumbing --------------------------------------------------------------------------------------
    def _session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._http is None or self._http.closed or self._loop is not loop:
            self._http, self._loop = aiohttp.ClientSession(timeout=self.timeout), loop
        return self._http

    async def close(self) -> None:
        if self._http is not None and not self._http.closed:
            await self._http.close()

    def _url(self, path: str) -> str:
        return self.settings.api_base + path

    async def _fetch_token(self) -> tuple[str, int]:
        params = {"corpid": self.settings.corp_id, "corpsecret": self.settings.secret}
        try:
            body = await self._request("GET", "gettoken", params=params)
        except WeComAPIError:
            api_error("wecom", "gettoken")
            raise
        return str(body["access_token"]), int(body.get("expires_in") or 7200)

    async def _request(self, method: str, path: str, *, params: dict | None = None, payload: dict | None = None,
                       data=None, binary: bool = False):
        """One HTTP call with backoff on 45009/-1 and lost connections; errcode ≠ 0 raises. `data` is a
        factory (a multipart body cannot be sent twice)."""
        for attempt in range(len(self.backoff) + 1):
            try:
                async with self._session().request(method, self._url(path), params=params, json=payload,
                                                   data=data() if data else None) as resp:
                    ctype = resp.headers.get("Content-Type", "")
                    raw = await resp.read()
                    if binary and resp.status == 200 and "json" not in ctype and not raw.startswith(b'{"errcode"'):
                        return raw, ctype or "application/octet-stream"
                    if resp.status >= 500:
                        code = -1
                    else:
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            raise WeComAPIError(UNREACHABLE, path) from None
                        code = int(body.get("errcode") or 0)
                        if code == 0:
                            return body
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                log.warning("WeCom %s unreachable: %s", path, exc.__class__.__name__)
                code = UNREACHABLE
            if (code not in RETRY_ERRORS and code != UNREACHABLE) or attempt == len(self.backoff):
                raise WeComAPIError(code, path)
            if self.metrics is not None:
                self.metrics.api_retries += 1
            delay = self.backoff[attempt]
            await asyncio.sleep(delay + random.uniform(0, delay / 4))
        raise WeComAPIError(UNREACHABLE, path)  # not reached

    async def call(self, path: str, payload: dict | None = None, *, method: str = "POST", params: dict | None = None,
                   data=None, binary: bool = False):
        """An authenticated call; a rejected token is replaced once."""
        for attempt in (1, 2):
            token = await self.token.get()
            try:
                return await self._request(method, path, params={**(params or {}), "access_token": token},
                                           payload=payload, data=data, binary=binary)
            except WeComAPIError as exc:
                if exc.errcode not in TOKEN_ERRORS or attempt == 2:
                    api_error("wecom", path)
                    raise
                await self.token.invalidate(token)
        raise WeComAPIError(UNREACHABLE, path)  # not reached

    # --- kf endpoints -----------------------------------------------------------------------------------
    async def sync_msg(self, open_kfid: str, cursor: str = "", token: str = "", limit: int = 1000) -> SyncPage:
        payload = {"open_kfid": open_kfid, "limit": max(1, min(int(limit), 1000))}
        if cursor:
            payload["cursor"] = cursor
        if token:
            payload["token"] = token
        body = await self.call("kf/sync_msg", payload)
        messages = body.get("msg_list") or []
        return SyncPage(messages=[m for m in messages if isinstance(m, dict)],
                        next_cursor=str(body.get("next_cursor") or ""), has_more=bool(body.get("has_more")))

    async def send_msg(self, touser: str, open_kfid: str, msgtype: str, content: dict, msgid: str = "") -> str:
        payload = {"touser": touser, "open_kfid": open_kfid, "msgtype": msgtype, msgtype: content}
        if msgid:
            payload["msgid"] = msgid  # the same id on a retry: a resend after a lost answer is recognisable
        return str((await self.call("kf/send_msg", payload)).get("msgid") or msgid)

    async def send_msg_on_event(self, code: str, msgtype: str, content: dict, msgid: str = "") -> str:
        payload = {"code": code, "msgtype": msgtype, msgtype: content}
        if msgid:
            payload["msgid"] = msgid
        return str((await self.call("kf/send_msg_on_event", payload)).get("msgid") or msgid)

    async def service_state(self, open_kfid: str, external_userid: str) -> ServiceState:
        body = await self.call("kf/service_state/get", {"open_kfid": open_kfid, "external_userid": external_userid})
        return ServiceState(int(body.get("service_state") or 0), str(body.get("servicer_userid") or ""))

    async def trans_state(self, open_kfid: str, external_userid: str, state: int, servicer_userid: str = "") -> str:
        """Change the session state; returns the msg_code for a send_msg_on_event (may be empty)."""
        payload = {"open_kfid": open_kfid, "external_userid": external_userid, "service_state": state}
        if servicer_userid:
            payload["servicer_userid"] = servicer_userid
        return str((await self.call("kf/service_state/trans", payload)).get("msg_code") or "")

    async def media_get(self, media_id: str) -> tuple[bytes, str]:
        return await self.call("media/get", method="GET", params={"media_id": media_id}, binary=True)

    async def media_upload(self, kind: str, filename: str, data: bytes, content_type: str = "image/jpeg") -> str:
        def form():
            body = aiohttp.FormData()
            body.add_field("media", data, filename=filename, content_type=content_type)
            return body

        body = await self.call("media/upload", params={"type": kind}, data=form)
        return str(body["media_id"])

    async def fetch_url(self, url: str) -> tuple[bytes, str]:
        """A bot image by its URL (the back-office's signed links), to upload as WeCom media."""
        async with self._session().get(url) as resp:
            resp.raise_for_status()
            return await resp.read(), resp.headers.get("Content-Type", "application/octet-stream")


_lock = threading.Lock()
_instances: dict[tuple, KfClient] = {}


def get_client(settings: WeComSettings | None = None, metrics=None) -> KfClient:
    """One client per settings/Redis URL per process (it owns an HTTP connection pool)."""
    settings = settings or load_wecom_settings()
    redis_url = os.environ.get("REDIS_URL") or None
    key = (settings, redis_url)
    with _lock:
        if key not in _instances:
            _instances[key] = KfClient(settings, token_storage(redis_url, "hall:wecom"), metrics=metrics)
        return _instances[key]
