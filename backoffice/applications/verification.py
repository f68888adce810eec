"""The verification steps a business needs before its application may be opened, enforced server-side.

The dialogue runs the shared steps (business face check, business SMS code, ...), but the back-office does
not take the bot's word for it: `ApplicationService.open` asks this module, which looks at the results the
back-office itself recorded for this sender and account (identity.face_passed, the verified-code flag of
business_codes). What a check proves is written into the application by the server (the face decision and
distance come from the server-side result, never from the bot's payload) and used up once the application
is opened, so one face check or code opens one application.

Table-driven: a business's registry entry names its checks (`application.checks`), CHECKS maps a name to a
Check; a new kind of check is a Check here (and its step kind in businesses/model.CHECK_PROVIDERS).
"""
from __future__ import annotations

from backoffice.applications.checks import ApplicationError, Check, Context
from businesses import get

FACE_PURPOSE = "business"


class FaceCheck(Check):
    def verify(self, svc, ctx):
        # only a live check that matched, or one a reviewer approved (backoffice/identity/live.py, reviews.py)
        record = svc.identity.face_passed(ctx.sender, FACE_PURPOSE, ctx.account_number)
        if record is None:
            raise ApplicationError("face_required", "为保障您的账户安全，提交申请前需要先完成本人活体人脸认证。"
                                                    "请重新办理该业务，并按提示完成活体检测。", 409)
        face = {"decision": "accept", "score": record.get("distance"), "liveness": record.get("liveness")}
        if record.get("media"):
            face["media"] = record["media"]  # the live check's best frame, shown to the reviewer
        if record.get("review_id"):
            face.update(review_id=record["review_id"], reviewed_by=record.get("reviewed_by"))
        return {"face": face}

    def consume(self, svc, ctx, application_id, proof):
        svc.identity.consume_face(ctx.sender, FACE_PURPOSE)


class SmsCodeCheck(Check):
    def verify(self, svc, ctx):
        if not svc.business_codes.verified(ctx.sender, ctx.account_number, ctx.business):
            raise ApplicationError("code_required", "为保障您的账户安全，提交申请前需要先完成短信验证码验证。"
                                                    "请重新办理该业务，并输入短信中的验证码。", 409)
        return {}

    def consume(self, svc, ctx, application_id, proof):
        svc.business_codes.consume(ctx.sender, ctx.business)


class WitnessCheck(Check):
    """视频见证: a session of this sender, account and business that staff passed and no application used yet."""

    def verify(self, svc, ctx):
        witness_id = svc.witness.passed(ctx.sender, ctx.account_number, ctx.business)
        if witness_id is None:
            raise ApplicationError("witness_required", "提交申请前需要先通过视频见证。请重新办理该业务，"
                                                       "并按提示完成视频见证。", 409)
        return {"witness_id": witness_id}  # the review page finds the recording through it

    def consume(self, svc, ctx, application_id, proof):
        svc.witness.consume(proof["witness_id"], application_id)


CHECKS: dict[str, Check] = {"face": FaceCheck(), "sms_code": SmsCodeCheck(), "witness": WitnessCheck()}



class Verification:
    """Looks the services up lazily (svc.identity, svc.business_codes, ...) so checks may use any of them."""

    def __init__(self, services):
        self.svc = services

    def required(self, business: str) -> tuple[str, ...]:
        entry = get(business)
        return entry.checks if entry else ()

    def verify(self, business: str, sender: str, account_number: str) -> dict:
        ctx = Context(business, sender, account_number)
        additions: dict = {}
        for name in self.required(business):
            additions.update(CHECKS[name].verify(self.svc, ctx))
        return additions

    def consume(self, business: str, sender: str, account_number: str, application_id: int, proof: dict) -> None:
        """`proof`: what verify() returned (the application's payload holds it)."""
        ctx = Context(business, sender, account_number)
        for name in self.required(business):
            CHECKS[name].consume(self.svc, ctx, application_id, proof)
