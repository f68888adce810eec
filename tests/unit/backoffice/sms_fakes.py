"""Shared set-up of the SMS provider tests: provider settings pointing at a local fake, templates for every kind."""
from __future__ import annotations

import logging

from backoffice.otp.sms import TEXTS, compose, template_fields
from backoffice.otp.sms_providers import ProviderSettings

SIGN = "金信期货"
PHONE = "13800000001"
CODE = "736105"
# Our message kinds -> the provider's template codes (as the operator would configure them)
ALIYUN_CODES = {kind: f"SMS_{100000 + i}" for i, kind in enumerate(TEXTS)}
TENCENT_IDS = {kind: str(2000000 + i) for i, kind in enumerate(TEXTS)}

# One real message of every kind, with values as the back-office passes them
SAMPLES = {
    "otp_login": dict(code=CODE),
    "otp_generic": dict(business="解除设备绑定", code=CODE),
    "otp_sign": dict(titles="《期货交易风险揭示书》", code=CODE),
    "recovered": dict(accounts="80010001、80010010"),
    "app_approved_reset_password": dict(date="2026-03-02", masked="80**0001", password_type="交易密码",
                                        password="402913", business_name="重置密码", reason=""),
    "app_rejected": dict(date="2026-03-02", masked="80**0001", business_name="账户解锁", reason="人脸比对未通过",
                         password_type="密码"),
}


def provider(name: str, endpoint: str, *, secret: str = "unit-secret", retries: int = 2) -> ProviderSettings:
    templates = ALIYUN_CODES if name == "aliyun" else TENCENT_IDS
    return ProviderSettings(name=name, access_key_id="unit-key-id", access_key_secret=secret, sign_name=SIGN,
                            templates=dict(templates), endpoint=endpoint,
                            region="ap-guangzhou" if name == "tencent" else "",
                            sdk_app_id="1400000001" if name == "tencent" else None, timeout=5, retries=retries)


def aliyun_templates() -> dict[str, list[str]]:
    return {ALIYUN_CODES[kind]: list(template_fields(kind)) for kind in TEXTS}


def tencent_templates() -> dict[str, int]:
    return {TENCENT_IDS[kind]: len(template_fields(kind)) for kind in TEXTS}


def message(kind: str):
    return compose(kind, **SAMPLES[kind])


def gateway(name: str, url: str, **kwargs):
    """A provider gateway on a fake, with its back-off recorded: (gateway, sleeps)."""
    from backoffice.otp.sms_providers import make_provider

    sleeps = Sleeps()
    return make_provider(provider(name, url, **kwargs), sleep=sleeps, monotonic=sleeps.clock), sleeps


class Sleeps(list):
    """Records the back-off instead of sleeping (the retry delays are asserted, not waited for); its `clock`
    is the gateway's monotonic clock, moved by the sleeps and by `advance`."""

    def __init__(self):
        super().__init__()
        self.now = 1000.0

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def assert_no_personal_data(records: list[logging.LogRecord], *secrets: str) -> None:
    for record in records:
        text = record.getMessage() + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, (record.name, text)
