"""Tencent Cloud SMS adapter (official SDK) against a local fake of the SendSms API that checks TC3 itself."""
import asyncio
import logging

import pytest

from backoffice.otp.sms_providers import SmsConfigError, SmsRejected, SmsUnavailable, make_provider
from tests.support.fake_sms import FakeTencentSms, running, tc3_signature
from tests.unit.backoffice import sms_fakes
from tests.unit.backoffice.sms_fakes import (
    CODE,
    PHONE,
    SAMPLES,
    SIGN,
    TENCENT_IDS,
    Sleeps,
    assert_no_personal_data,
    message,
    provider,
    tencent_templates,
)


def test_fake_verifies_the_documented_tc3_example():
    """The worked example of Tencent Cloud's "签名方法 v3" (CVM DescribeInstances, 1551113065): the fake's
    verifier reproduces the documented signature."""
    body = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
    headers = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "cvm", 1551113065, "POST", "", headers,
                         ["content-type", "host"], body) == \
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"


@pytest.fixture
async def fake():
    fake = FakeTencentSms("unit-key-id", "unit-secret", "1400000001", SIGN, tencent_templates())
    async with running(fake) as url:
        fake.url = url
        yield fake


def gateway(fake, **kwargs):
    return sms_fakes.gateway("tencent", fake.url, **kwargs)


async def test_every_kind_goes_out_as_its_template_with_ordered_parameters(fake, caplog):
    gw, sleeps = gateway(fake)
    caplog.set_level(logging.DEBUG)
    for kind in SAMPLES:
        await asyncio.to_thread(gw.send, PHONE, message(kind))
    assert fake.bad_signatures == 0 and sleeps == []
    assert [m["template"] for m in fake.messages] == [TENCENT_IDS[k] for k in SAMPLES]
    sent = {m["template"]: m["params"] for m in fake.messages}
    assert sent[TENCENT_IDS["otp_login"]] == [CODE]
    assert sent[TENCENT_IDS["otp_generic"]] == ["解除设备绑定", CODE]  # {1} business, {2} code
    assert sent[TENCENT_IDS["app_approved_reset_password"]] == ["2026-03-02", "交易密码", "80**0001", "402913"]
    assert all(m["phone"] == "+86" + PHONE and m["sign"] == SIGN for m in fake.messages)
    assert_no_personal_data(caplog.records, PHONE, CODE, "402913")


async def test_api_rate_limit_is_retried_with_backoff(fake):
    gw, sleeps = gateway(fake)
    fake.fail_next("RequestLimitExceeded", times=2)
    await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert sleeps == [0.5, 1.0] and fake.requests == 3 and len(fake.messages) == 1


async def test_provider_errors_that_last_fail_after_the_retries(fake):
    gw, _ = gateway(fake)
    fake.fail_next("InternalError.Timeout", where="status", times=3)  # a number's own status, not the request
    with pytest.raises(SmsUnavailable) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == "InternalError.Timeout" and fake.requests == 3 and fake.messages == []


@pytest.mark.parametrize("code", ["LimitExceeded.PhoneNumberDailyLimit", "LimitExceeded.PhoneNumberThirtySecondLimit",
                                  "FailedOperation.PhoneNumberInBlacklist"])
async def test_the_numbers_own_refusals_are_not_retried(fake, code):
    gw, sleeps = gateway(fake)
    fake.fail_next(code, where="status")
    with pytest.raises(SmsRejected) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == code and fake.requests == 1 and sleeps == []


async def test_invalid_number_is_rejected_by_the_provider(fake):
    gw, _ = gateway(fake)
    with pytest.raises(SmsRejected) as err:
        await asyncio.to_thread(gw.send, "0755123", message("otp_login"))
    assert err.value.code == "InvalidParameterValue.IncorrectPhoneNumber"


async def test_wrong_secret_is_a_configuration_error_reported_once(fake, caplog):
    gw, sleeps = gateway(fake, secret="not-the-secret")
    with pytest.raises(SmsConfigError) as err:
        await asyncio.to_thread(gw.send, PHONE, message("otp_login"))
    assert err.value.code == "AuthFailure.SignatureFailure" and fake.requests == 1 and sleeps == []
    assert any(r.levelno == logging.ERROR and "AuthFailure.SignatureFailure" in r.getMessage()
               for r in caplog.records)


async def test_unapproved_template_or_sign_is_a_configuration_error(fake):
    settings = provider("tencent", fake.url)
    settings.templates["otp_login"] = "999"
    with pytest.raises(SmsConfigError) as err:
        await asyncio.to_thread(make_provider(settings).send, PHONE, message("otp_login"))
    assert err.value.code == "FailedOperation.TemplateIncorrectOrUnapproved"


def test_provider_down_is_retryable():
    gw = make_provider(provider("tencent", "http://127.0.0.1:9", retries=1), sleep=Sleeps())
    with pytest.raises(SmsUnavailable) as err:
        gw.send(PHONE, message("otp_login"))
    assert err.value.code == "ClientNetworkError"

