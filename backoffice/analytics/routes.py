"""Analytics over HTTP for other tools (staff token): the business funnels and the NLU inbox."""
from __future__ import annotations

from aiohttp import web

from backoffice.analytics.funnels import FunnelError
from backoffice.analytics.nlu_inbox import InboxError
from backoffice.web.common import json_error, read_json, require, run, services

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


@routes.get("/api/nlu/inbox")
@require("staff")
async def nlu_inbox(request):
    return web.json_response(await run(services(request).nlu_inbox.list))


@routes.post("/api/nlu/inbox/{id:\\d+}/label")
@require("staff")
async def nlu_label(request):
    body = await read_json(request)
    try:
        result = await run(services(request).nlu_inbox.label, int(request.match_info["id"]),
                           str(body.get("intent") or ""), request["actor"])
    except InboxError as exc:
        return json_error(exc.status, "bad_request" if exc.status == 400 else "not_found", str(exc))
    return web.json_response(result)


@routes.get("/api/nlu/export")
@require("staff")
async def nlu_export(request):
    text = await run(services(request).nlu_inbox.export_yaml)
    return web.Response(text=text, content_type="text/yaml", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="nlu_reviewed.yml"'})
