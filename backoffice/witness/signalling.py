"""WebRTC signalling for the video witness: one customer socket and one staff socket per session.

The back-office only relays offer/answer/ICE messages between the two browsers; media flows peer to
peer. The staff browser always makes the offer (after the customer said "ready"); the customer browser
answers every new offer with a fresh peer connection, so a dropped socket or network is healed by
reconnecting and negotiating again.

Session state is in SQL. The sockets live in the process that accepted them; with Redis the hub relays between
processes (RedisWitnessHub), so any number of back-office processes or replicas can serve the calls.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import uuid
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from backoffice.core.kvstore import RedisKV

log = logging.getLogger(__name__)
MAX_SIGNAL_BYTES = 64 * 1024  # an SDP with many candidates is a few KB
POLL_SECONDS = 1.0  # state (queue position, verdict) re-read from SQL: works across processes


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
    """The sockets of this process. Alone it serves one back-office process (the embedded defaults); with
    Redis, RedisWitnessHub below lets the two sides of a call sit on different processes or replicas."""

    def __init__(self):
        self.rooms: dict[str, Room] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def room(self, witness_id: str) -> Room:
        return self.rooms.setdefault(witness_id, Room())

    def _local(self, witness_id: str, role: str):
        room = self.rooms.get(witness_id)
        ws = room.sockets.get(role) if room else None
        return ws if ws is not None and not ws.closed else None

    async def connected(self, witness_id: str, role: str) -> bool:
        return self._local(witness_id, role) is not None

    async def mark_customer_ready(self, witness_id: str) -> None:
        self.room(witness_id).customer_ready = True

    async def customer_ready(self, witness_id: str) -> bool:
        room = self.rooms.get(witness_id)
        return bool(room and room.customer_ready and self._local(witness_id, "customer"))

    async def attach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> None:
        """A second socket for the same side (reload, second tab, reconnect) replaces the first."""
        room = self.room(witness_id)
        old = room.sockets.get(role)
        room.sockets[role] = ws
        if role == "customer":
            room.customer_ready = False
        if old is not None and old is not ws:
            await _evict(old)

    async def detach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> bool:
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
        return await _send(self._local(witness_id, role), message)


async def _send(ws, message: dict) -> bool:
    if ws is None or ws.closed:
        return False
    try:
        await ws.send_str(json.dumps(message, ensure_ascii=False))
        return True
    except (ConnectionResetError, RuntimeError):  # closing underneath us: the peer reconnects
        return False


async def _evict(ws) -> None:
    """Told first, so that page stops reconnecting (two tabs would otherwise evict each other forever)."""
    if ws.closed:
        return
    await _send(ws, {"type": "replaced"})
    await ws.close(code=4000, message=b"replaced")


# Compare-and-act on a presence key: only the socket that owns it may refresh or remove it.
_EXPIRE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('expire', KEYS[1], ARGV[2]) end " \
                  "return 0"
_DELETE_IF_OURS = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class RedisWitnessHub(WitnessHub):
    """Sockets stay in the process that accepted them; Redis records which process holds each side of a call
    (a presence key per side, refreshed while the socket lives, gone within `presence_ttl` seconds of a crash)
    and carries messages to it (pub/sub, one channel per process). So the customer's page and the staff
    member's console may be served by different back-office replicas behind a plain load balancer."""

    def __init__(self, url: str, prefix: str = "hall:", presence_ttl: int = 30):
        super().__init__()
        import redis.asyncio

        self.redis = redis.asyncio.Redis.from_url(url, decode_responses=True, socket_timeout=5)
        self.node = uuid.uuid4().hex  # this process
        self.prefix = prefix + "witness:"
        self.presence_ttl = presence_ttl
        self.sids: dict[tuple[str, str], str] = {}  # (witness id, role) → id of this process's current socket
        self._pubsub = None
        self._tasks: list[asyncio.Task] = []

    def _key(self, witness_id: str, role: str) -> str:
        return f"{self.prefix}sock:{witness_id}:{role}"

    def _ready_key(self, witness_id: str) -> str:
        return f"{self.prefix}ready:{witness_id}"

    def _channel(self, node: str) -> str:
        return f"{self.prefix}node:{node}"

    def _presence(self, sid: str) -> str:
        """The value of a presence key: which process holds the socket, and which socket."""
        return f"{self.node} {sid}"

    def _owner(self, witness_id: str, role: str) -> str | None:
        sid = self.sids.get((witness_id, role))
        return self._presence(sid) if sid else None

    async def start(self) -> None:
        self._pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel(self.node))  # before any socket is accepted
        self._tasks = [asyncio.create_task(self._listen()), asyncio.create_task(self._refresh())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for (witness_id, role), sid in list(self.sids.items()):
            with contextlib.suppress(Exception):
                await self.redis.eval(_DELETE_IF_OURS, 1, self._key(witness_id, role), self._presence(sid))
        with contextlib.suppress(Exception):
            await self._pubsub.close()
        await self.redis.close()

    async def _listen(self) -> None:
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                data = json.loads(message["data"])
                await self._deliver(data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarting: the subscription comes back with the connection
                log.warning("witness relay: %s", exc.__class__.__name__)
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(self._channel(self.node))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.presence_ttl / 3)
            for (witness_id, role), sid in list(self.sids.items()):
                try:
                    await self.redis.eval(_EXPIRE_IF_OURS, 1, self._key(witness_id, role), self._presence(sid),
                                          self.presence_ttl)
                except Exception as exc:
                    log.warning("witness presence refresh: %s", exc.__class__.__name__)

    async def _deliver(self, data: dict) -> None:
        witness_id, role = str(data.get("witness_id")), str(data.get("role"))
        if self.sids.get((witness_id, role)) != data.get("sid"):
            return  # that socket has gone (or was replaced) meanwhile
        if data.get("op") == "send" and isinstance(data.get("message"), dict):
            await super().send(witness_id, role, data["message"])
        elif data.get("op") == "replace":
            # its presence key already names the new socket: only the local entry goes
            ws = self._local(witness_id, role)
            self.sids.pop((witness_id, role), None)
            if ws is not None:
                await super().detach(witness_id, role, ws)
                await _evict(ws)

    async def attach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> None:
        sid = uuid.uuid4().hex
        old = await self.redis.set(self._key(witness_id, role), self._presence(sid), ex=self.presence_ttl,
                                   get=True)
        if role == "customer":
            await self.redis.delete(self._ready_key(witness_id))
        self.sids[(witness_id, role)] = sid
        await super().attach(witness_id, role, ws)  # evicts a socket of this process
        if old:
            node, old_sid = old.split(" ", 1)
            if node != self.node:
                await self.redis.publish(self._channel(node), json.dumps(
                    {"op": "replace", "witness_id": witness_id, "role": role, "sid": old_sid}))

    async def detach(self, witness_id: str, role: str, ws: web.WebSocketResponse) -> bool:
        if not await super().detach(witness_id, role, ws):
            return False
        owner = self._owner(witness_id, role)
        self.sids.pop((witness_id, role), None)
        if owner:
            await self.redis.eval(_DELETE_IF_OURS, 1, self._key(witness_id, role), owner)
            if role == "customer":
                await self.redis.eval(_DELETE_IF_OURS, 1, self._ready_key(witness_id), owner)
        return True

    async def connected(self, witness_id: str, role: str) -> bool:
        if self._local(witness_id, role) is not None:
            return True
        return bool(await self.redis.exists(self._key(witness_id, role)))

    async def mark_customer_ready(self, witness_id: str) -> None:
        await super().mark_customer_ready(witness_id)
        owner = self._owner(witness_id, "customer")  # called by the customer socket's own handler
        if owner:
            await self.redis.set(self._ready_key(witness_id), owner, ex=3 * 3600)

    async def customer_ready(self, witness_id: str) -> bool:
        ready, current = await self.redis.mget(self._ready_key(witness_id), self._key(witness_id, "customer"))
        return ready is not None and ready == current

    async def send(self, witness_id: str, role: str, message: dict) -> bool:
        if self._local(witness_id, role) is not None:
            return await super().send(witness_id, role, message)
        current = await self.redis.get(self._key(witness_id, role))
        if not current:
            return False
        node, sid = current.split(" ", 1)
        if node == self.node:
            return False  # ours, but already closed
        receivers = await self.redis.publish(self._channel(node), json.dumps(
            {"op": "send", "witness_id": witness_id, "role": role, "sid": sid, "message": message},
            ensure_ascii=False))
        return receivers > 0


def make_hub(services) -> WitnessHub:
    """Redis-backed when the back-office keeps its state in Redis (several processes may serve the calls)."""
    if isinstance(services.kv, RedisKV) and services.settings.redis_url:
        return RedisWitnessHub(services.settings.redis_url, prefix=services.kv.prefix)
    return WitnessHub()


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
