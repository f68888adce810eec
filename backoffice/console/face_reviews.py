"""Console pages of the face review (人脸复核): the doubtful live checks waiting for a reviewer, one task with its
images and measures, and the decision (which runs the same code as the staff API: live_routes.decide)."""
from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from backoffice.console.views import MEDIA_TTL, REVIEW_ROLES, _audit, _face_bands, _svc, render, staff_required
from backoffice.identity.live_routes import decide
from backoffice.identity.reviews import STATUS_LABELS, ReviewError
from backoffice.web.common import run

routes = web.RouteTableDef()
ATTACK_LABELS = {None: "未发现", "print": "打印照片", "screen": "屏幕翻拍", "static": "静止画面"}


@routes.get("/console/face-reviews")
@staff_required(*REVIEW_ROLES)
async def face_reviews(request):
    status = request.query.get("status", "pending")
    try:
        rows = await run(_svc(request).reviews.list, status or None)
    except ReviewError:
        rows = []
    return render("console_face_reviews.html", request, rows=rows, status=status, statuses=STATUS_LABELS)


@routes.get("/console/face-reviews/{id:\\d+}")
@staff_required(*REVIEW_ROLES)
async def face_review(request):
    from biometrics.liveness import ACTION_TEXT as ACTION_LABELS  # cv2: only when a review is opened

    svc = _svc(request)
    view = await run(svc.reviews.get, int(request.match_info["id"]))
    if view is None:
        return render("console_error.html", request, http_status=404, message="没有这个复核任务。")

    def link(media_id: str) -> str:
        return "/h5/media/" + svc.links.sign({"m": media_id, "s": view["sender"]}, MEDIA_TTL)

    live = view["liveness"]
    images = {"best": link(view["best_frame_media_id"]) if view["best_frame_media_id"] else None,
              "references": [link(m) for m in view["reference_media_ids"]]}
    await _audit(request, "console_face_review_viewed", account_number=view["account_number"], review_id=view["id"])
    return render("console_face_review.html", request, review=view, images=images, bands=_face_bands(),
                  challenge="、".join(ACTION_LABELS.get(a, a) for a in live.get("challenge") or []),
                  seen="、".join(ACTION_LABELS.get(a["action"], a["action"]) for a in live.get("actions") or []),
                  attack=ATTACK_LABELS.get(live.get("attack"), live.get("attack")), flash=request.query.get("msg"))


@routes.post("/console/face-reviews/{id:\\d+}/{action:approve|reject}")
@staff_required(*REVIEW_ROLES)
async def face_review_decide(request):
    review_id = int(request.match_info["id"])
    form = await request.post()
    approved = request.match_info["action"] == "approve"
    try:
        await decide(request.app, review_id, request["staff"]["username"], approved, str(form.get("reason", "")))
        msg = "已通过，客户已收到短信与对话通知。" if approved else "已驳回，客户已收到短信与对话通知。"
    except ReviewError as exc:
        msg = "操作未执行：" + str(exc)
    raise web.HTTPFound(f"/console/face-reviews/{review_id}?" + urlencode({"msg": msg}))


def setup(app: web.Application) -> None:
    app.add_routes(routes)
