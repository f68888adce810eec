"""The back-office's calls into the Rasa server's HTTP API (pause/resume for human handoff, injected intents)."""
from __future__ import annotations

import os
from urllib.parse import quote

import aiohttp


class RasaError(RuntimeError):
    pass


class RasaClient:
    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.token = token if token is not None else os.environ.get("RASA_TOKEN")
        self.timeout = aiohttp.ClientTimeout(total=timeout)

    async def append_events(self, sender: str, events: list[dict]) -> None:
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/tracker/events"
        params = {"include_events": "NONE"}
        if self.token:
            params["token"] = self.token
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.post(url, json=events, params=params) as resp:
                    if resp.status >= 300:
                        raise RasaError(f"Rasa answered {resp.status}")
        except aiohttp.ClientError as exc:
            raise RasaError(f"Rasa unreachable: {exc.__class__.__name__}") from exc

    async def pause(self, sender: str) -> None:
        await self.append_events(sender, [{"event": "pause"}])

    async def resume(self, sender: str) -> None:
        await self.append_events(sender, [{"event": "resume"}])

    async def tracker(self, sender: str, include_events: str = "ALL") -> dict:
        """The conversation's tracker (events, slots, active loop, paused) for the staff console."""
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/tracker"
        params = {"include_events": include_events}
        if self.token:
            params["token"] = self.token
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.get(url, params=params) as resp:
                    if resp.status >= 300:
                        raise RasaError(f"Rasa answered {resp.status}")
                    return await resp.json()
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaError(f"Rasa unreachable: {exc.__class__.__name__}") from exc

    async def trigger_intent(self, sender: str, name: str, entities: dict | None = None) -> list[dict]:
        """Inject an intent (e.g. witness_done from the back-office) and return the bot's messages.

        Without an output_channel parameter Rasa collects the bot's answers and returns them, so the caller
        delivers them to the customer's channel itself."""
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/trigger_intent"
        params = {"include_events": "NONE"}
        if self.token:
            params["token"] = self.token
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.post(url, json={"name": name, "entities": entities or {}}, params=params) as resp:
                    if resp.status >= 300:
                        raise RasaError(f"Rasa answered {resp.status}")
                    body = await resp.json()
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaError(f"Rasa unreachable: {exc.__class__.__name__}") from exc
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]

    async def execute(self, sender: str, action: str) -> list[dict]:
        """Run one action (e.g. a business form, to re-ask its current step) and return the bot's messages.

        As with trigger_intent, no output_channel parameter: Rasa collects the messages and returns them."""
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/execute"
        params = {"include_events": "NONE"}
        if self.token:
            params["token"] = self.token
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.post(url, json={"name": action}, params=params) as resp:
                    if resp.status >= 300:
                        raise RasaError(f"Rasa answered {resp.status}")
                    body = await resp.json()
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaError(f"Rasa unreachable: {exc.__class__.__name__}") from exc
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]
