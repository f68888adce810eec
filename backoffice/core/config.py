"""Settings from the environment, with embedded defaults for local development.

Production (`HALL_ENV=production`) is decided here, once: it refuses to start without its secrets, on SQLite,
or on a demo part (sandbox SMS gateway, demo seed, WeChat simulator) that `HALL_ALLOW_DEMO` does not name.
"""
from __future__ import annotations

import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from backoffice.core.requester import networks
from backoffice.otp.sms_providers import GATEWAYS, ProviderSettings, load_provider_settings

ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)

# What HALL_ALLOW_DEMO may name (comma list). Outside production every part is on.
DEMO_PARTS = {
    "sandbox-sms": "the sandbox SMS gateway (SMS_GATEWAY=sandbox: texts are stored, never delivered)",
    "seed": "the demo accounts (python -m backoffice seed)",
    "simulator": "the WeChat simulator (/simulator and its fake WeChat API)",
}


class ConfigError(RuntimeError):
    """The configuration cannot run: raised at start-up, the message says what to set."""


class DemoNotAllowed(ConfigError):
    pass


def _allowed_demo(raw: str) -> frozenset[str]:
    parts = frozenset(p.strip() for p in raw.split(",") if p.strip())
    unknown = sorted(parts - DEMO_PARTS.keys())
    if unknown:  # a typo must not silently leave a part off, or on
        raise ConfigError(f"HALL_ALLOW_DEMO: unknown {', '.join(unknown)}; known: {', '.join(DEMO_PARTS)}")
    return parts


