"""Real SMS providers behind `backoffice.otp.sms.SmsGateway`: Aliyun SMS (dysmsapi SendSms) and Tencent Cloud SMS.

Configured by environment (README "Configuration", docs/security.md "SMS provider"):

    SMS_GATEWAY=aliyun|tencent
    SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET   AccessKey (Aliyun) / SecretId, SecretKey (Tencent)
    SMS_SIGN_NAME                              the approved signature (签名), e.g. 金信期货
    SMS_TEMPLATE_<KIND>                        the approved template code of every message kind
                                               (SMS_TEMPLATE_OTP_LOGIN, ... see `template_spec()`)
    SMS_SDK_APP_ID                             Tencent only: SmsSdkAppId
    SMS_REGION                                 Tencent only, default ap-guangzhou
    SMS_ENDPOINT                               scheme://host[:port] instead of the provider's (tests: a local fake)
    SMS_TIMEOUT_SECONDS, SMS_RETRIES           3 s per request; 2 retries of retryable errors
    SMS_COOLDOWN_SECONDS                       15: sends fail at once this long after the retries ran out
"""
from __future__ import annotations

from urllib.parse import urlsplit

from backoffice.otp.sms_providers.base import (ProviderSettings, SmsConfigError, SmsError, SmsRejected,
                                               SmsUnavailable, TemplateGateway)
from backoffice.otp.sms_texts import SIGNATURE, TEXTS, template_fields

GATEWAYS = ("sandbox", "aliyun", "tencent")

__all__ = ["GATEWAYS", "ProviderSettings", "SmsError", "SmsUnavailable", "SmsRejected", "SmsConfigError",
           "TemplateGateway", "load_provider_settings", "make_provider", "template_env", "template_spec"]


def template_env(kind: str) -> str:
    return "SMS_TEMPLATE_" + kind.upper()


def template_spec() -> list[dict]:
    """What to register with the provider: per message kind, its env variable, parameter names in order
    (Aliyun ${name}; Tencent {1}, {2}, ... in this order) and our text as the template body to submit."""
    return [{"kind": kind, "env": template_env(kind), "params": template_fields(kind),
             "text": TEXTS[kind], "signature": SIGNATURE} for kind in TEXTS]


def load_provider_settings(name: str, env, *, production: bool = False) -> ProviderSettings:
    """Read and check a provider's settings; ValueError names everything missing (raised at start-up)."""
    def get(key: str) -> str:
        return (env.get(key) or "").strip()

    required = ["SMS_ACCESS_KEY_ID", "SMS_ACCESS_KEY_SECRET", "SMS_SIGN_NAME"]
    if name == "tencent":
        required.append("SMS_SDK_APP_ID")
    required += [template_env(kind) for kind in TEXTS]
    missing = [key for key in required if not get(key)]
    if missing:
        raise ValueError(f"SMS_GATEWAY={name} needs " + ", ".join(missing))
    endpoint = get("SMS_ENDPOINT") or None
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
            raise ValueError("SMS_ENDPOINT must be scheme://host[:port]")
        if production and parts.scheme != "https":
            raise ValueError("SMS_ENDPOINT must be https:// in production (phone numbers and codes travel in it)")
    try:
        timeout, retries = float(get("SMS_TIMEOUT_SECONDS") or 3), int(get("SMS_RETRIES") or 2)
        cooldown = float(get("SMS_COOLDOWN_SECONDS") or 15)
    except ValueError:
        raise ValueError("SMS_TIMEOUT_SECONDS, SMS_RETRIES and SMS_COOLDOWN_SECONDS must be numbers") from None
    return ProviderSettings(
        name=name, access_key_id=get("SMS_ACCESS_KEY_ID"), access_key_secret=get("SMS_ACCESS_KEY_SECRET"),
        sign_name=get("SMS_SIGN_NAME"), templates={kind: get(template_env(kind)) for kind in TEXTS},
        endpoint=endpoint.rstrip("/") if endpoint else None,
        region=get("SMS_REGION") or ("ap-guangzhou" if name == "tencent" else ""),
        sdk_app_id=get("SMS_SDK_APP_ID") or None, timeout=timeout, retries=max(0, retries),
        cooldown=max(0.0, cooldown))


def make_provider(settings: ProviderSettings, **kwargs) -> TemplateGateway:
    if settings.name == "aliyun":
        from backoffice.otp.sms_providers.aliyun import AliyunSms  # its HTTP stack only where configured

        return AliyunSms(settings, **kwargs)
    if settings.name == "tencent":
        from backoffice.otp.sms_providers.tencent import TencentSms  # heavy: the Tencent Cloud SDK

        return TencentSms(settings, **kwargs)
    raise ValueError(f"unknown SMS provider {settings.name!r}")
