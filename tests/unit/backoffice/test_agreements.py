"""Agreements: requirements by business and opening date, reading links, the 10-second rule, OTP signing
and the signed PDF (SQLite and PostgreSQL)."""
import hashlib
import io
import re

import pytest
from fontTools.ttLib import TTFont as FTFont

from backoffice.accounts.seed import demo_signature_png
from backoffice.agreements.service import AgreementError, AgreementService
from backoffice.agreements.templates import load_requirements, load_templates, parse_template
from tests.unit.conftest import ACCOUNT

PHONE = ACCOUNT["phone"]


@pytest.fixture
def svc(services):
    signature = services.media.put(demo_signature_png()).media_id
    services.accounts.create(ACCOUNT)
    services.accounts._update("80010001", signature_media_id=signature)
    return services


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def last_code(services) -> str:
    return re.search(r"验证码(\d{6})", services.sms.messages(PHONE)[-1]["text"]).group(1)


def read_and_agree(svc, code, clock, sender="s1"):
    link = svc.agreements.reading_link("80010001", sender, code)
    assert svc.agreements.open_reading(token_of(link["url"])) is not None
    clock.advance(10)
    assert svc.agreements.agree("80010001", sender, code)["status"] == "ok"


def test_templates_are_complete_and_versioned():
    templates = load_templates()
    titles = {t.title for t in templates.values()}
    assert {"密码重置申请书", "账户解锁申请书", "个人信息处理授权书", "期货交易风险揭示书", "休眠账户激活申请书",
            "客户销户申请书"} <= titles
    for tpl in templates.values():
        assert tpl.version and tpl.business and len([b for b in tpl.blocks if b["kind"] == "p"]) >= 4
    with pytest.raises(ValueError):
        parse_template("no front matter")


def test_requirements_depend_on_business_and_opening_date(services):
    agreements = services.agreements
    for number, opened in (("80010003", "2019-05-10"), ("80010004", "2022-03-15"), ("80010008", "2021-08-02")):
        services.accounts.create({**ACCOUNT, "account_number": number, "opened_on": opened, "state": "dormant"})
    old = [a["code"] for a in agreements.required_for("activate_dormant_account", "80010003")]
    new = [a["code"] for a in agreements.required_for("activate_dormant_account", "80010004")]
    boundary = [a["code"] for a in agreements.required_for("activate_dormant_account", "80010008")]
    assert "risk_disclosure" in old and "risk_disclosure" not in new and boundary == new
    assert [a["title"] for a in agreements.required_for("reset_password", "80010003")] == [
        "密码重置申请书", "个人信息处理授权书"]
    with pytest.raises(AgreementError):
        agreements.required_for("no_such_business", "80010003")


def test_requirements_come_from_the_business_registry():
    """The agreement sets are the registry's (the bot's signing step reads the same entries); a code the
    templates do not know fails at start-up."""
    import yaml

    from businesses import REGISTRY, parse

    rules = load_requirements()
    assert rules["reset_password"][0]["codes"] == ["password_reset_application", "personal_info_authorization"]
    assert rules["unlock_account"] == [] and rules["*"] == [{"codes": ["personal_info_authorization"]}]
    typo = parse({**yaml.safe_load(open("businesses/definitions/unlock_account.yml")),
                  "agreements": [{"codes": ["typo"]}]})
    with pytest.raises(ValueError):
        AgreementService(None, None, type("C", (), {"subkey": lambda self, p: b"k"})(), None, None, None, None, None,
                         public_url="http://x", requirements=load_requirements({**REGISTRY, "unlock_account": typo}))


def test_ten_second_rule_is_enforced_by_the_server(svc, clock):
    agreements = svc.agreements
    assert agreements.agree("80010001", "s1", "password_reset_application")["status"] == "not_opened"
    link = agreements.reading_link("80010001", "s1", "password_reset_application")
    assert link["url"].startswith("http://127.0.0.1:8000/h5/agreements/") and "80010001" not in link["url"]
    assert agreements.agree("80010001", "s1", "password_reset_application")["status"] == "not_opened"
    tpl, info = agreements.open_reading(token_of(link["url"]))
    assert tpl.title == "密码重置申请书" and info["opened_at"]
    clock.advance(4)
    early = agreements.agree("80010001", "s1", "password_reset_application")
    assert early["status"] == "too_soon" and early["wait_seconds"] == 6 and "10秒" in early["message"]
    # opening the page again does not restart the timer, nor does a fresh link
    agreements.open_reading(token_of(link["url"]))
    clock.advance(5.5)
    assert agreements.agree("80010001", "s1", "password_reset_application")["status"] == "too_soon"
    clock.advance(0.5)
    assert agreements.agree("80010001", "s1", "password_reset_application")["status"] == "ok"


