"""Async client for the back-office service API, shared by all actions (one pooled HTTP session)."""
from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import aiohttp

from backoffice.channels.endpoints import bot_api_url, public_url

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[2]


class BackofficeUnavailable(RuntimeError):
    """The back-office did not answer properly; the customer is told to retry, nothing is assumed."""


def _service_token() -> str:
    token = os.environ.get("HALL_SERVICE_TOKEN")
    if token:
        return token
    path = Path(os.environ.get("HALL_VAR_DIR", ROOT / "var")) / "service_token"
    return path.read_text().strip() if path.exists() else ""


class BackofficeClient:
    def __init__(self, base_url: str | None = None, token: str | None = None, timeout: float = 60.0):
        # 60 s: an ID card OCR or face check may queue behind others in the biometrics pool.
        self.base_url = (base_url or bot_api_url()).rstrip("/")
        self.public_url = public_url()
        self._token = token
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

    async def call(self, path: str, payload: dict) -> dict:
        token = self._token or _service_token()
        try:
            async with self._http().post(self.base_url + path, json=payload,
                                         headers={"Authorization": f"Bearer {token}"}) as resp:
                if resp.status >= 500 or resp.status == 401:
                    raise BackofficeUnavailable(f"{path} answered {resp.status}")
                return await resp.json()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("back-office call %s failed: %s", path, exc.__class__.__name__)
            raise BackofficeUnavailable(path) from exc


client = BackofficeClient()
