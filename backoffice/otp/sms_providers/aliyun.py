"""Aliyun SMS (dysmsapi 2017-05-25 SendSms) over its documented HTTP API, signed with signature V3
(ACS3-HMAC-SHA256).

Not the official SDK: the current alibabacloud_dysmsapi20170525 (4.6) needs alibabacloud-tea-openapi 0.4.6 ->
alibabacloud-credentials >= 1.0.2, which requires APScheduler >= 3.10 (Rasa 3.6 requires < 3.10; locked 3.9.1) and
aiofiles < 25 (locked 25.1); tea-openapi 0.4.4/0.4.5 cap cryptography below the locked 50.0. Only the old
4.1.0 line resolves against the lock. The request is a few headers and one HMAC, done here with `requests`.

Signature V3, as documented ("V3版本请求体&签名机制"):
    CanonicalRequest = METHOD \\n URI \\n CanonicalQueryString \\n CanonicalHeaders \\n SignedHeaders
                       \\n sha256hex(body)
    CanonicalQueryString: params sorted by name, name and value percent-encoded (RFC 3986; space %20, "~" kept)
    CanonicalHeaders: host, content-type and every x-acs-* header, lower-case names sorted, "name:value\\n" each
    StringToSign = "ACS3-HMAC-SHA256\\n" + sha256hex(CanonicalRequest)
    Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<a;b;c>,Signature=<hex hmac-sha256>
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from datetime import datetime, timezone
from urllib.parse import quote, urlsplit

import requests

from backoffice.otp.sms_providers.base import SmsConfigError, SmsRejected, SmsUnavailable, TemplateGateway

ENDPOINT = "https://dysmsapi.aliyuncs.com"
ACTION, VERSION = "SendSms", "2017-05-25"
ALGORITHM = "ACS3-HMAC-SHA256"

# Error codes (SendSms "Code"): what retrying can fix, and what is about this one number.
RETRYABLE = {"ServiceUnavailable", "InternalError", "isp.SYSTEM_ERROR", "isp.GATEWAY_ERROR", "isp.UNKNOWN"}
NUMBER_REFUSED = {"isv.MOBILE_NUMBER_ILLEGAL", "isv.BUSINESS_LIMIT_CONTROL", "isv.DAY_LIMIT_CONTROL",
                  "isv.MOBILE_COUNT_OVER_LIMIT", "isv.BUSINESS_LIMIT_DAY", "isv.BUSINESS_LIMIT_HOUR"}


class _QueryOutOfUrllib3Log(logging.Filter):
    """urllib3 logs every request line at DEBUG, and SendSms carries the phone and the code in its query string
    (where the API documents them): that log keeps the path only."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "PhoneNumbers=" in a for a in record.args):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) and "PhoneNumbers=" in a else a
                                for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_QueryOutOfUrllib3Log())


def percent(value: str) -> str:
    return quote(value, safe="~")


def canonical_query(query: dict) -> str:
    return "&".join(f"{percent(k)}={percent(v)}" for k, v in sorted(query.items()))


def signed_header_names(headers: dict) -> list[str]:
    return sorted(k.lower() for k in headers if k.lower() in ("host", "content-type") or k.lower().startswith("x-acs-"))


def authorization(method: str, path: str, query: dict, headers: dict, body: bytes, key_id: str, secret: str) -> str:
    lower = {k.lower(): str(v).strip() for k, v in headers.items()}
    names = signed_header_names(headers)
    canonical_request = "\n".join([method, path or "/", canonical_query(query),
                                   "".join(f"{n}:{lower[n]}\n" for n in names), ";".join(names),
                                   hashlib.sha256(body).hexdigest()])
    to_sign = f"{ALGORITHM}\n{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    signature = hmac.new(secret.encode(), to_sign.encode(), hashlib.sha256).hexdigest()
    return f"{ALGORITHM} Credential={key_id},SignedHeaders={';'.join(names)},Signature={signature}"


def classify(code: str, status: int):
    if code.startswith("Throttling") or code in RETRYABLE or (status >= 500 and not code.startswith("isv.")):
        return SmsUnavailable("aliyun", code)
    if code in NUMBER_REFUSED:
        return SmsRejected("aliyun", code)
    return SmsConfigError("aliyun", code)  # signature, AccessKey, sign name, template, balance, parameters


class AliyunSms(TemplateGateway):
    name = "aliyun"

    def __init__(self, settings, session: requests.Session | None = None, **kwargs):
        super().__init__(settings, **kwargs)
        self.endpoint = settings.endpoint or ENDPOINT
        self.http = session or requests.Session()

    def _send_once(self, phone: str, template: str, params: dict) -> None:
        query = {"PhoneNumbers": phone, "SignName": self.settings.sign_name, "TemplateCode": template,
                 "TemplateParam": json.dumps(params, ensure_ascii=False, separators=(",", ":"))}
        body = b""
        headers = {"host": urlsplit(self.endpoint).netloc, "x-acs-action": ACTION, "x-acs-version": VERSION,
                   "x-acs-date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "x-acs-signature-nonce": os.urandom(16).hex(),
                   "x-acs-content-sha256": hashlib.sha256(body).hexdigest(), "accept": "application/json"}
        headers["Authorization"] = authorization("POST", "/", query, headers, body, self.settings.access_key_id,
                                                 self.settings.access_key_secret)
        try:
            resp = self.http.post(f"{self.endpoint}/?{canonical_query(query)}", data=body, headers=headers,
                                  timeout=self.settings.timeout)
        except requests.RequestException as exc:  # the exception text may hold the URL, i.e. the phone
            raise SmsUnavailable("aliyun", f"network {exc.__class__.__name__}") from None
        try:
            answer = resp.json()
        except ValueError:
            answer = {}
        code = str(answer.get("Code") or f"HTTP {resp.status_code}")
        if resp.status_code == 200 and code == "OK":
            return
        raise classify(code, resp.status_code)
