"""The witness signalling hub across back-office processes: two hubs (as two replicas would have) on real Redis,
each holding real WebSockets of its own aiohttp server; messages, presence, readiness and replacement must work
whichever replica holds which side of the call."""
from __future__ import annotations

import asyncio
import json
import uuid

import pytest
import redis
from aiohttp import WSMsgType, web
from aiohttp.test_utils import TestClient, TestServer

from backoffice.witness.signalling import RedisWitnessHub, WitnessHub
from tests.support.databases import REDIS_URL

WID = "w1"


def replica(hub: WitnessHub) -> web.Application:
    """A back-office stand-in with only the signalling: a socket per side, each message relayed to the other."""
    app = web.Application()

    async def socket(request):
        role = request.match_info["role"]
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await hub.attach(WID, role, ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                data = json.loads(msg.data)
                if data["type"] == "ready":
                    await hub.mark_customer_ready(WID)
                else:
                    delivered = await hub.send(WID, "staff" if role == "customer" else "customer", data)
                    await ws.send_json({"type": "ack", "delivered": delivered})
        finally:
            await hub.detach(WID, role, ws)
        return ws

    app.router.add_get("/{role}", socket)

    async def start(_app):
        await hub.start()

    async def stop(_app):
        await hub.stop()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    return app


@pytest.fixture
def prefix():
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(prefix + "*"):
        client.delete(key)


@pytest.fixture
async def replicas(prefix):
    hubs = [RedisWitnessHub(REDIS_URL, prefix=prefix, presence_ttl=3) for _ in range(2)]
    clients = [TestClient(TestServer(replica(hub))) for hub in hubs]
    for client in clients:
        await client.start_server()
    yield hubs, clients
    for client in clients:
        await client.close()


async def next_json(ws, timeout=5.0) -> dict:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, msg
    return json.loads(msg.data)


async def test_the_two_sides_on_different_replicas_reach_each_other(replicas):
    (hub_a, hub_b), (a, b) = replicas
    customer = await a.ws_connect("/customer")
    staff = await b.ws_connect("/staff")
    await asyncio.sleep(0.1)  # both attached
    assert await hub_b.connected(WID, "customer") and await hub_a.connected(WID, "staff")
    await staff.send_json({"type": "signal", "data": {"sdp": {"type": "offer", "sdp": "v=0"}}})
    assert await next_json(customer) == {"type": "signal", "data": {"sdp": {"type": "offer", "sdp": "v=0"}}}
    assert await next_json(staff) == {"type": "ack", "delivered": True}
    await customer.send_json({"type": "signal", "data": {"sdp": {"type": "answer", "sdp": "v=0 中文"}}})
    assert (await next_json(staff))["data"]["sdp"]["sdp"] == "v=0 中文"
    # readiness marked where the customer is, read where the staff member is
    assert not await hub_b.customer_ready(WID)
    await customer.send_json({"type": "ready"})
    await asyncio.sleep(0.1)
    assert await hub_b.customer_ready(WID)
    await customer.close()
    await asyncio.sleep(0.1)
    assert not await hub_b.connected(WID, "customer") and not await hub_b.customer_ready(WID)
    await staff.send_json({"type": "signal", "data": {}})
    assert await next_json(staff) == {"type": "ack", "delivered": False}
    await staff.close()
    await asyncio.sleep(0.1)


async def test_a_reconnect_on_another_replica_replaces_the_old_socket(replicas):
    (hub_a, hub_b), (a, b) = replicas
    first = await a.ws_connect("/customer")
    await asyncio.sleep(0.1)
    await first.send_json({"type": "ready"})
    await asyncio.sleep(0.1)
    second = await b.ws_connect("/customer")  # the page reloaded, the load balancer chose the other replica
    assert await next_json(first) == {"type": "replaced"}  # the old page stops reconnecting (witness.js)
    assert (await first.receive(timeout=5)).type == WSMsgType.CLOSE
    await asyncio.sleep(0.1)
    # the old socket's goodbye did not take the new one's presence with it; readiness belongs to the old page
    assert await hub_a.connected(WID, "customer") and not await hub_a.customer_ready(WID)
    staff = await a.ws_connect("/staff")
    await staff.send_json({"type": "signal", "data": {"candidate": {"candidate": "c1"}}})
    assert (await next_json(second))["data"] == {"candidate": {"candidate": "c1"}}
    await second.close()
    await staff.close()
    await asyncio.sleep(0.1)


@pytest.fixture
async def short_lived(prefix):
    """A replica serving sockets and another one watching, both with a 1-second presence TTL."""
    hub = RedisWitnessHub(REDIS_URL, prefix=prefix, presence_ttl=1)
    other = RedisWitnessHub(REDIS_URL, prefix=prefix, presence_ttl=1)
    client = TestClient(TestServer(replica(hub)))
    await client.start_server()
    await other.start()
    yield hub, other, client
    await client.close()
    await other.stop()


async def test_a_crashed_replicas_sockets_disappear_with_their_presence(short_lived):
    hub, other, client = short_lived
    ws = await client.ws_connect("/customer")
    await asyncio.sleep(0.1)
    assert await other.connected(WID, "customer")
    for task in hub._tasks:  # the process dies: nothing refreshes or removes its presence any more
        task.cancel()
    await asyncio.sleep(2.5)
    assert not await other.connected(WID, "customer")
    assert not await other.send(WID, "customer", {"type": "state"})
    await ws.close()
    await asyncio.sleep(0.1)


async def test_a_live_socket_keeps_its_presence_beyond_the_ttl(short_lived):
    _, other, client = short_lived
    ws = await client.ws_connect("/staff")
    await asyncio.sleep(2.5)  # several TTLs: refreshed meanwhile
    assert await other.connected(WID, "staff")
    await ws.close()
    await asyncio.sleep(0.1)  # the handler detaches before the server stops
