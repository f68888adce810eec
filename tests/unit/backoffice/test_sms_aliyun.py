"""Aliyun SMS adapter against a local fake of the dysmsapi HTTP API that checks signature V3 itself."""
import asyncio
import logging

import pytest
from sqlalchemy import select

from backoffice.applications.service import ApplicationEffect
from backoffice.core.kvstore import MemoryKV
from backoffice.otp.sms_providers import SmsConfigError, SmsRejected, SmsUnavailable, make_provider
from backoffice.services import build_services
from tests.support.fake_sms import FakeAliyunSms, acs3_signature, running
from tests.unit.backoffice import sms_fakes
from tests.unit.backoffice.business_steps import pass_business_steps
from tests.unit.backoffice.sms_fakes import (
    ALIYUN_CODES,
    CODE,
    PHONE,
    SAMPLES,
    SIGN,
    Sleeps,
    aliyun_templates,
    assert_no_personal_data,
    message,
    provider,
)
from tests.unit.conftest import ACCOUNT, make_settings


def test_fake_verifies_the_documented_v3_example():
    """The worked example of Aliyun's "V3版本请求体&签名机制" (RunInstances, POST, empty body): the fake's verifier
    reproduces the documented signature, so it checks what Aliyun checks."""
    headers = {"host": "ecs.cn-shanghai.aliyuncs.com", "x-acs-action": "RunInstances",
               "x-acs-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
               "x-acs-date": "2023-10-26T09:01:01Z", "x-acs-signature-nonce": "d410180a5abf7fe235dd9b74aca91fc0",
               "x-acs-version": "2014-05-26"}
    query = [("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"), ("RegionId", "cn-shanghai")]
    assert acs3_signature("YourAccessKeySecret", "POST", "/", query, headers, sorted(headers), b"") == \
        "e521358f7776c97df52e6b2891a8bc73026794a071b50c3323388c4e0df64804"


@pytest.fixture
async def fake():
    fake = FakeAliyunSms("unit-key-id", "unit-secret", SIGN, aliyun_templates())
    async with running(fake) as url:
        fake.url = url
        yield fake


def gateway(fake, **kwargs):
    return sms_fakes.gateway("aliyun", fake.url, **kwargs)


async def test_every_kind_goes_out_as_its_template_with_named_parameters(fake, caplog):
    gw, sleeps = gateway(fake)
    caplog.set_level(logging.DEBUG)
    for kind in SAMPLES:
        await asyncio.to_thread(gw.send, PHONE, message(kind))
    assert fake.bad_signatures == 0 and sleeps == []
    assert [m["template"] for m in fake.messages] == [ALIYUN_CODES[k] for k in SAMPLES]
    sent = {m["template"]: m["params"] for m in fake.messages}
    assert sent[ALIYUN_CODES["otp_login"]] == {"code": CODE}
    assert sent[ALIYUN_CODES["otp_sign"]] == {"titles": "《期货交易风险揭示书》", "code": CODE}  # non-ASCII signed
    assert sent[ALIYUN_CODES["app_approved_reset_password"]] == {
        "date": "2026-03-02", "password_type": "交易密码", "masked": "80**0001", "password": "402913"}
    assert all(m["phone"] == PHONE and m["sign"] == SIGN for m in fake.messages)
    assert_no_personal_data(caplog.records, PHONE, CODE, "402913")


async def test_throttling_is_retried_with_backoff(fake):
    gw, sleeps = gateway(fake)
    fake.fail_next("Throttling.User", status=400, times=2)
    await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert sleeps == [0.5, 1.0] and fake.requests == 3 and len(fake.messages) == 1


async def test_throttling_that_lasts_fails_loudly_after_the_retries(fake, caplog):
    gw, sleeps = gateway(fake)
    fake.fail_next("ServiceUnavailable", status=503, times=3)
    with pytest.raises(SmsUnavailable) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == "ServiceUnavailable" and fake.requests == 3 and fake.messages == []
    assert any(r.levelno == logging.WARNING and "failed after 3 tries" in r.getMessage() for r in caplog.records)
    assert PHONE not in str(err.value) and CODE not in str(err.value)


async def test_a_provider_outage_fails_fast_during_the_cool_down(fake):
    """Retries spent on a retryable error: the next sends fail at once (no thread waits on a dead provider)
    for SMS_COOLDOWN_SECONDS, then go out again."""
    gw, sleeps = gateway(fake)
    fake.fail_next("Throttling.User", status=400, times=3)
    with pytest.raises(SmsUnavailable):
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    sleeps.advance(14)
    with pytest.raises(SmsUnavailable, match="cooling down"):
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert fake.requests == 3
    sleeps.advance(1)
    await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert fake.requests == 4 and len(fake.messages) == 1


async def test_a_refused_number_does_not_cool_the_provider_down(fake):
    gw, _ = gateway(fake)
    with pytest.raises(SmsRejected):
        await asyncio.to_thread(gw.send, "0755123", message("otp_login"))
    await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert len(fake.messages) == 1


@pytest.mark.parametrize("code", ["isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL"])
async def test_the_numbers_own_limits_are_not_retried(fake, code):
    gw, sleeps = gateway(fake)
    fake.fail_next(code)  # HTTP 200 with an error Code, as SendSms answers business errors
    with pytest.raises(SmsRejected) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == code and fake.requests == 1 and sleeps == []


