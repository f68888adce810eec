"""微信客服 (WeCom kf) settings, shared by the Rasa channel, the back-office delivery and the simulator.

Kept free of Rasa imports: the back-office process loads it too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from backoffice.channels.endpoints import public_url

REAL_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"
HANDOFF_MODES = ("console", "wecom")
# Development defaults: `make run` gives a working simulator with no configuration. They only apply outside
# production, and the channel then talks to the back-office's fake WeCom API.
DEV_CORP_ID = "wwhalldev00000000"
DEV_SECRET = "hall-dev-wecom-kf-secret"
DEV_TOKEN = "hall-dev-wecom-token"
DEV_AES_KEY = "aGFsbC1kZXYtd2Vjb20tYWVzLWtleS0wMDAwMDAwMDA"  # 43 characters, as WeCom's EncodingAESKey
DEV_OPEN_KFID = "wkhalldev0000000000"  # the simulator's customer-service account


class WeComConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class WeComSettings:
    corp_id: str
    secret: str
    token: str
    aes_key: str
    api_base: str
    handoff: str  # "console": our staff console answers; "wecom": WeCom's own servicers take the session
    production: bool
    enabled: bool = True


def simulator_api_base() -> str:
    return public_url() + "/simulator/wecom-api/cgi-bin/"


def load_wecom_settings(credentials: dict | None = None) -> WeComSettings:
    """credentials.yml values win over the environment. In production all four secrets are required, or none:
    a deployment that sets none of them does not use 微信客服 and the channel stays disabled."""
    creds = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    production = os.environ.get("HALL_ENV", "development") == "production"

    def given(key: str, env: str) -> str | None:
        value = creds.get(key) or os.environ.get(env) or None
        return str(value) if value is not None else None

    secrets = {"WECOM_CORP_ID": given("corp_id", "WECOM_CORP_ID"), "WECOM_SECRET": given("secret", "WECOM_SECRET"),
               "WECOM_TOKEN": given("token", "WECOM_TOKEN"), "WECOM_AES_KEY": given("aes_key", "WECOM_AES_KEY")}
    enabled = True
    if production:
        missing = [name for name, value in secrets.items() if not value]
        if len(missing) == len(secrets):
            enabled = False
        elif missing:
            raise WeComConfigError("微信客服 channel needs " + ", ".join(missing) + " in production")
    defaults = {"WECOM_CORP_ID": DEV_CORP_ID, "WECOM_SECRET": DEV_SECRET, "WECOM_TOKEN": DEV_TOKEN,
                "WECOM_AES_KEY": DEV_AES_KEY}
    values = {name: value or defaults[name] for name, value in secrets.items()}
    if len(values["WECOM_AES_KEY"]) != 43:
        raise WeComConfigError("WECOM_AES_KEY (EncodingAESKey) must be 43 characters")
    api_base = given("api_base", "WECOM_API_BASE") or (REAL_API_BASE if production else simulator_api_base())
    handoff = str(creds.get("handoff") or os.environ.get("WECOM_HANDOFF") or "console").lower()
    if handoff not in HANDOFF_MODES:
        raise WeComConfigError("WECOM_HANDOFF must be console or wecom")
    return WeComSettings(corp_id=values["WECOM_CORP_ID"], secret=values["WECOM_SECRET"], token=values["WECOM_TOKEN"],
                         aes_key=values["WECOM_AES_KEY"], api_base=api_base.rstrip("/") + "/", handoff=handoff,
                         production=production, enabled=enabled)


def kv_prefix() -> str:
    """The key prefix the back-office's KV store uses: the channel's WeCom state must be in the same namespace,
    since both sides send to the same customers within one reply budget."""
    return os.environ.get("HALL_KV_PREFIX", "hall:")
