"""Telling a conversation about something that happened outside the customer's turn (a witness verdict, a live
face check filmed on the H5 page, a reviewer's decision): inject an intent so the bot's waiting step looks at
the result, deliver what the bot answers, or post a text of our own when the bot had nothing to say."""
from __future__ import annotations

import asyncio
import logging

from backoffice.channels.delivery import bot_texts, deliver, deliver_bot_messages
from backoffice.core.rasa_client import RasaError
from backoffice.web.common import RASA, SERVICES, run

log = logging.getLogger(__name__)


async def nudge_bot(app, sender: str, channel: str | None, intent: str) -> str:
    """Inject `intent`; what the bot says goes to the customer's channel. Harmless when it fails: the customer
    can type "好了" and the waiting step checks the status itself."""
    svc = app[SERVICES]
    if await run(svc.conversations.state, sender) == "agent":
        return "held"  # the agent holding the conversation speaks for now; the bot must stay silent
    try:
        messages = await app[RASA].trigger_intent(sender, intent)
    except (RasaError, AttributeError) as exc:
        log.warning("%s nudge to the bot failed: %s", intent, exc.__class__.__name__)
        return "failed"
    if not bot_texts(messages):
        return "no_messages"
    pushed = await deliver_bot_messages(svc, {"sender": sender, "channel": channel or "rest"}, messages)
    return "push_failed" if pushed is False else "delivered"


async def tell(app, sender: str, channel: str | None, text: str) -> bool | str | None:
    """A text of the back-office's own in the conversation: kept in its outbox, pushed where the channel can."""
    await asyncio.to_thread(app[SERVICES].conversations.post, sender, "system", [text])
    return await deliver({"sender": sender, "channel": channel or "rest"}, text)
