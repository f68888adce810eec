import re

import pytest
from sqlalchemy import select, text

from backoffice.accounts.login import CustomerSession, PrivacyConsent
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
    """Five wrong pairs lock the conversation that made them, whatever account it tries next."""
    for _ in range(services.settings.login_max_failures - 1):
        assert services.login.start(SENDER, "80010001", "13900000000").status == "mismatch"
    locked = services.login.start(SENDER, "80010001", "13900000000")
    assert locked.status == "locked_out" and locked.wait_seconds > 0
    assert services.login.start(SENDER, "80010001", "13800000001").status == "locked_out"
    services.clock.advance(services.settings.login_lock_seconds + 1)
    assert services.login.start(SENDER, "80010001", "13800000001").status == "sent"
    assert "login_locked_out" in [e["event"] for e in services.audit.list()]


def test_strangers_cannot_lock_the_owner_out(services, account):
    """Wrong pairs for one account from five conversations: the account is guarded (the owner told by SMS once),
    a sixth stranger is refused at its first wrong try and locked, the owner with the right phone and code
    from a new device logs in."""
    for i in range(services.settings.login_max_failures):
        assert services.login.start(f"stranger-{i}", "80010001", "13900000000").status in ("mismatch", "locked_out")
    notices = [m for m in services.sms.messages(ACCOUNT["phone"]) if "多次登录失败" in m["text"]]
    assert len(notices) == 1 and "80**0001" in notices[0]["text"]
    assert services.login.start("stranger-x", "80010001", "13900000001").status == "locked_out"
    assert services.login.start("stranger-x", "80010002", "13900000001").status == "locked_out"  # locked itself
    assert login(services, sender="owner-new-phone").status == "ok"
    assert services.login.session("owner-new-phone")["account_number"] == "80010001"
    assert len([m for m in services.sms.messages(ACCOUNT["phone"]) if "多次登录失败" in m["text"]]) == 1


def test_failures_from_one_address_lock_it_across_conversations(services, account):
    from backoffice.core.requester import set_client_ip

    set_client_ip("203.0.113.7")
    try:
        for i in range(services.settings.login_max_failures):
            services.login.start(f"rotating-{i}", "80010001", "13900000000")
        assert services.login.start("rotating-new", "80010001", "13800000001").status == "locked_out"
        set_client_ip("198.51.100.9")  # another customer's address is not affected
        assert services.login.start("someone", "80010001", "13800000001").status == "sent"
    finally:
        set_client_ip(None)


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


def test_each_device_gets_its_own_code(services, account):
    """Codes belong to the conversation that asked: a second device within the minute gets its own code, and
    the first device's code does not log the second one in."""
    services.login.start("device-a", "80010001", "13800000001")
    first = last_code(services, "13800000001")
    assert services.login.start("device-b", "80010001", "13800000001").status == "sent"
    second = last_code(services, "13800000001")
    if first != second:
        assert services.login.verify("device-b", first).status == "wrong"
    assert services.login.verify("device-b", second).status == "ok"
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
