"""Human handoff use cases, shared by the staff API and the console so both run exactly the same steps: the
bot queues a conversation for a human, an agent claims it (the Rasa tracker paused), replies (kept in the outbox,
pushed where the channel allows) and hands it back (the business in progress resumed)."""
from __future__ import annotations

import asyncio

from backoffice.applications.businesses import BUSINESS_NAMES
from backoffice.channels.delivery import HELD, deliver, deliver_bot_messages, deliver_image
from backoffice.core.rasa_client import RasaError
from backoffice.handoff.conversations import ConversationError
from backoffice.media.store import MediaError


class HandoffFailure(Exception):
    """A refused handoff step, with the HTTP status and error code the API answers."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code = status, code


# Shared by the token API and the staff console so both run exactly the same steps.
BOT_BACK = "人工客服已离开，接下来由智能助手继续为您服务。"
RESUMING = "人工客服已离开，智能助手将继续为您办理{business}。"
FORM_TTL = 2 * 86400  # a claim lasts at most as long as WeChat lets staff answer (48 h)
REPLY_IMAGE_TYPES = ("image/jpeg", "image/png")
OUTBOX_MEDIA_TTL = 3600  # REST clients fetch an agent's image through this signed link soon after polling


def _delivery(msg: dict, delivered) -> dict:
    """What the staff see of a push: delivered or not, or held (WeCom's budget: sent on the customer's next
    message); channels that cannot be pushed to (REST) say nothing."""
    if delivered is not None:
        msg["delivered"] = delivered is True
        if delivered == HELD:
            msg["held"] = True
    return msg


def form_key(sender: str) -> str:
    """KV key of the business form in progress when the conversation went to a human."""
    return f"handoff:form:{sender}"


def business_of(form: str) -> str:
    return BUSINESS_NAMES.get(form.removesuffix("_form"), "刚才的业务")


def request_human(svc, sender: str, channel: str, reason: str, form: str) -> int:
    """The bot hands the conversation to a human: its place in the waiting queue (0 when an agent already holds
    it); the business form in progress is noted so that the agent's hand-back resumes it."""
    current = svc.login.session(sender)
    position = svc.conversations.request_human(sender, channel=channel, reason=reason,
                                               account_number=(current or {}).get("account_number"))
    if position == 0:
        return 0
    if form.endswith("_form"):  # the business in progress, resumed when the agent hands back
        svc.kv.set(form_key(sender), form, FORM_TTL)
    else:
        svc.kv.delete(form_key(sender))
    return position


