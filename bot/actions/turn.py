"""One call of a form's validation: who it is for, what the back-office said during it, what it decided.

rasa_sdk builds a new Tracker per request, so nothing cached on a tracker outlives the call anyway; a Turn
makes that explicit: the form creates one per call and passes it to every step. The back-office's answers a
call needs several times (the gate, eligibility, the witness state, the agreements still to sign, the
applications under way) are fetched once per Turn.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions import backoffice
from bot.actions.backoffice import BackofficeUnavailable
from bot.actions.common import BUSY, intent_of, latest_text, requester
from businesses import Business

OPEN_STATUSES = ("in_progress", "pending")


@dataclass
class Turn:
    dispatcher: CollectingDispatcher
    tracker: Tracker
    domain: dict
    business: Business | None = None
    updates: dict = field(default_factory=dict)  # slots decided in this call, in order
    _cache: dict = field(default_factory=dict)

    # --- the conversation ---------------------------------------------------------------------------
    def slot(self, name: str):
        return self.updates[name] if name in self.updates else self.tracker.get_slot(name)

    def set(self, values: dict) -> None:
        self.updates.update(values)

    @property
    def requested(self) -> str | None:
        return self.tracker.get_slot("requested_slot")

    @property
    def intent(self) -> str | None:
        return intent_of(self.tracker)

    @property
    def text(self) -> str:
        return latest_text(self.tracker)

    @property
    def who(self) -> dict:
        return requester(self.tracker)

    @property
    def code(self) -> str:
        """The business code of the form ("" for forms of no application, e.g. 协议补签 signs the "*" set)."""
        return self.business.code if self.business and self.business.application else ""

    @property
    def id_with_back(self) -> bool:
        """Does this business read the back of the ID card (its validity keeps the card on file)?"""
        step = next((s for s in self.business.steps if s.kind == "id"), None) if self.business else None
        return step is None or step.options.get("back", True)

    # --- speaking -----------------------------------------------------------------------------------
    def say(self, response: str, **values) -> None:
        """A response of the domain; its {placeholders} are filled from `values`."""
        self.dispatcher.utter_message(response=response, **values)

    def say_text(self, text: str, **kwargs) -> None:
        """A text that comes from the back-office (its message for the customer) or the business registry."""
        self.dispatcher.utter_message(text=text, **kwargs)

    # --- the back-office ----------------------------------------------------------------------------
    async def call(self, path: str, **body) -> dict | None:
        """The back-office's answer, or None after telling the customer 系统繁忙 (nothing assumed)."""
        try:
            return await backoffice.client.call(path, {**self.who, **body})
        except BackofficeUnavailable:
            self.say(BUSY)
            return None

    async def once(self, key: str, path: str, **body) -> dict:
        """The back-office's answer to `path`, asked once per call."""
        if key not in self._cache:
            self._cache[key] = await backoffice.client.call(path, {**self.who, **body})
        return self._cache[key]

    async def gate(self) -> dict:
        """Login, device binding, signature, ID and portrait on file (BackofficeUnavailable propagates)."""
        return await self.once("gate", "/api/bot/gate")

    def forget(self, *keys: str) -> None:
        """Something this call did changed the back-office's answer (e.g. a device was bound)."""
        for key in keys or tuple(self._cache):
            self._cache.pop(key, None)

    async def eligibility(self) -> dict:
        return await self.once("eligibility", "/api/bot/applications/eligibility", business=self.code)

    async def witness_state(self) -> dict:
        return await self.once("witness", "/api/bot/witness/status", business=self.code)

    async def missing_agreements(self) -> list[dict]:
        result = await self.once("missing", "/api/bot/agreements/required", business=self.code)
        if result.get("error"):
            raise BackofficeUnavailable(result["error"])
        return list(result.get("missing") or [])

    async def open_application(self, business: str | None = None) -> dict | None:
        """The customer's application of this business still 办理中/审批中, if any."""
        result = await self.once("applications", "/api/bot/applications/status")
        business = business or self.code
        return next((a for a in result.get("applications") or []
                     if a.get("status") in OPEN_STATUSES and a.get("business") == business), None)
