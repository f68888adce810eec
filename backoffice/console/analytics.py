"""Console pages 运营分析, NLU 收件箱 and 会话复盘 (reviewers and admins only).

运营分析: the business funnels (backoffice/analytics/funnels.py) as a table and charts, filtered by Beijing
dates, channel and business, and the same table as CSV.

The page is rendered with its table on the server; the charts (Apache ECharts, vendored in static/ with its
licence: the CSP allows no CDN and no inline script) are drawn by static/analytics.js from analytics.json.
NLU 收件箱 lists the messages the bot misunderstood (backoffice/analytics/nlu_inbox.py); a reviewer labels each
(audited) and downloads the labelled ones as Rasa NLU YAML. 会话复盘 searches conversations, shows one with the
bot's reading of each message and its actions, and tags it (backoffice/analytics/review.py; audited).
"""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from urllib.parse import quote, urlencode

from aiohttp import web

from backoffice.analytics.funnels import FunnelError
from backoffice.analytics.nlu_inbox import InboxError
from backoffice.analytics.review import OUTCOMES, TAGS, ReviewError
from backoffice.console.views import REVIEW_ROLES, _svc, render, staff_required
from backoffice.core.clock import CHINA
from backoffice.web.common import run
from businesses import REGISTRY

routes = web.RouteTableDef()
CHANNEL_LABELS = {"wechat": "微信公众号", "wecom": "微信客服", "rest": "App / REST"}
ALL_BUSINESSES = {code: b.name for code, b in sorted(REGISTRY.items(), key=lambda kv: (kv[1].order, kv[0]))}
CSV_COLUMNS = [("business", "业务代码"), ("name", "业务"), ("started", "发起"), ("completed", "办结"),
               ("submitted", "提交申请"), ("approved", "通过"), ("rejected", "驳回"), ("withdrawn", "撤销"),
               ("handoffs", "转人工"), ("handoff_rate", "转人工率"), ("fallback_rate", "未识别率"),
               ("median_decision_s", "审核中位时长(秒)")]


def _filters(request) -> dict:
    q = request.query
    today = _svc(request).clock.utcnow().astimezone(CHINA).date()
    return {"from": q.get("from") or (today - timedelta(days=6)).isoformat(), "to": q.get("to") or today.isoformat(),
            "channel": q.get("channel") or "", "business": q.get("business") or ""}


async def _report(request, f: dict) -> list[dict]:
    return await run(_svc(request).funnels.report, f["from"], f["to"], f["channel"] or None, f["business"] or None)


@routes.get("/console/analytics")
@staff_required(*REVIEW_ROLES)
async def page(request):
    f = _filters(request)
    try:
        rows, error = await _report(request, f), None
    except FunnelError as exc:
        rows, error = [], str(exc)
    return render("console_analytics.html", request, rows=rows, f=f, error=error, channels=CHANNEL_LABELS,
                  businesses=ALL_BUSINESSES, query=urlencode(f))


@routes.get("/console/analytics.json")
@staff_required(*REVIEW_ROLES)
async def data(request):
    f = _filters(request)
    try:
        report, daily = await run(_svc(request).funnels.overview, f["from"], f["to"], f["channel"] or None,
                                  f["business"] or None)
    except FunnelError as exc:
        return web.json_response({"error": "bad_request", "message": str(exc)}, status=400)
    return web.json_response({"filters": f, "funnels": report, "daily": daily},
                             headers={"Cache-Control": "no-store"})


@routes.get("/console/analytics.csv")
@staff_required(*REVIEW_ROLES)
async def export(request):
    f = _filters(request)
    try:
        report = await _report(request, f)
    except FunnelError as exc:
        return web.Response(status=400, text=str(exc))
    out = io.StringIO()
    writer = csv.writer(out)
    steps = [f"步骤{i}" for i in range(1, 1 + max((len(r["steps"]) for r in report), default=0))]
    writer.writerow([label for _, label in CSV_COLUMNS] + steps)
    for r in report:
        writer.writerow([r.get(key) if r.get(key) is not None else "" for key, _ in CSV_COLUMNS]
                        + [f'{s["label"]}:{s["reached"]}:{s["median_s"] if s["median_s"] is not None else ""}'
                           for s in r["steps"]])
    name = f"funnels-{f['from']}-{f['to']}.csv"
    # a BOM: Excel (what staff open it with) reads UTF-8 Chinese only with it
    return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    app.add_routes(routes)



