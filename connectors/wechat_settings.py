"""WeChat Official Account settings, shared by the Rasa channel, the back-office delivery and the simulator.

Kept free of Rasa imports: the back-office process loads it too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

from backoffice.channels.endpoints import public_url

REAL_API_BASE = "https://api.weixin.qq.com/"
# Development defaults: `make run` must give a working simulator with zero configuration. They only
# apply outside production, and the channel then talks to the back-office's fake WeChat API.
DEV_TOKEN = "hall-dev-wechat-token"
DEV_APP_ID = "wxhalldev000000000"
DEV_APP_SECRET = "hall-dev-wechat-secret"


class WeChatConfigError(RuntimeError):
    pass


@dataclass(frozen=True)
class WeChatSettings:
    token: str
    app_id: str
    app_secret: str
    aes_key: str | None
    api_base: str
    production: bool
    transfer_to_kf: bool = False

    @property
    def safe_mode(self) -> bool:
        return bool(self.aes_key)


def simulator_api_base() -> str:
    return public_url() + "/simulator/wechat-api/"


def load_wechat_settings(credentials: dict | None = None) -> WeChatSettings:
    """credentials.yml values win over the environment; production refuses missing secrets."""
    creds = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    production = os.environ.get("HALL_ENV", "development") == "production"

    def pick(key: str, env: str, dev_default: str | None) -> str | None:
        value = creds.get(key) or os.environ.get(env) or None
        if value is None and not production:
            value = dev_default
        return str(value) if value is not None else None

    token = pick("token", "WECHAT_TOKEN", DEV_TOKEN)
    app_id = pick("app_id", "WECHAT_APP_ID", DEV_APP_ID)
    secret = pick("app_secret", "WECHAT_APP_SECRET", DEV_APP_SECRET)
    aes_key = pick("aes_key", "WECHAT_AES_KEY", None)
    api_base = pick("api_base", "WECHAT_API_BASE", None)
    if api_base is None:
        api_base = REAL_API_BASE if production else simulator_api_base()
    missing = [name for name, value in (("WECHAT_TOKEN", token), ("WECHAT_APP_ID", app_id),
                                        ("WECHAT_APP_SECRET", secret)) if not value]
    if missing:
        raise WeChatConfigError("WeChat channel needs " + ", ".join(missing) + " in production")
    if aes_key is not None and len(aes_key) != 43:
        raise WeChatConfigError("WECHAT_AES_KEY (EncodingAESKey) must be 43 characters")
    transfer = str(creds.get("transfer_to_kf", os.environ.get("WECHAT_TRANSFER_TO_KF", ""))).lower() in ("1", "true", "yes")
    return WeChatSettings(token=token, app_id=app_id, app_secret=secret, aes_key=aes_key,
                          api_base=api_base.rstrip("/") + "/", production=production, transfer_to_kf=transfer)
