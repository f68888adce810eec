"""The texts customers receive by SMS and how one is composed.

`compose(kind, **values)` gives the text (what the sandbox stores) carrying its kind and values: real providers
(`backoffice/otp/sms_providers/`, SMS_GATEWAY=aliyun|tencent) send the approved template of that kind with the
values as parameters. Each provider template must read like the text here (`template_spec()` lists them).
"""
from __future__ import annotations

import string
from functools import lru_cache

from businesses import applications

SIGNATURE = "【金信期货】"

TEXTS = {
    "otp_login": "您正在登录优财期掌厅，验证码{code}，5分钟内有效。如非本人操作请忽略，切勿告知他人。",
    "otp_generic": "您正在办理{business}，验证码{code}，5分钟内有效。如非本人操作请忽略，切勿告知他人。",
    "recovered": "您通过掌厅找回资金账号，您名下的资金账号为：{accounts}。请妥善保管，如非本人操作请立即致电400-000-0000。",
    # Applications: the approval text of each business is its registry entry's `sms_approved` (added below).
    "app_approved_generic": "您于{date}提交的{business_name}申请已审核通过，资金账号{masked}。",
    "app_rejected": "您于{date}提交的{business_name}申请未通过审核，原因：{reason}。您可在掌厅重新办理，"
                    "如有疑问请致电客服热线400-000-0000。",
    "login_failures": "您的资金账号{masked}近期多次登录失败，已开启登录保护。如非本人操作，请勿向任何人透露验证码；"
                      "本人登录不受影响。如有疑问请致电客服热线400-000-0000。",
    # A reviewer's decision on a doubtful live face check (backoffice/identity/reviews.py).
    "face_review_bound": "您的人脸核验已通过人工复核，资金账号{masked}已与您的设备绑定。如非本人操作，请立即致电客服热线400-000-0000。",
    "face_review_approved": "您的人脸核验（{purpose}）已通过人工复核，请返回掌厅对话继续办理。",
    "face_review_rejected": "您的人脸核验（{purpose}）未通过人工复核，原因：{reason}。您可重新进行活体检测，或致电客服热线400-000-0000。",
    "otp_sign": "您正在签署{titles}，验证码{code}，5分钟内有效。如非本人操作请忽略，切勿告知他人。",
}
TEXTS.update({f"app_approved_{code}": business.texts["sms_approved"]
              for code, business in applications().items() if business.texts.get("sms_approved")})


class SmsText(str):
    """The composed text, with the kind and the values it was made of (what a template provider sends)."""

    kind: str
    params: dict

    def __new__(cls, text: str, kind: str, params: dict):
        obj = super().__new__(cls, text)
        obj.kind, obj.params = kind, params
        return obj


@lru_cache(maxsize=None)
def template_fields(kind: str) -> tuple[str, ...]:
    """The parameter names of a message kind, in order of first appearance (Tencent's {1}, {2}, ...)."""
    names = (name for _lit, name, _spec, _conv in string.Formatter().parse(TEXTS[kind]) if name)
    return tuple(dict.fromkeys(names))


def compose(template: str, **values) -> SmsText:
    text = SIGNATURE + TEXTS[template].format(**values)
    return SmsText(text, template, {name: str(values[name]) for name in template_fields(template)})
