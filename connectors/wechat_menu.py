"""The Official Account's custom menu and how its CLICK keys and the subscribe greeting map to intents, made
from the business registry (each business's `menu` entry).

`python -m connectors.wechat_menu` publishes MENU through the configured WeChat API (menu/create).
"""
from __future__ import annotations

import asyncio

from businesses import REGISTRY

HUMAN = {"title": "人工客服", "payload": "/request_human"}


def click_keys(registry: dict) -> dict:
    """CLICK key → message sent to Rasa (CONTRACTS.md intents, as /intent payloads): every business's key, plus
    转人工 and 帮助."""
    keys = {b.menu["key"]: f"/{b.intent}" for b in registry.values() if (b.menu or {}).get("key") and b.intent}
    return {**keys, "REQUEST_HUMAN": "/request_human", "HELP": "/help"}


def menu(registry: dict) -> dict:
    """The Official Account's menu: the "top" entries as buttons, the "account" entries under 账户业务."""
    def button(business) -> dict:
        return {"name": business.menu["title"], "type": "click", "key": business.menu["key"]}

    group = lambda name: [button(b) for b in registry.values() if (b.menu or {}).get("group") == name]  # noqa: E731
    return {"button": [*group("top"), {"name": "账户业务", "sub_button": group("account")},
                       {"name": "人工客服", "type": "click", "key": "REQUEST_HUMAN"}]}


def welcome_options(registry: dict) -> list[dict]:
    """Shown (as numbered options) under the greeting when someone follows the account."""
    return [{"title": b.menu["welcome"], "payload": f"/{b.intent}"} for b in registry.values()
            if (b.menu or {}).get("welcome") and b.intent] + [HUMAN]


CLICK_KEYS = click_keys(REGISTRY)
MENU = menu(REGISTRY)
WELCOME_OPTIONS = welcome_options(REGISTRY)


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