def test_links_expire_and_cannot_be_forged(svc, clock):
    agreements = svc.agreements
    link = agreements.reading_link("80010001", "s1", "personal_info_authorization")
    token = token_of(link["url"])
    body, mac = token.split(".")
    assert agreements.open_reading(body + "." + mac[:-2] + ("AA" if mac[-2:] != "AA" else "BB")) is None
    assert agreements.open_reading("garbage") is None
    clock.advance(30 * 60 + 1)
    assert agreements.open_reading(token) is None
    assert agreements.agree("80010001", "s1", "personal_info_authorization")["status"] == "not_opened"


def test_signing_needs_agreement_and_the_sms_code(svc, clock):
    agreements = svc.agreements
    codes = ["password_reset_application", "personal_info_authorization"]
    assert agreements.start_signing("80010001", "s1", codes)["status"] == "not_agreed"
    for code in codes:
        read_and_agree(svc, code, clock)
    started = agreements.start_signing("80010001", "s1", codes)
    assert started == {"status": "sent", "phone_masked": "138****0001", "codes": sorted(codes)}
    text = svc.sms.messages(PHONE)[-1]["text"]
    assert text.startswith("【金信期货】") and "《密码重置申请书》" in text and "《个人信息处理授权书》" in text
    code = last_code(svc)
    wrong = "000000" if code != "000000" else "111111"
    assert agreements.confirm_signing("80010001", "s1", wrong)["status"] == "wrong"
    assert agreements.confirm_signing("80010009", "s1", code)["status"] == "no_pending"  # another account
    done = agreements.confirm_signing("80010001", "s1", code)
    assert done["status"] == "ok" and {s["code"] for s in done["signed"]} == set(codes)
    assert agreements.confirm_signing("80010001", "s1", code)["status"] == "no_pending"  # single use
    assert agreements.missing("80010001", "reset_password") == []
    assert {s["title"] for s in agreements.list_signed("80010001")} == {"密码重置申请书", "个人信息处理授权书"}
    # each reading signs once: signing again needs a new reading
    assert agreements.start_signing("80010001", "s1", codes)["status"] == "not_agreed"


def test_signed_pdf(svc, clock):
    agreements = svc.agreements
    read_and_agree(svc, "password_reset_application", clock)
    agreements.start_signing("80010001", "s1", ["password_reset_application"])
    signed = agreements.confirm_signing("80010001", "s1", last_code(svc))["signed"][0]
    data, view = agreements.pdf(signed["id"])
    assert data.startswith(b"%PDF") and b"2026.1" in data and b"password_reset_application" in data
    assert hashlib.sha256(data).hexdigest() == view["sha256"] == signed["sha256"]
    assert b"/FontFile2" in data  # the CJK font is embedded, not left to the viewer
    assert b"/Subtype /Image" in data or b"/Subtype/Image" in data  # the handwritten signature
    # stored encrypted in the media store
    with svc.db.session() as s:
        from backoffice.agreements.service import SignedAgreement

        media_id = s.get(SignedAgreement, signed["id"]).pdf_media_id
    raw = svc.media.path_of(media_id).read_bytes()
    assert not raw.startswith(b"%PDF") and b"2026.1" not in raw
    # the customer's link expires
    token = token_of(signed["pdf_url"])
    assert agreements.pdf_by_token(token)[0] == data
    clock.advance(30 * 60 + 1)
    assert agreements.pdf_by_token(token) is None


def test_embedded_font_renders_chinese(svc, clock):
    """The embedded font has real outlines for the agreement's Chinese characters."""
    from backoffice.agreements.pdf import _build_truetype_subset

    text = "密码重置申请书客户签名"
    font = FTFont(io.BytesIO(_build_truetype_subset(set(text))))
    cmap = font.getBestCmap()
    glyf = font["glyf"]
    for ch in text:
        glyph = glyf[cmap[ord(ch)]]
        assert glyph.numberOfContours > 0, ch  # an outline, not an empty box


def test_tampered_pdf_is_not_served(svc, clock):
    agreements = svc.agreements
    read_and_agree(svc, "personal_info_authorization", clock)
    agreements.start_signing("80010001", "s1", "personal_info_authorization")
    signed = agreements.confirm_signing("80010001", "s1", last_code(svc))["signed"][0]
    from backoffice.agreements.service import SignedAgreement

    with svc.db.session() as s:
        row = s.get(SignedAgreement, signed["id"])
        path = svc.media.path_of(row.pdf_media_id)
    path.write_bytes(svc.crypto.encrypt(b"%PDF-1.4 forged"))
    with pytest.raises(AgreementError):
        agreements.pdf(signed["id"])


def test_overview_offers_missing_agreements(svc, clock):
    overview = svc.agreements.overview("80010001")
    assert overview["signed"] == [] and [m["code"] for m in overview["missing"]] == ["personal_info_authorization"]
    read_and_agree(svc, "personal_info_authorization", clock)
    svc.agreements.start_signing("80010001", "s1", "personal_info_authorization")
    svc.agreements.confirm_signing("80010001", "s1", last_code(svc))
    overview = svc.agreements.overview("80010001")
    assert overview["missing"] == [] and overview["signed"][0]["pdf_url"].startswith("http://127.0.0.1:8000/h5/")