async def test_invalid_number_is_rejected_by_the_provider(fake):
    gw, _ = gateway(fake)
    with pytest.raises(SmsRejected) as err:
        await asyncio.to_thread(gw.send, "0755123", message("otp_login"))
    assert err.value.code == "isv.MOBILE_NUMBER_ILLEGAL" and fake.requests == 1


async def test_wrong_secret_is_a_configuration_error_reported_once(fake, caplog):
    gw, sleeps = gateway(fake, secret="not-the-secret")
    with pytest.raises(SmsConfigError) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == "SignatureDoesNotMatch" and fake.bad_signatures == 1 and sleeps == []
    assert any(r.levelno == logging.ERROR for r in caplog.records)


async def test_unknown_template_and_free_text_fail(fake):
    settings = provider("aliyun", fake.url)
    settings.templates["otp_login"] = "SMS_NOT_APPROVED"
    with pytest.raises(SmsConfigError) as err:
        await asyncio.to_thread(make_provider(settings).send, PHONE, message("otp_login"))
    assert err.value.code == "isv.SMS_TEMPLATE_ILLEGAL"
    gw, _ = gateway(fake)
    requests_before = fake.requests
    with pytest.raises(SmsConfigError):
        gw.send(PHONE, "您的验证码是123456")  # a provider sends templates only
    assert fake.requests == requests_before


def test_provider_down_is_retryable_and_named_without_the_url():
    gw = make_provider(provider("aliyun", "http://127.0.0.1:9", retries=1), sleep=Sleeps())
    with pytest.raises(SmsUnavailable) as err:
        gw.send(PHONE, message("otp_login"))
    assert err.value.code.startswith("network ") and PHONE not in str(err.value)


async def test_login_code_goes_through_the_provider(fake, database_url, tmp_path, clock):
    """The services built for SMS_GATEWAY=aliyun: the login code reaches the provider as a template parameter."""
    svc = build_services(make_settings(database_url, tmp_path, sms_gateway="aliyun",
                                       sms_provider=provider("aliyun", fake.url)), clock=clock, kv=MemoryKV(clock))
    try:
        svc.accounts.create(ACCOUNT)
        started = await asyncio.to_thread(svc.login.start, "wx-p1", ACCOUNT["account_number"], ACCOUNT["phone"])
        assert started.status == "sent"
        (sent,) = fake.messages
        assert sent["template"] == ALIYUN_CODES["otp_login"] and sent["phone"] == ACCOUNT["phone"]
        assert svc.login.verify("wx-p1", sent["params"]["code"]).status == "ok"
    finally:
        svc.close()


async def test_outbox_keeps_the_decision_sms_until_the_provider_takes_it(fake, services):
    """Throttled beyond the gateway's retries: the outbox leaves the SMS pending (error type recorded) and the
    next round delivers it once."""
    services.accounts.create({**ACCOUNT, "state": "locked"})
    await pass_business_steps(services, "s1", "80010001", "unlock_account")
    view, _ = services.applications.open("unlock_account", "80010001", "s1", "rest", {"face": {"decision": "accept"}})
    services.applications.submit(view["id"], "customer:s1")
    services.applications.sms, sleeps = sms_fakes.gateway("aliyun", fake.url)
    fake.fail_next("Throttling.User", status=400, times=3)
    await asyncio.to_thread(services.applications.approve, view["id"], "alice")
    with services.db.session() as s:
        effect = s.execute(select(ApplicationEffect).where(ApplicationEffect.kind == "sms")).scalar_one()
        assert effect.status == "pending" and effect.last_error == "SmsUnavailable"
    assert services.accounts.get("80010001").state == "normal" and fake.messages == []
    await asyncio.to_thread(services.applications.process_outbox)  # within the cool-down: no request at all
    assert fake.requests == 3 and fake.messages == []
    sleeps.advance(15)
    await asyncio.to_thread(services.applications.process_outbox)
    await asyncio.to_thread(services.applications.process_outbox)
    (sent,) = fake.messages
    assert sent["template"] == ALIYUN_CODES["app_approved_unlock_account"]
    assert sent["params"]["masked"] == "80**0001" and set(sent["params"]) == {"date", "masked"}


async def test_outbox_gives_up_an_sms_the_provider_refuses_for_good(fake, services):
    """A refused number is not retried every round for ever: the SMS ends failed (audited for staff), the chat
    notice after it still reaches the customer."""
    services.accounts.create({**ACCOUNT, "state": "locked"})
    await pass_business_steps(services, "rest:s1", "80010001", "unlock_account")
    view, _ = services.applications.open("unlock_account", "80010001", "rest:s1", "rest",
                                         {"face": {"decision": "accept"}})
    services.applications.submit(view["id"], "customer:rest:s1")
    services.applications.sms, _sleeps = sms_fakes.gateway("aliyun", fake.url)
    fake.fail_next("isv.MOBILE_NUMBER_ILLEGAL")
    await asyncio.to_thread(services.applications.approve, view["id"], "alice")
    await asyncio.to_thread(services.applications.process_outbox)
    with services.db.session() as s:
        effects = {e.kind: e for e in s.execute(select(ApplicationEffect)).scalars()}
        assert effects["sms"].status == "failed" and effects["sms"].last_error == "SmsRejected"
        assert effects["chat"].status == "done"
    assert fake.requests == 1 and fake.messages == []
    assert "application_sms_failed" in [e["event"] for e in services.audit.list()]
    await asyncio.to_thread(services.applications.process_outbox)
    assert fake.requests == 1  # never tried again
