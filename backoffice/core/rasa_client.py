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

    async def _call(self, method: str, sender: str, path: str, *, json=None, include_events: str = "NONE",
                    want_body: bool = True):
        """One call on /conversations/{sender}/{path}; any failure (refused, timeout, non-2xx, not JSON) is a
        RasaError, so callers decide what an unreachable bot means for them."""
        url = f"{self.base_url}/conversations/{quote(sender, safe='')}/{path}"
        params = {"include_events": include_events}
        if self.token:
            params["token"] = self.token
        try:
            async with aiohttp.ClientSession(timeout=self.timeout) as http:
                async with http.request(method, url, json=json, params=params) as resp:
                    if resp.status >= 300:
                        raise RasaError(f"Rasa answered {resp.status}")
                    return await resp.json() if want_body else None
        except (aiohttp.ClientError, ValueError) as exc:
            raise RasaError(f"Rasa unreachable: {exc.__class__.__name__}") from exc

    async def append_events(self, sender: str, events: list[dict]) -> None:
        await self._call("POST", sender, "tracker/events", json=events, want_body=False)

    async def pause(self, sender: str) -> None:
        await self.append_events(sender, [{"event": "pause"}])

    async def resume(self, sender: str) -> None:
        await self.append_events(sender, [{"event": "resume"}])

    async def tracker(self, sender: str, include_events: str = "ALL") -> dict:
        """The conversation's tracker (events, slots, active loop, paused) for the staff console."""
        return await self._call("GET", sender, "tracker", include_events=include_events)

    @staticmethod
    def _messages(body) -> list[dict]:
        messages = body.get("messages") if isinstance(body, dict) else None
        return [m for m in messages or [] if isinstance(m, dict)]

    async def trigger_intent(self, sender: str, name: str, entities: dict | None = None) -> list[dict]:
        """Inject an intent (e.g. witness_done from the back-office) and return the bot's messages.

        Without an output_channel parameter Rasa collects the bot's answers and returns them, so the caller
        delivers them to the customer's channel itself."""
        return self._messages(await self._call("POST", sender, "trigger_intent",
                                               json={"name": name, "entities": entities or {}}))

    async def execute(self, sender: str, action: str) -> list[dict]:
        """Run one action (e.g. a business form, to re-ask its current step) and return the bot's messages.

        As with trigger_intent, no output_channel parameter: Rasa collects the messages and returns them."""
        return self._messages(await self._call("POST", sender, "execute", json={"name": action}))
