import re

import pytest
from sqlalchemy import select, text

from backoffice.login import CustomerSession, PrivacyConsent
from tests.unit.conftest import ACCOUNT

SENDER = "wx-openid-1"


@pytest.fixture
def account(services):
    services.accounts.create(ACCOUNT)
    return ACCOUNT


def last_code(services, phone):
    return re.search(r"验证码(\d{6})", services.sms.messages(phone)[-1]["text"]).group(1)


def login(services, sender=SENDER, agree=True):
    assert services.login.start(sender, ACCOUNT["account_number"], ACCOUNT["phone"]).status == "sent"
    assert services.login.verify(sender, last_code(services, ACCOUNT["phone"])).status == "ok"
    return services.login.complete(sender, agree)


def test_full_login_creates_session_and_records_consent(services, account):
    assert login(services).status == "ok"
    assert services.login.session(SENDER)["account_number"] == "80010001"
    sms = services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    assert sms.startswith("【金信期货】") and "5分钟" in sms
    with services.db.session() as s:
        consent = s.execute(select(PrivacyConsent)).scalar_one()
        assert consent.account_number == "80010001" and consent.version
    events = [e["event"] for e in services.audit.list()]
    assert {"otp_sent", "login_succeeded"} <= set(events)


def test_wrong_phone_and_unknown_account_look_the_same(services, account):
    wrong_phone = services.login.start(SENDER, "80010001", "13900000000")
    unknown = services.login.start("other", "80019999", "13800000001")
    assert wrong_phone.to_dict() == unknown.to_dict() == {"status": "mismatch"}
    assert services.sms.messages() == []


def test_privacy_refusal_creates_no_session(services, account):
    assert login(services, agree=False).status == "privacy_refused"
    assert services.login.session(SENDER) is None
    assert services.login.complete(SENDER, True).status == "no_pending"  # refusal ends this login


def test_lockout_after_repeated_failures(services, account):
    for _ in range(services.settings.login_max_failures - 1):
        assert services.login.start(SENDER, "80010001", "13900000000").status == "mismatch"
    locked = services.login.start(SENDER, "80010001", "13900000000")
    assert locked.status == "locked_out" and locked.wait_seconds > 0
    # even the right phone is refused now, from this sender and for this account from anywhere
    assert services.login.start(SENDER, "80010001", "13800000001").status == "locked_out"
    assert services.login.start("another-device", "80010001", "13800000001").status == "locked_out"
    services.clock.advance(services.settings.login_lock_seconds + 1)
    assert services.login.start("another-device", "80010001", "13800000001").status == "sent"
    assert "login_locked_out" in [e["event"] for e in services.audit.list()]


def test_wrong_codes_count_towards_lockout(services, account):
    services.login.start(SENDER, "80010001", "13800000001")
    code = last_code(services, "13800000001")
    wrong = "000000" if code != "000000" else "111111"
    statuses = [services.login.verify(SENDER, wrong).status for _ in range(services.settings.login_max_failures)]
    assert statuses[:-1] == ["wrong"] * (services.settings.login_max_failures - 1)
    assert statuses[-1] == "locked_out"
    assert services.login.verify(SENDER, code).status == "locked_out"


def test_session_expires_when_idle_and_logout_ends_it(services, account):
    login(services)
    services.clock.advance(services.settings.session_idle_seconds - 10)
    assert services.login.session(SENDER) is not None  # touching keeps it alive
    services.clock.advance(services.settings.session_idle_seconds - 10)
    assert services.login.session(SENDER) is not None
    services.clock.advance(services.settings.session_idle_seconds + 1)
    assert services.login.session(SENDER) is None
    login(services)
    assert services.login.logout(SENDER) is True
    assert services.login.session(SENDER) is None
    assert services.login.logout(SENDER) is False


def test_resend_respects_the_minute(services, account):
    services.login.start(SENDER, "80010001", "13800000001")
    assert services.login.resend(SENDER).status == "wait"
    services.clock.advance(61)
    assert services.login.resend(SENDER).status == "sent"
    assert len(services.sms.messages("13800000001")) == 2


def test_second_device_within_the_minute_uses_the_code_already_sent(services, account):
    """The customer starts on one device, then on another before a new code may go out: the code already on
    the phone logs the second device in (no second SMS, no "登录已超时")."""
    services.login.start("device-a", "80010001", "13800000001")
    started = services.login.start("device-b", "80010001", "13800000001")
    assert started.status == "wait" and len(services.sms.messages("13800000001")) == 1
    assert services.login.verify("device-b", last_code(services, "13800000001")).status == "ok"
    assert services.login.complete("device-b", True).status == "ok"
    assert services.login.session("device-b")["account_number"] == "80010001"


def test_audit_never_holds_the_phone(services, account):
    services.login.start(SENDER, "80010001", "13900000000")
    login(services)
    with services.db.engine.connect() as conn:
        dump = " ".join(str(row) for row in conn.execute(text("SELECT * FROM audit_events")))
    assert "1380000000" not in dump and "1390000000" not in dump
    with services.db.session() as s:
        assert s.execute(select(CustomerSession)).scalar_one().account_number == "80010001"
