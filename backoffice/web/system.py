"""What belongs to no business: the health probe (database and KV store) and the staff's view of the audit log."""
from __future__ import annotations

from aiohttp import web
from sqlalchemy import text

from backoffice.web.common import require, run, services

routes = web.RouteTableDef()


@routes.get("/api/health")
async def health(request):
    svc = services(request)

    def probe():
        with svc.db.session() as s:
            s.execute(text("SELECT 1"))
        svc.kv.get("health")

    try:
        await run(probe)
    except Exception as exc:  # report which dependency is down, without details
        return web.json_response({"status": "unavailable", "error": exc.__class__.__name__}, status=503)
    return web.json_response({"status": "ok"})


@routes.get("/api/audit")
@require("staff")
async def audit(request):
    q = request.query
    return web.json_response(await run(services(request).audit.list, event=q.get("event"),
                                       account_number=q.get("account_number")))
