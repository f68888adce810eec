"""What the real SMS providers share: settings, errors, template mapping and the retry loop.

Providers send approved **templates with parameters**, never free text: `backoffice.otp.sms.compose(kind, **values)`
returns the text together with its kind and values, and a provider gateway sends template
`SMS_TEMPLATE_<KIND>` with those values. Nothing here logs a phone number, a code or any other value.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("backoffice.otp.sms")


class SmsError(RuntimeError):
    """The provider did not take the message. `str(exc)` names the provider and its error code only."""

    retryable = False

    def __init__(self, provider: str, code: str):
        super().__init__(f"{provider}: {code}")
        self.provider, self.code = provider, code


class SmsUnavailable(SmsError):
    """Network error, timeout, provider busy or throttling the API: worth retrying shortly."""

    retryable = True


class SmsRejected(SmsError):
    """The provider refused this message for this number (invalid or blocked number, the number's own
    frequency limits). Retrying at once does not help; the caller decides (the outbox tries again later)."""


class SmsConfigError(SmsError):
    """Credentials, signature, sign name, template or balance: an operator has to act."""


@dataclass(frozen=True)
class ProviderSettings:
    name: str  # aliyun | tencent
    access_key_id: str
    access_key_secret: str = field(repr=False)
    sign_name: str
    templates: dict  # message kind (backoffice.otp.sms.TEXTS) -> the provider's approved template code
    endpoint: str | None = None  # scheme://host[:port], tests point it at a local fake
    region: str = ""
    sdk_app_id: str | None = None  # Tencent SmsSdkAppId
    timeout: float = 3.0
    retries: int = 2  # further tries after the first, for retryable errors only
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    cooldown: float = 15.0  # after retries ran out on a retryable error, fail at once for this long


class TemplateGateway:
    """The SmsGateway protocol (`send(phone, text)`) for template providers; subclasses implement `_send_once`.

    Sends run in the back-office's worker threads: while the provider is down, each send would hold a thread for
    (retries + 1) x timeout. Once the retries of a retryable error run out, sends fail at once for `cooldown`
    seconds instead (the outbox tries again later; a customer asks for a new code)."""

    name = "template"

    def __init__(self, settings: ProviderSettings, sleep=time.sleep, monotonic=time.monotonic):
        self.settings, self._sleep, self._monotonic = settings, sleep, monotonic
        self._down_until = 0.0

    def send(self, phone: str, text) -> None:
        kind = getattr(text, "kind", None)
        if kind is None:
            raise SmsConfigError(self.name, "free text cannot be sent: compose() the message from a template")
        template = self.settings.templates.get(kind)
        if not template:  # load_provider_settings requires every kind; a new kind without its template lands here
            raise SmsConfigError(self.name, f"no template for {kind}")
        if self._monotonic() < self._down_until:
            log.warning("sms %s kind=%s not sent: provider unavailable, cooling down", self.name, kind)
            raise SmsUnavailable(self.name, "provider unavailable (cooling down)")
        for attempt in range(self.settings.retries + 1):
            try:
                self._send_once(phone, template, dict(text.params))
            except SmsError as exc:
                if exc.retryable and attempt < self.settings.retries:
                    log.warning("sms %s kind=%s: %s, retrying", self.name, kind, exc.code)
                    self._sleep(self.settings.backoff * 2 ** attempt)
                    continue
                if exc.retryable:
                    self._down_until = self._monotonic() + self.settings.cooldown
                level = logging.ERROR if isinstance(exc, SmsConfigError) else logging.WARNING
                log.log(level, "sms %s kind=%s failed after %d tries: %s (%s)", self.name, kind, attempt + 1,
                        exc.code, exc.__class__.__name__)
                raise
            log.info("sms %s kind=%s sent (tries %d)", self.name, kind, attempt + 1)
            return

    def _send_once(self, phone: str, template: str, params: dict) -> None:
        raise NotImplementedError
