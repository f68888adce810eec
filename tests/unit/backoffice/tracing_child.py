"""A fresh process for tests/unit/backoffice/test_tracing.py: tracing is process-wide (one tracer provider, patched
client classes, the log record factory), so each side runs in its own interpreter and reports as JSON on stdout.

    python -m tests.unit.backoffice.tracing_child off WORKDIR   # OTEL_EXPORTER_OTLP_ENDPOINT unset
    python -m tests.unit.backoffice.tracing_child on WORKDIR    # set: a turn through the real back-office app
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
import uuid
from pathlib import Path

CUSTOMER = {"account_number": "80010001", "name": "张伟", "id_number": "110105198503120012",
            "phone": "13800000001", "investor_type": "投资者", "opened_on": "2018-04-16", "state": "normal",
            "balance": "100.50"}
CALLER_TRACE, CALLER_SPAN = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
TRACEPARENT = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
SIGNED_TOKEN = "eyJ0IjoibWVkaWEifQ.c2lnbmF0dXJlMTIzNDU2Nzg5MA"


def _services(workdir: Path, redis: bool):
    from backoffice.core.kvstore import MemoryKV, RedisKV
    from backoffice.core.migrate import upgrade
    from backoffice.services import build_services
    from tests.support.databases import REDIS_URL
    from tests.unit.conftest import make_settings

    url = f"sqlite:///{workdir / 'hall.db'}"
    upgrade(url)
    kv = RedisKV(REDIS_URL, prefix=f"test:{uuid.uuid4().hex[:8]}:") if redis else MemoryKV()
    return build_services(make_settings(url, workdir), kv=kv), kv


def off(workdir: Path) -> dict:
    import redis.asyncio.client
    import redis.client
    from aiohttp import ClientSession
    from sanic import Sanic

    import bot.action_server
    import connectors.rest
    import connectors.wechat  # noqa: F401 (loaded as Rasa loads it)
    import connectors.wecom  # noqa: F401
    from backoffice.core import tracing
    from backoffice.web.app import create_app, tracing_middleware
    from connectors.turns import traced

    factory = logging.getLogRecordFactory()
    facts = {"setup": [tracing.setup(name) for name in (tracing.RASA, tracing.ACTIONS, tracing.BACKOFFICE)]}

    async def handler(request):
        return None

    facts["channel_handler_unchanged"] = traced("rest", "/webhooks/rest/webhook")(handler) is handler
    blueprint = connectors.rest.RestInput().blueprint(handler)
    facts["rest_handlers_wrapped"] = [r.handler.__name__ for r in blueprint._future_routes
                                      if hasattr(r.handler, "__wrapped__")]
    sanic_app = Sanic("tracing_off_probe")
    bot.action_server.trace_calls(sanic_app)
    facts["action_middlewares"] = len(sanic_app._future_middleware)
    services, _kv = _services(workdir, redis=False)
    app = create_app(services)
    facts["backoffice_traced"] = tracing_middleware in app.middlewares
    facts["engine_traced"] = getattr(services.db.engine, "_hall_traced", False)
    facts["redis_wrapped"] = any(hasattr(getattr(cls, name), "_hall_traced") for cls, name in (
        (redis.client.Redis, "execute_command"), (redis.client.Pipeline, "execute"),
        (redis.asyncio.client.Redis, "execute_command"), (redis.asyncio.client.Pipeline, "execute")))
    facts["aiohttp_wrapped"] = hasattr(ClientSession.__init__, "__wrapped__")
    facts["record_factory_kept"] = logging.getLogRecordFactory() is factory
    facts["span_helpers"] = [tracing.span("x") is tracing.OFF, tracing.server_span("x", {"traceparent": TRACEPARENT})
                             is tracing.OFF, tracing.root_span("x") is tracing.OFF, tracing.trace_id() is None,
                             tracing.inject({}) == {}]
    services.close()
    facts["otel_modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
    return facts


def on(workdir: Path) -> dict:
    import aiohttp
    from aiohttp.test_utils import TestServer
    from opentelemetry import trace
    from sqlalchemy import text as sql

    from backoffice.core import tracing
    from backoffice.identity.service import IdentityService
    from backoffice.web.app import create_app, tracing_middleware

    facts = {"setup": [tracing.setup(tracing.BACKOFFICE), tracing.setup(tracing.RASA)], "service": tracing.service()}
    services, kv = _services(workdir, redis=True)
    app = create_app(services)
    facts["backoffice_traced"] = app.middlewares[0] is tracing_middleware
    logs = io.StringIO()
    probe = logging.getLogger("probe")
    probe.addHandler(logging.StreamHandler(logs))
    probe.setLevel(logging.INFO)
    staff = {"Authorization": f"Bearer {services.settings.admin_token}"}
    bot = {"Authorization": f"Bearer {services.settings.service_token}"}

    async def fake_job(data: bytes) -> str:  # stands for a biometrics job; the pool itself is tested elsewhere
        return "ok"

    async def runner(func, *args):
        return await func(*args)

    async def turn():
        server = TestServer(app)
        await server.start_server()
        base = str(server.make_url("")).rstrip("/")
        try:
            async with aiohttp.ClientSession() as http:
                with tracing.server_span("POST /webhooks/rest/webhook", {"traceparent": TRACEPARENT},
                                         {"hall.channel": "rest"}):
                    probe.info("inside a span")
                    facts["injected"] = tracing.inject({})
                    facts["trace_id"] = tracing.trace_id()
                    await http.post(base + "/api/accounts", json=CUSTOMER, headers=staff)
                    await http.post(base + "/api/bot/login/account", headers=bot,
                                    json={"sender": "s1", "account_number": CUSTOMER["account_number"]})
                    async with http.post(base + "/api/bot/login/start", headers=bot, json={
                            "sender": "s1", "account_number": CUSTOMER["account_number"],
                            "phone": CUSTOMER["phone"]}) as resp:
                        facts["login_start"] = await resp.json()
                    async with http.get(base + f"/api/sandbox/sms?phone={CUSTOMER['phone']}", headers=staff) as resp:
                        sms = (await resp.json())[-1]["text"]
                    facts["code"] = "".join(c for c in sms.split("验证码", 1)[1] if c.isdigit())[:6]
                    async with http.post(base + "/api/bot/login/verify", headers=bot,
                                         json={"sender": "s1", "code": facts["code"]}) as resp:
                        facts["login_verify"] = await resp.json()
                    async with http.get(base + f"/h5/media/{SIGNED_TOKEN}") as resp:
                        facts["media_status"] = resp.status
                    identity = IdentityService(None, None, None, None, None, None, runner=runner)
                    await identity.run_biometrics(fake_job, b"\xff\xd8 photo bytes")
                    with tracing.root_span("wecom message", {"hall.channel": "wecom"}):  # a pulled message
                        facts["pulled_trace_id"] = tracing.trace_id()
            probe.info("outside any span")
            kv.set("outside", CUSTOMER["phone"], 10)  # no span: Redis and SQL are traced only inside a turn
            with services.db.session() as session:
                session.execute(sql("SELECT 1"))
        finally:
            await server.close()

    asyncio.run(turn())
    services.close()
    trace.get_tracer_provider().force_flush()
    facts["logs"] = logs.getvalue().splitlines()
    return facts


if __name__ == "__main__":
    mode, workdir = sys.argv[1], Path(sys.argv[2])
    result = off(workdir) if mode == "off" else on(workdir)
    print("RESULT " + json.dumps(result, ensure_ascii=False), flush=True)