class HandoffService:
    """The agent's side of a handoff: claim, reply (text or image) and release, each keeping the registry, the
    Rasa tracker and the customer's channel in step. One per request: the services and the Rasa client."""

    def __init__(self, services, rasa):
        self.svc, self.rasa = services, rasa

    async def claim(self, sender: str, agent: str, notice: str | None = None) -> dict:
        """Claim in the registry, note the business form in progress, then pause the Rasa tracker.

        When Rasa cannot be paused the claim is undone and the conversation goes back to the waiting queue, at
        its old place: the customer still wants a human, the agent sees why it failed."""
        svc = self.svc
        before = await asyncio.to_thread(svc.conversations.get, sender)
        try:
            row = await asyncio.to_thread(svc.conversations.claim, sender, agent)
        except ConversationError as exc:
            raise HandoffFailure(409, "conflict", str(exc)) from exc
        try:
            tracker = await self.rasa.tracker(sender, include_events="NONE")
            form = ((tracker or {}).get("active_loop") or {}).get("name")
            if form:  # resumed on hand-back (release with resume_bot); else the one the bot noted when it queued
                await asyncio.to_thread(svc.kv.set, form_key(sender), form, FORM_TTL)
            await self.rasa.pause(sender)  # the bot stays silent while an agent holds it
        except RasaError as exc:
            await asyncio.to_thread(svc.conversations.requeue, sender, agent, (before or {}).get("since"))
            raise HandoffFailure(503, "rasa_unavailable", str(exc)) from exc
        if notice:
            await self.reply(sender, agent, notice)
        return row

    async def reply(self, sender: str, agent: str, text: str) -> dict:
        """Store the reply in the outbox (REST clients poll it) and push it where the channel allows (WeChat)."""
        try:
            msg = await asyncio.to_thread(self.svc.conversations.reply, sender, agent, text)
        except ConversationError as exc:
            raise HandoffFailure(409, "conflict", str(exc)) from exc
        delivered = await deliver(msg, msg["text"])  # stored either way; the outbox keeps it
        return _delivery(msg, delivered)

    async def reply_image(self, sender: str, agent: str, data: bytes) -> dict:
        """An image from the agent: into the media store, an outbox row with it, pushed to WeChat as an image."""
        svc = self.svc
        current = await asyncio.to_thread(svc.conversations.get, sender)
        if current is None or current["state"] != "agent" or current["agent"] != agent:
            raise HandoffFailure(409, "conflict", "claim the conversation before replying")
        try:
            info = await asyncio.to_thread(svc.media.put, data, sender=sender)
        except MediaError as exc:
            raise HandoffFailure(413 if exc.code == "too_large" else 400, exc.code, str(exc)) from exc
        if info.content_type not in REPLY_IMAGE_TYPES:
            raise HandoffFailure(400, "unsupported", "只能发送 JPG 或 PNG 图片。")
        try:
            msg = await asyncio.to_thread(svc.conversations.reply_image, sender, agent, info.media_id)
        except ConversationError as exc:
            raise HandoffFailure(409, "conflict", str(exc)) from exc
        ext = "png" if info.content_type == "image/png" else "jpg"
        if msg["channel"] in ("wechat", "wecom"):  # what the store kept: metadata (EXIF, GPS) already stripped
            data, _ctype = await asyncio.to_thread(svc.media.get, info.media_id)
        return _delivery(msg, await deliver_image(msg, data, f"reply.{ext}"))

    async def release(self, sender: str, agent: str, resume_bot: bool = True,
                      notice: str | None = BOT_BACK) -> dict:
        """Hand the conversation back to the bot: it answers again in any case. With resume_bot, a business form
        that was active when the agent claimed it is run again so the bot re-asks its current step (delivered to
        the customer's channel); without, that form is closed and the notice says the bot is back."""
        svc = self.svc
        current = await asyncio.to_thread(svc.conversations.get, sender)
        if current is None:
            raise HandoffFailure(404, "not_found", "no such conversation")
        form = await asyncio.to_thread(svc.kv.get, form_key(sender)) if current["state"] == "agent" else None
        resuming = bool(resume_bot and form)
        if resuming:
            notice = RESUMING.format(business=business_of(form))
        if notice:  # said while the agent still holds it: reply() refuses once released
            try:
                await self.reply(sender, agent, notice)
            except HandoffFailure:
                pass
        try:
            row = await asyncio.to_thread(svc.conversations.release, sender, agent)
        except ConversationError as exc:
            raise HandoffFailure(404, "not_found", str(exc)) from exc
        await asyncio.to_thread(svc.kv.delete, form_key(sender))
        rasa = self.rasa
        try:
            if resuming:
                # The form's last action was listening for the customer, whose later words went to the agent:
                # mark the form as the latest action so it re-asks its step without validating those words,
                # then listen again as after any bot turn.
                # The handoff closed the form when the customer asked for a human (its slots stay): make it the
                # active loop again without re-activating it, which would re-validate every filled step.
                await rasa.append_events(sender, [{"event": "resume"}, {"event": "active_loop", "name": form},
                                                  {"event": "action", "name": form}])
                messages = await rasa.execute(sender, form)
                await rasa.append_events(sender, [{"event": "action", "name": "action_listen"}])
                row["resumed"] = form
                row["delivered"] = await deliver_bot_messages(svc, current, messages)
            elif form:  # not resumed: the business does not wait for an answer any more (if still active)
                await rasa.append_events(sender, [{"event": "resume"}, {"event": "active_loop", "name": None},
                                                  {"event": "slot", "name": "requested_slot", "value": None}])
            else:
                await rasa.resume(sender)
        except RasaError as exc:
            raise HandoffFailure(503, "rasa_unavailable", str(exc)) from exc
        return row


def channel_took_over(svc, sender: str) -> None:
    """The channel's own human service took a conversation our queue holds (微信客服 with WECOM_HANDOFF=wecom:
    WeCom's servicers answer it in WeCom): it leaves the console's waiting queue, the bot's noted business too."""
    current = svc.conversations.get(sender)
    if current is not None and current["state"] == "waiting":
        svc.conversations.release(sender, "channel")
    svc.kv.delete(form_key(sender))
