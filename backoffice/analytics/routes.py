"""Analytics over HTTP for other tools (staff token): the business funnels."""
from __future__ import annotations

from aiohttp import web

from backoffice.analytics.funnels import FunnelError
from backoffice.web.common import json_error, require, run, services

routes = web.RouteTableDef()


@routes.get("/api/analytics/funnels")
@require("staff")
async def funnels(request):
    q = request.query
    try:
        report = await run(services(request).funnels.report, q.get("from") or None, q.get("to") or None,
                           q.get("channel") or None, q.get("business") or None)
    except FunnelError as exc:
        return json_error(400, "bad_request", str(exc))
    return web.json_response(report)