def var_dir() -> Path:
    path = Path(os.environ.get("HALL_VAR_DIR", ROOT / "var"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _secret_file(name: str, env: str, *, production: bool) -> str:
    """A secret from the environment, or (development only) generated once into var/ with mode 600."""
    value = os.environ.get(env)
    if value:
        return value
    if production:
        raise ConfigError(f"{env} must be set in production")
    path = var_dir() / name
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


@dataclass
class Settings:
    production: bool
    database_url: str
    redis_url: str | None
    sms_gateway: str
    media_dir: Path
    admin_token: str
    service_token: str
    data_keys: list[str]
    public_url: str
    rasa_url: str
    session_idle_seconds: int = 30 * 60
    login_max_failures: int = 5
    login_lock_seconds: int = 30 * 60
    otp_ttl_seconds: int = 5 * 60
    otp_resend_seconds: int = 60
    otp_max_attempts: int = 5
    max_media_bytes: int = 10 * 1024 * 1024
    # Per client IP on what customers reach without a token (media upload, H5 page posts).
    ip_media_per_hour: int = 120
    ip_h5_posts_per_hour: int = 60
    ip_otp_codes_per_hour: int = 30
    ip_otp_failures_per_hour: int = 30
    ip_exempt: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    proxies_count: int = 0  # trusted reverse proxies in front (their X-Forwarded-For names the client)
    # The port of the bot API listener (/api/bot/*, action server and channels only); None: one listener
    # serves everything (tests on an in-process server).
    bot_api_port: int | None = None
    # Retention in days (backoffice/maintenance/retention.py, docs/security.md); 0 keeps forever.
    retain_media_days: int = 30
    retain_sms_days: int = 7
    retain_outbox_days: int = 30
    retain_conversations_days: int = 90
    retain_face_days: int = 30
    retain_events_days: int = 90
    nlu_low_confidence: float = 0.6
    metrics_token: str | None = None
    purge_interval_seconds: int = 3600
    allow_demo: frozenset = frozenset()  # HALL_ALLOW_DEMO: demo parts explicitly allowed in production
    sms_provider: ProviderSettings | None = None  # SMS_GATEWAY=aliyun|tencent
    extra: dict = field(default_factory=dict)

    def demo_allowed(self, part: str) -> bool:
        if part not in DEMO_PARTS:
            raise KeyError(part)
        return not self.production or part in self.allow_demo

    def require_demo(self, part: str) -> None:
        """Stop (at start-up) when production would run on a demo part that HALL_ALLOW_DEMO does not name."""
        if not self.demo_allowed(part):
            raise DemoNotAllowed(f"HALL_ENV=production refuses {DEMO_PARTS[part]}. "
                                 f"Set HALL_ALLOW_DEMO={part} to allow it explicitly (a demo or staging host only).")


def _check_demo_parts(settings: Settings) -> None:
    if settings.sms_gateway == "sandbox":
        settings.require_demo("sandbox-sms")
    if settings.production and os.environ.get("WECHAT_SIMULATOR") == "1":  # the former switch, now HALL_ALLOW_DEMO
        settings.require_demo("simulator")
    if settings.production and settings.allow_demo:
        log.warning("HALL_ENV=production with demo parts allowed: %s", ", ".join(sorted(settings.allow_demo)))


def load_settings() -> Settings:
    production = os.environ.get("HALL_ENV", "development") == "production"
    var = var_dir()
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'hall.db'}"
    if production and database_url.startswith("sqlite"):
        raise ConfigError("DATABASE_URL must point at PostgreSQL in production")
    sms_gateway = os.environ.get("SMS_GATEWAY", "sandbox").strip()
    if sms_gateway not in GATEWAYS:
        raise ConfigError(f"SMS_GATEWAY={sms_gateway!r}: must be one of {', '.join(GATEWAYS)}")
    try:  # a missing key, sign name or template fails here, at start-up, not at the first SMS
        sms_provider = (None if sms_gateway == "sandbox"
                        else load_provider_settings(sms_gateway, os.environ, production=production))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    keys = os.environ.get("HALL_DATA_KEYS")  # comma separated, newest first (rotation)
    data_keys = [k.strip() for k in keys.split(",") if k.strip()] if keys else [
        _secret_file("data_key", "HALL_DATA_KEY", production=production)
    ]
    settings = Settings(
        production=production,
        database_url=database_url,
        redis_url=os.environ.get("REDIS_URL") or None,
        sms_gateway=sms_gateway,
        media_dir=Path(os.environ.get("MEDIA_DIR", var / "media")),
        admin_token=_secret_file("admin_token", "HALL_ADMIN_TOKEN", production=production),
        service_token=_secret_file("service_token", "HALL_SERVICE_TOKEN", production=production),
        data_keys=data_keys,
        public_url=os.environ.get("HALL_PUBLIC_URL", "http://127.0.0.1:%s" % os.environ.get("BACKOFFICE_PORT", "8000")).rstrip("/"),
        rasa_url=os.environ.get("RASA_URL", "http://127.0.0.1:%s" % os.environ.get("RASA_PORT", "5005")).rstrip("/"),
        session_idle_seconds=int(os.environ.get("SESSION_IDLE_SECONDS", 30 * 60)),
        ip_media_per_hour=int(os.environ.get("HALL_IP_MEDIA_PER_HOUR", 120)),
        ip_h5_posts_per_hour=int(os.environ.get("HALL_IP_H5_POSTS_PER_HOUR", 60)),
        ip_otp_codes_per_hour=int(os.environ.get("HALL_IP_OTP_CODES_PER_HOUR", 30)),
        ip_otp_failures_per_hour=int(os.environ.get("HALL_IP_OTP_FAILURES_PER_HOUR", 30)),
        proxies_count=int(os.environ.get("HALL_PROXIES_COUNT", 0)),
        bot_api_port=int(os.environ.get("BACKOFFICE_BOT_PORT", 8001)),
        # a typo fails at start-up, not at the first request
        ip_exempt=[str(n) for n in networks(os.environ.get("HALL_IP_EXEMPT", "127.0.0.0/8,::1/128").split(","))],
        retain_media_days=int(os.environ.get("HALL_RETAIN_MEDIA_DAYS", 30)),
        retain_sms_days=int(os.environ.get("HALL_RETAIN_SMS_DAYS", 7)),
        retain_outbox_days=int(os.environ.get("HALL_RETAIN_OUTBOX_DAYS", 30)),
        retain_conversations_days=int(os.environ.get("HALL_RETAIN_CONVERSATIONS_DAYS", 90)),
        retain_face_days=int(os.environ.get("HALL_RETAIN_FACE_DAYS", 30)),
        retain_events_days=int(os.environ.get("HALL_RETAIN_EVENTS_DAYS", 90)),
        nlu_low_confidence=float(os.environ.get("HALL_NLU_LOW_CONFIDENCE", 0.6)),
        metrics_token=os.environ.get("HALL_METRICS_TOKEN") or None,
        purge_interval_seconds=int(os.environ.get("HALL_PURGE_INTERVAL_SECONDS", 3600)),
        allow_demo=_allowed_demo(os.environ.get("HALL_ALLOW_DEMO", "")),
        sms_provider=sms_provider,
    )
    _check_demo_parts(settings)
    return settings
