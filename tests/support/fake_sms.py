"""Local fakes of the Aliyun SMS and Tencent Cloud SMS HTTP APIs (SendSms), for tests.

Each checks the request signature the way the provider documents it, computed here on its own (not with the
adapter's code): Aliyun signature V3 (ACS3-HMAC-SHA256), Tencent TC3-HMAC-SHA256. `tests/unit/backoffice/
test_sms_providers.py` checks these verifiers against the worked examples of the providers' documentation.
A fake records what it accepted (phone, sign name, template, parameters) and can be told to answer the
next requests with an error (throttling, invalid number, ...), in the provider's response shape.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import quote

from aiohttp import web


class _ProviderFake:
    """What both fakes do with a request: count it, refuse a bad signature or a wrong action, else send."""

    ACTION: tuple[str, str, str]  # (action header, version header, API version)
    INVALID_ACTION: str

    def __init__(self):
        self.messages: list[dict] = []
        self.queued: list[tuple] = []  # answers forced on the next requests (fail_next)
        self.requests = 0
        self.bad_signatures = 0

    def routes(self):
        return [web.post("/", self.handle)]

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        problem = self._auth_error(request, body)
        if problem:
            self.bad_signatures += 1
            return self._refused(problem)
        action, version_header, version = self.ACTION
        if (request.headers.get(action), request.headers.get(version_header)) != ("SendSms", version):
            return self._refused(self.INVALID_ACTION)
        return self._send(request, body)


# --- Aliyun: signature V3 -------------------------------------------------------------------------------------
def acs3_signature(secret: str, method: str, path: str, query: list[tuple[str, str]], headers: dict[str, str],
                   signed_headers: list[str], body: bytes) -> str:
    """Documented V3 algorithm: hex(HMAC-SHA256(secret, "ACS3-HMAC-SHA256\\n" + hex(SHA256(CanonicalRequest))))."""
    def enc(text: str) -> str:  # RFC 3986 unreserved kept, everything else %XX (space %20, * %2A)
        return quote(text, safe="-_.~")

    canonical_query = "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(query))
    canonical_headers = "".join(f"{name}:{headers[name].strip()}\n" for name in signed_headers)
    canonical_request = (f"{method}\n{path}\n{canonical_query}\n{canonical_headers}\n"
                         f"{';'.join(signed_headers)}\n{hashlib.sha256(body).hexdigest()}")
    string_to_sign = "ACS3-HMAC-SHA256\n" + hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeAliyunSms(_ProviderFake):
    """POST / (dysmsapi SendSms, RPC style: parameters in the query string, signature V3 in headers)."""

    ACTION, INVALID_ACTION = ("x-acs-action", "x-acs-version", "2017-05-25"), "InvalidAction.NotFound"
    MUST_SIGN = {"host", "x-acs-action", "x-acs-content-sha256", "x-acs-date", "x-acs-signature-nonce",
                 "x-acs-version"}

    def __init__(self, key_id: str, secret: str, sign_name: str, templates: dict[str, list[str]]):
        super().__init__()
        self.key_id, self.secret, self.sign_name, self.templates = key_id, secret, sign_name, templates
        self._nonces: set[str] = set()

    def fail_next(self, code: str, status: int = 200, times: int = 1) -> None:
        self.queued += [(status, code)] * times  # (HTTP status, Code)

    def _refused(self, code: str) -> web.Response:
        return self._answer(404 if code == "InvalidAccessKeyId.NotFound" else 400, code)

    @staticmethod
    def _answer(status: int, code: str, **extra) -> web.Response:
        body = {"RequestId": str(uuid.uuid4()).upper(), "Code": code, "Message": code, **extra}
        return web.json_response(body, status=status)

    def _auth_error(self, request: web.Request, body: bytes) -> str | None:
        m = re.fullmatch(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([^,]+),Signature=([0-9a-f]{64})",
                         request.headers.get("Authorization", ""))
        if not m:
            return "IncompleteSignature"
        key_id, signed, signature = m.group(1), m.group(2).split(";"), m.group(3)
        if key_id != self.key_id:
            return "InvalidAccessKeyId.NotFound"
        headers = {k.lower(): v for k, v in request.headers.items()}
        present = {k for k in headers if k.startswith("x-acs-") or k in ("host", "content-type")}
        if not self.MUST_SIGN <= set(signed) or not present <= set(signed) or signed != sorted(signed):
            return "IncompleteSignature"  # every common header that is sent must be signed
        if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
            return "ContentSHA256Mismatch"
        try:
            sent = datetime.strptime(headers["x-acs-date"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        except ValueError:
            return "InvalidTimeStamp.Format"
        if abs((datetime.now(timezone.utc) - sent).total_seconds()) > 15 * 60:
            return "InvalidTimeStamp.Expired"
        nonce = headers["x-acs-signature-nonce"]
        if nonce in self._nonces:
            return "SignatureNonceUsed"
        expected = acs3_signature(self.secret, request.method, request.path, list(request.query.items()), headers,
                                  signed, body)
        if not hmac.compare_digest(expected, signature):
            return "SignatureDoesNotMatch"
        self._nonces.add(nonce)
        return None

    def _send(self, request: web.Request, body: bytes) -> web.Response:
        if self.queued:
            status, code = self.queued.pop(0)
            return self._answer(status, code)
        q = request.query
        if not re.fullmatch(r"1[3-9]\d{9}", q.get("PhoneNumbers", "")):
            return self._answer(200, "isv.MOBILE_NUMBER_ILLEGAL")
        if q.get("SignName") != self.sign_name:
            return self._answer(200, "isv.SMS_SIGNATURE_ILLEGAL")
        names = self.templates.get(q.get("TemplateCode", ""))
        if names is None:
            return self._answer(200, "isv.SMS_TEMPLATE_ILLEGAL")
        try:
            params = json.loads(q.get("TemplateParam", "{}"))
        except ValueError:
            return self._answer(200, "isv.INVALID_JSON_PARAM")
        if not isinstance(params, dict) or set(params) != set(names) or \
                not all(isinstance(v, str) for v in params.values()):
            return self._answer(200, "isv.TEMPLATE_MISSING_PARAMETERS")
        self.messages.append({"phone": q["PhoneNumbers"], "sign": q["SignName"], "template": q["TemplateCode"],
                              "params": params})
        return self._answer(200, "OK", BizId=f"{len(self.messages)}^0")


# --- Tencent: TC3-HMAC-SHA256 -------------------------------------------------------------------------------
def tc3_signature(secret_key: str, service: str, timestamp: int, method: str, query: str, headers: dict[str, str],
                  signed_headers: list[str], body: bytes) -> str:
    """Documented TC3 algorithm (签名方法 v3): derived key TC3+key -> date -> service -> tc3_request."""
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    canonical_headers = "".join(f"{name}:{headers[name].strip().lower()}\n" for name in signed_headers)
    canonical_request = "\n".join([method, "/", query, canonical_headers, ";".join(signed_headers),
                                   hashlib.sha256(body).hexdigest()])
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), f"{date}/{service}/tc3_request",
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    key = ("TC3" + secret_key).encode("utf-8")
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeTencentSms(_ProviderFake):
    """POST / with a JSON body (SendSms 2021-01-11). Whole-request errors come as Response.Error, a number's
    own result as SendStatusSet[].Code, both with HTTP 200, as the API does."""

    ACTION, INVALID_ACTION = ("X-TC-Action", "X-TC-Version", "2021-01-11"), "InvalidAction"

    def __init__(self, secret_id: str, secret_key: str, sdk_app_id: str, sign_name: str,
                 templates: dict[str, int]):
        super().__init__()
        self.secret_id, self.secret_key, self.sdk_app_id = secret_id, secret_key, sdk_app_id
        self.sign_name, self.templates = sign_name, templates  # template id -> number of parameters

    def fail_next(self, code: str, where: str = "error", times: int = 1) -> None:
        self.queued += [(where, code)] * times  # where: "error" (whole request) or "status" (the number)

    @staticmethod
    def _json(payload: dict) -> web.Response:
        # The SDK reads errors only from exactly "application/json" (no charset), as the API answers
        return web.Response(body=json.dumps(payload).encode(), headers={"Content-Type": "application/json"})

    def _refused(self, code: str) -> web.Response:
        return self._json({"Response": {"Error": {"Code": code, "Message": code}, "RequestId": str(uuid.uuid4())}})

    def _status(self, phone: str, code: str) -> web.Response:
        status = {"SerialNo": uuid.uuid4().hex if code == "Ok" else "", "PhoneNumber": phone,
                  "Fee": 1 if code == "Ok" else 0, "SessionContext": "", "Code": code,
                  "Message": "send success" if code == "Ok" else code, "IsoCode": "CN"}
        return self._json({"Response": {"SendStatusSet": [status], "RequestId": str(uuid.uuid4())}})

    def _auth_error(self, request: web.Request, body: bytes) -> str | None:
        m = re.fullmatch(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z]+)/tc3_request, "
                         r"SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})",
                         request.headers.get("Authorization", ""))
        if not m:
            return "AuthFailure.InvalidAuthorization"
        secret_id, date, service, signed, signature = m.groups()
        signed = signed.split(";")
        if secret_id != self.secret_id:
            return "AuthFailure.SecretIdNotFound"
        if service != "sms" or not {"content-type", "host"} <= set(signed):
            return "AuthFailure.InvalidAuthorization"
        try:
            timestamp = int(request.headers.get("X-TC-Timestamp", ""))
        except ValueError:
            return "AuthFailure.InvalidAuthorization"
        if abs(time.time() - timestamp) > 300:
            return "AuthFailure.SignatureExpire"
        if datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d") != date:
            return "AuthFailure.SignatureFailure"
        headers = {k.lower(): v for k, v in request.headers.items()}
        expected = tc3_signature(self.secret_key, service, timestamp, request.method, request.query_string,
                                 headers, signed, body)
        if not hmac.compare_digest(expected, signature):
            return "AuthFailure.SignatureFailure"
        return None

    def _send(self, request: web.Request, body: bytes) -> web.Response:
        try:
            req = json.loads(body)
        except ValueError:
            return self._refused("FailedOperation.JsonParseFail")
        phones = req.get("PhoneNumberSet") or []
        if len(phones) != 1:
            return self._refused("MissingParameter.EmptyPhoneNumberSet" if not phones
                               else "LimitExceeded.PhoneNumberCountLimit")
        phone = phones[0]
        if self.queued:
            where, code = self.queued.pop(0)
            return self._refused(code) if where == "error" else self._status(phone, code)
        if req.get("SmsSdkAppId") != self.sdk_app_id:
            return self._refused("InvalidParameterValue.SdkAppIdNotExist")
        if req.get("SignName") != self.sign_name:
            return self._refused("FailedOperation.SignatureIncorrectOrUnapproved")
        count = self.templates.get(str(req.get("TemplateId")))
        if count is None:
            return self._refused("FailedOperation.TemplateIncorrectOrUnapproved")
        params = req.get("TemplateParamSet") or []
        if len(params) != count or not all(isinstance(p, str) for p in params):
            return self._refused("InvalidParameterValue.TemplateParameterFormatError")
        if not re.fullmatch(r"\+861[3-9]\d{9}", phone):
            return self._status(phone, "InvalidParameterValue.IncorrectPhoneNumber")
        self.messages.append({"phone": phone, "sign": req["SignName"], "template": str(req["TemplateId"]),
                              "params": params})
        return self._status(phone, "Ok")


class running:
    """`async with running(fake) as base_url:` serves a fake on a free loopback port."""

    def __init__(self, fake):
        self.fake, self.runner = fake, None

    async def __aenter__(self) -> str:
        app = web.Application()
        app.add_routes(self.fake.routes())
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc) -> None:
        await self.runner.cleanup()