# --- NLU inbox (NLU 收件箱) ---------------------------------------------------------------------

REASON_LABELS = {"fallback": "未识别", "low_confidence": "低置信度", "corrected": "客户随即纠正", "handoff": "随后转人工"}


@routes.get("/console/nlu")
@staff_required(*REVIEW_ROLES)
async def nlu_page(request):
    svc = _svc(request)
    items = await run(svc.nlu_inbox.list)
    labelled = await run(svc.nlu_inbox.labelled)
    return render("console_nlu.html", request, items=items, labelled=labelled, intents=svc.nlu_inbox.labels,
                  reasons=REASON_LABELS, flash=request.query.get("msg"))


@routes.post("/console/nlu/{id:\\d+}/label")
@staff_required(*REVIEW_ROLES)
async def nlu_label(request):
    form = await request.post()
    try:
        await run(_svc(request).nlu_inbox.label, int(request.match_info["id"]), str(form.get("intent") or ""),
                  request["staff"]["username"])
    except InboxError as exc:
        return render("console_error.html", request, http_status=exc.status, message=str(exc))
    raise web.HTTPFound("/console/nlu?" + urlencode({"msg": "已标注"}))


@routes.get("/console/nlu/export.yml")
@staff_required(*REVIEW_ROLES)
async def nlu_export(request):
    text = await run(_svc(request).nlu_inbox.export_yaml)
    return web.Response(text=text, content_type="text/yaml", charset="utf-8",
                        headers={"Content-Disposition": 'attachment; filename="nlu_reviewed.yml"',
                                 "Cache-Control": "no-store"})


# --- conversation review (会话复盘) -----------------------------------------------------------------

EVENT_LABELS = {"user": "客户", "bot": "机器人", "action": "动作", "active_loop": "表单", "slot": "询问步骤",
                "session_started": "新会话"}


@routes.get("/console/review")
@staff_required(*REVIEW_ROLES)
async def review_page(request):
    q = request.query
    today = _svc(request).clock.utcnow().astimezone(CHINA).date()
    f = {"account": q.get("account") or "", "from": q.get("from") or (today - timedelta(days=6)).isoformat(),
         "to": q.get("to") or today.isoformat(), "business": q.get("business") or "", "outcome": q.get("outcome") or "",
         "channel": q.get("channel") or ""}
    try:
        rows, error = await run(_svc(request).review.search, account=f["account"] or None, start=f["from"],
                                end=f["to"], business=f["business"] or None, outcome=f["outcome"] or None,
                                channel=f["channel"] or None), None
    except ReviewError as exc:
        rows, error = [], str(exc)
    return render("console_review.html", request, rows=rows, f=f, error=error, channels=CHANNEL_LABELS,
                  businesses=ALL_BUSINESSES, outcomes=OUTCOMES)


@routes.get("/console/review/{sender}")
@staff_required(*REVIEW_ROLES)
async def review_conversation(request):
    try:
        view = await run(_svc(request).review.transcript, request.match_info["sender"], request["staff"]["username"])
    except ReviewError as exc:
        return render("console_error.html", request, http_status=exc.status, message="没有这段会话的记录。")
    return render("console_review_conversation.html", request, view=view, tags=TAGS, labels=EVENT_LABELS,
                  flash=request.query.get("msg"))


@routes.post("/console/review/{sender}/tag")
@staff_required(*REVIEW_ROLES)
async def review_tag(request):
    form = await request.post()
    sender = request.match_info["sender"]
    try:
        await run(_svc(request).review.tag, sender, str(form.get("tag") or ""), request["staff"]["username"],
                  form.get("on", "1") == "1")
    except ReviewError as exc:
        return render("console_error.html", request, http_status=exc.status, message=str(exc))
    raise web.HTTPFound(f"/console/review/{quote(sender, safe='')}?" + urlencode({"msg": "已更新标签"}))
