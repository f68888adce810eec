"""Demo accounts for local runs and demos: one in every state the businesses need (see README)."""
from __future__ import annotations

import io

from backoffice.accounts.service import AccountError
from backoffice.console.cli import ensure_demo_admin
from backoffice.core.config import load_settings
from backoffice.services import build_services
from biometrics.idnumber import check_char


def id_number(prefix17: str) -> str:
    """Append the GB 11643 check digit."""
    return prefix17 + check_char(prefix17)


# account, name, ID prefix (region + birth date + sequence), phone, opened_on, state, extras
DEMO_ACCOUNTS = [
    ("80010001", "张伟", "11010519850312001", "13800000001", "2018-04-16", "normal", {"signature": True}),
    ("80010002", "李娜", "31010419900723002", "13800000002", "2019-09-02", "locked", {"signature": True}),
    ("80010003", "王芳", "11010819780105003", "13800000003", "2019-05-10", "dormant", {"signature": True}),
    ("80010004", "刘洋", "32010219920818004", "13800000004", "2022-03-15", "dormant", {"signature": True}),
    ("80010005", "陈静", "33010619880430005", "13800000005", "2020-11-20", "normal",
     {"signature": True, "bound_device": "wx-demo-old-phone"}),
    ("80010006", "杨磊", "51010719951201006", "13800000006", "2024-06-03", "normal", {}),
    ("80010007", "赵敏", "42010219830617007", "13800000007", "2017-02-28", "normal",
     {"signature": True, "has_positions": True, "balance": "152300.50"}),
    ("80010008", "黄强", "37020219870909008", "13800000008", "2021-08-02", "dormant", {"signature": True}),
    ("80010009", "周婷", "61010319930214009", "13800000009", "2016-07-11", "normal", {"signature": True}),
    ("80010010", "张伟", "11010519850312001", "13800000001", "2023-01-09", "normal", {"signature": True}),
]

DEMO_NOTES = {
    "80010001": "normal; same person also owns 80010010 (找回账户 lists both)",
    "80010002": "locked (账户解锁)",
    "80010003": "dormant, opened 2019-05-10, before 2021-08-02 (休眠账户激活, old agreement set)",
    "80010004": "dormant, opened 2022-03-15, after 2021-08-02 (new agreement set)",
    "80010005": "normal, bound to another device (解除绑定)",
    "80010006": "normal, no handwritten signature on file (上传手写签名)",
    "80010007": "normal, open positions and balance (在线销户 refused)",
    "80010008": "dormant, opened exactly 2021-08-02 (boundary: new agreement set)",
    "80010009": "normal, zero balance, no positions (在线销户 possible)",
    "80010010": "normal, second account of the owner of 80010001",
}


def demo_signature_png() -> bytes:
    """A plausible handwritten-looking signature so accounts 'have one on file'."""
    from PIL import Image, ImageDraw

    img = Image.new("L", (600, 220), 255)
    draw = ImageDraw.Draw(img)
    strokes = [[(60, 140), (110, 70), (150, 150), (190, 80)], [(220, 150), (260, 60), (300, 160)],
               [(330, 90), (420, 90)], [(375, 60), (370, 170)], [(450, 150), (500, 70), (540, 150)]]
    for line in strokes:
        draw.line(line, fill=20, width=7, joint="curve")
    out = io.BytesIO()
    img.save(out, "PNG")
    return out.getvalue()


def seed(services=None) -> list[str]:
    """Create the demo accounts. Refused in production unless HALL_ALLOW_DEMO names `seed` (core/config.py)."""
    settings = services.settings if services is not None else load_settings()
    settings.require_demo("seed")  # before anything is built or written
    svc = services or build_services(settings)
    created = []
    signature_id = None
    for number, name, prefix, phone, opened, state, extra in DEMO_ACCOUNTS:
        if svc.accounts.exists(number):
            continue
        if extra.get("signature") and signature_id is None:
            signature_id = svc.media.put(demo_signature_png()).media_id
        try:
            svc.accounts.create({
                "account_number": number, "name": name, "id_number": id_number(prefix), "phone": phone,
                "investor_type": "投资者", "opened_on": opened, "state": state,
                "balance": extra.get("balance", "0"), "has_positions": extra.get("has_positions", False),
                "bound_device": extra.get("bound_device"),
                "signature_media_id": signature_id if extra.get("signature") else None,
            })
        except AccountError as exc:
            raise SystemExit(f"cannot seed {number}: {exc}")
        created.append(number)
    lines = [f"demo accounts: {len(created)} created, {len(DEMO_ACCOUNTS) - len(created)} already there"]
    if services is None and not svc.settings.production:  # the CLI (make run), not tests seeding in-process
        lines.append(ensure_demo_admin(svc))
    return lines
