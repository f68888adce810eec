"""The live side of a video witness, shared by the witness API (witness/routes.py) and the staff console
(console/witness.py): the verdict with its bot nudge, the state pushed to the customer's page, and recordings."""
from __future__ import annotations

import logging
import os

from aiohttp import web

from backoffice.channels.nudge import nudge_bot
from backoffice.media.store import MediaError
from backoffice.web.common import SERVICES, run
from backoffice.witness.signalling import WitnessHub

log = logging.getLogger(__name__)
HUB = web.AppKey("witness_hub", WitnessHub)
MAX_RECORDING_BYTES = int(os.environ.get("WITNESS_MAX_RECORDING_BYTES", 80 * 1024 * 1024))
PASSED_TEXT = "视频见证已通过，感谢您的配合。请返回对话继续办理。"
FAILED_SUFFIX = "请返回对话查看后续安排，如有疑问可回复“转人工”。"


async def decide(app, witness_id: str, actor: str, passed: bool, **kwargs) -> dict:
    """Record the verdict, tell both pages, then tell the bot so the conversation continues."""
    svc = app[SERVICES]
    view = await run(svc.witness.decide, witness_id, actor, passed, **kwargs)
    await push_customer_state(app, witness_id)
    await app[HUB].send(witness_id, "staff", {"type": "decided", "status": view["status"]})
    view["nudge"] = await nudge_bot(app, view["sender"], view.get("channel"), "witness_done")
    return view


def customer_message(state: dict) -> str | None:
    if state["status"] == "passed":
        return PASSED_TEXT
    if state["status"] == "failed":
        return (state.get("reason") or "视频见证未通过。") + FAILED_SUFFIX
    if state["status"] in ("cancelled", "expired"):
        return "本次视频见证已结束，请返回对话重新发起。"
    return None


async def customer_state(app, witness_id: str) -> dict | None:
    state = await run(app[SERVICES].witness.live_state, witness_id)
    if state is None:
        return None
    hub = app[HUB]
    return {"type": "state", "status": state["status"], "position": state["position"],
            "staff_online": state["status"] == "in_call" and await hub.connected(witness_id, "staff"),
            "message": customer_message(state)}


async def push_customer_state(app, witness_id: str) -> None:
    state = await customer_state(app, witness_id)
    if state is not None:
        await app[HUB].send(witness_id, "customer", state)


async def read_recording(request) -> bytes:
    """The raw webm body, streamed with its own cap (recordings are bigger than photos)."""
    if request.content_length is not None and request.content_length > MAX_RECORDING_BYTES:
        raise MediaError("too_large", "录像过大，无法上传。")
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > MAX_RECORDING_BYTES:
            raise MediaError("too_large", "录像过大，无法上传。")
        chunks.append(chunk)
    return b"".join(chunks)


async def store_recording(app, witness_id: str, side: str, data: bytes, actor: str, sender: str | None) -> dict:
    svc = app[SERVICES]
    info = await run(svc.media.put, data, sender=sender, max_bytes=MAX_RECORDING_BYTES)
    if info.content_type != "video/webm" and info.content_type != "video/mp4":
        raise MediaError("unsupported", "录像格式不正确。")
    await run(svc.witness.attach_recording, witness_id, side, info.media_id, info.size, actor)
    return {"media_id": info.media_id, "size": info.size}
