"""The one HTTP client of the back-office's service API, for the processes that call it with the service token:
the action server (bot/actions) and the WeChat bridge (connectors/wechat_bridge.py). One pooled session per
event loop; the token is read where the back-office writes it."""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Callable

import aiohttp

from backoffice.channels.endpoints import bot_api_url, public_url

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


class BackofficeUnavailable(RuntimeError):
    """The back-office did not answer properly; the customer is told to retry, nothing is assumed."""


def service_token() -> str:
    """HALL_SERVICE_TOKEN, else the token the back-office generated into var/service_token (development)."""
    token = os.environ.get("HALL_SERVICE_TOKEN")
    if token:
        return token
    path = Path(os.environ.get("HALL_VAR_DIR", ROOT / "var")) / "service_token"
    return path.read_text().strip() if path.exists() else ""


class BackofficeClient:
    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float = 60.0,
                 token_source: Callable[[], str] | None = None):
        # 60 s by default: an ID card OCR or face check may queue behind others in the biometrics pool.
        self.base_url = (base_url or bot_api_url()).rstrip("/")
        self.public_url = public_url()
        self._token = token
        self._token_source = token_source
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._loop = None

    def _http(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            self._session = aiohttp.ClientSession(timeout=self._timeout,
                                                  connector=aiohttp.TCPConnector(limit=50))
            self._loop = loop
        return self._session

    def token(self) -> str:
        if self._token:
            return self._token
        return self._token_source() if self._token_source else service_token()

    async def call(self, path: str, payload: dict) -> dict:
        """POST a service API call; its JSON answer (refusals included). BackofficeUnavailable when the
        back-office is down, broken (5xx) or does not take our token (401)."""
        try:
            async with self._http().post(self.base_url + path, json=payload,
                                         headers={"Authorization": f"Bearer {self.token()}"}) as resp:
                if resp.status >= 500 or resp.status == 401:
                    raise BackofficeUnavailable(f"{path} answered {resp.status}")
                return await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("back-office call %s failed: %s", path, exc.__class__.__name__)
            raise BackofficeUnavailable(path) from exc

    # --- what the channels ask ---------------------------------------------------------------------
    async def conversation_state(self, sender: str) -> str:
        """"bot", "waiting" or "agent": who answers this conversation now."""
        return str((await self.call("/api/bot/session", {"sender": sender})).get("conversation") or "bot")

    async def store_media(self, data: bytes, sender: str, filename: str = "upload") -> str:
        """A customer's file into the media store, owned by their conversation; its media id."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename, content_type="application/octet-stream")
        form.add_field("sender", sender)
        # With the service token: the per-IP cap on anonymous uploads does not apply to the channels.
        try:
            async with self._http().post(self.base_url + "/api/media", data=form,
                                         headers={"Authorization": f"Bearer {self.token()}"}) as resp:
                body = await resp.json(content_type=None)
                if resp.status != 201:
                    raise BackofficeUnavailable(f"media store answered {resp.status}: {body.get('error')}")
                return body["media_id"]
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            raise BackofficeUnavailable("/api/media") from exc
