"""WebRTC signalling for the video witness: one customer socket and one staff socket per session.

The back-office only relays offer/answer/ICE messages between the two browsers; media flows peer to
peer. The staff browser always makes the offer (after the customer said "ready"); the customer browser
answers every new offer with a fresh peer connection, so a dropped socket or network is healed by
reconnecting and negotiating again.

Sockets live in this process's memory: run one back-office process for signalling (or route
/h5/witness/* and /console/witness/* to one instance). Session state itself is in SQL.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

log = logging.getLogger(__name__)
MAX_SIGNAL_BYTES = 64 * 1024  # an SDP with many candidates is a few KB
POLL_SECONDS = 1.0  # state (queue position, verdict) re-read from SQL: works across processes
ROLES = ("customer", "staff")


def ice_servers() -> list[dict]:
    """RTCPeerConnection iceServers from WITNESS_ICE_SERVERS (JSON list); none needed on loopback/LAN."""
    raw = os.environ.get("WITNESS_ICE_SERVERS", "").strip()
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        log.warning("WITNESS_ICE_SERVERS is not valid JSON; using no ICE servers")
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) and v.get("urls") for v in value):
        log.warning("WITNESS_ICE_SERVERS must be a JSON list of {urls, username?, credential?}")
        return []
    return value


@dataclass
class Room:
    sockets: dict = field(default_factory=dict)  # role → WebSocketResponse
    customer_ready: bool = False


class WitnessHub:
    def __init__(self):
        self.rooms: dict[str, Room] = {}

    def room(self, witness_id: str) -> Room:
        return self.rooms.setdefault(witness_id, Room())

    def connected(self, witness_id: str, role: str) -> bool:
        room = self.rooms.get(witness_id)
        ws = room.sockets.get(role) if room else None
        return ws is not None and not ws.closed

    def customer_ready(self, witness_id: str) -> bool:
        room = self.rooms.get(witness_id)
        return bool(room and room.customer_ready and self.connected(witness_id, "customer"))

    async def attach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> None:
        """A second socket for the same side (reload, second tab, reconnect) replaces the first."""
        room = self.room(witness_id)
        old = room.sockets.get(role)
        room.sockets[role] = ws
        if role == "customer":
            room.customer_ready = False
        if old is not None and old is not ws and not old.closed:
            # told first, so that page stops reconnecting (two tabs would otherwise evict each other forever)
            try:
                await old.send_str(json.dumps({"type": "replaced"}))
            except (ConnectionResetError, RuntimeError):
                pass
            await old.close(code=4000, message=b"replaced")

    def detach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> bool:
        """True when this socket was the current one for its side."""
        room = self.rooms.get(witness_id)
        if room is None or room.sockets.get(role) is not ws:
            return False
        del room.sockets[role]
        if role == "customer":
            room.customer_ready = False
        if not room.sockets:
            self.rooms.pop(witness_id, None)
        return True

    async def send(self, witness_id: str, role: str, message: dict) -> bool:
        room = self.rooms.get(witness_id)
        ws = room.sockets.get(role) if room else None
        if ws is None or ws.closed:
            return False
        try:
            await ws.send_str(json.dumps(message, ensure_ascii=False))
            return True
        except (ConnectionResetError, RuntimeError):  # closing underneath us: the peer reconnects
            return False

    async def broadcast(self, witness_id: str, message: dict) -> None:
        for role in ROLES:
            await self.send(witness_id, role, message)


def other(role: str) -> str:
    return "staff" if role == "customer" else "customer"


def parse(msg) -> dict | None:
    if msg.type != WSMsgType.TEXT or len(msg.data) > MAX_SIGNAL_BYTES:
        return None
    try:
        data = json.loads(msg.data)
    except ValueError:
        return None
    return data if isinstance(data, dict) and isinstance(data.get("type"), str) else None


def clean_signal(data) -> dict | None:
    """Only what RTCPeerConnection needs travels: {sdp: {type, sdp}} or {candidate: {...}}."""
    if not isinstance(data, dict):
        return None
    sdp = data.get("sdp")
    if isinstance(sdp, dict) and sdp.get("type") in ("offer", "answer") and isinstance(sdp.get("sdp"), str):
        return {"sdp": {"type": sdp["type"], "sdp": sdp["sdp"]}}
    cand = data.get("candidate")
    if isinstance(cand, dict) and isinstance(cand.get("candidate"), str):
        keep = {k: cand.get(k) for k in ("candidate", "sdpMid", "sdpMLineIndex", "usernameFragment") if k in cand}
        return {"candidate": keep}
    return None


async def receive(ws: web.WebSocketResponse, timeout: float):
    """The next message, None on timeout, or False when the socket is done."""
    try:
        msg = await ws.receive(timeout=timeout)
    except asyncio.TimeoutError:
        return None
    if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED, WSMsgType.ERROR):
        return False
    return msg


def same_origin(request: web.Request) -> bool:
    """Browsers send Origin on WebSocket upgrades: refuse other sites (cross-site WebSocket hijacking)."""
    origin = request.headers.get("Origin")
    return not origin or origin.split("://", 1)[-1] == request.host
