"""The Official Account's custom menu and how its CLICK keys and the subscribe greeting map to intents.

`python -m connectors.wechat_menu` publishes MENU through the configured WeChat API (menu/create).
"""
from __future__ import annotations

import asyncio

# CLICK key → message sent to Rasa (CONTRACTS.md intents, as /intent payloads)
CLICK_KEYS = {
    "LOGIN": "/login",
    "RECOVER_ACCOUNT": "/recover_account",
    "UNLOCK_ACCOUNT": "/unlock_account",
    "RESET_PASSWORD": "/reset_password",
    "BIND_DEVICE": "/bind_device",
    "UNBIND_DEVICE": "/unbind_device",
    "UPLOAD_SIGNATURE": "/upload_signature",
    "ACTIVATE_DORMANT_ACCOUNT": "/activate_dormant_account",
    "CLOSE_ACCOUNT": "/close_account",
    "VIEW_AGREEMENTS": "/view_agreements",
    "CHECK_STATUS": "/check_status",
    "REQUEST_HUMAN": "/request_human",
    "HELP": "/help",
}

MENU = {"button": [
    {"name": "掌厅登录", "type": "click", "key": "LOGIN"},
    {"name": "账户业务", "sub_button": [
        {"name": "找回资金账号", "type": "click", "key": "RECOVER_ACCOUNT"},
        {"name": "账户解锁", "type": "click", "key": "UNLOCK_ACCOUNT"},
        {"name": "重置密码", "type": "click", "key": "RESET_PASSWORD"},
        {"name": "办理进度", "type": "click", "key": "CHECK_STATUS"},
    ]},
    {"name": "人工客服", "type": "click", "key": "REQUEST_HUMAN"},
]}

# Shown (as numbered options) under the greeting when someone follows the account.
WELCOME_OPTIONS = [
    {"title": "掌厅登录", "payload": "/login"},
    {"title": "找回资金账号", "payload": "/recover_account"},
    {"title": "账户解锁", "payload": "/unlock_account"},
    {"title": "重置密码", "payload": "/reset_password"},
    {"title": "业务办理进度", "payload": "/check_status"},
    {"title": "人工客服", "payload": "/request_human"},
]


def click_payload(key: str | None) -> str | None:
    key = (key or "").strip().upper()
    for prefix in ("MENU_", "KEY_"):
        if key.startswith(prefix):
            key = key[len(prefix):]
    return CLICK_KEYS.get(key)


def main() -> None:
    from connectors.wechat_api import get_api

    api = get_api()
    asyncio.run(api._call(api.client.menu.create, MENU))
    print("menu published")


if __name__ == "__main__":
    main()
