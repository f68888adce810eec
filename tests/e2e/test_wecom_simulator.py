"""The simulator's 微信客服 mode on the session stack, as `make run` has it: no WECOM_* settings, so the channel
pulls from and sends to the back-office's fake WeCom (/simulator/wecom-api/), which calls the Rasa webhook back.

Once over the simulator's own HTTP API, once in headless Chromium on the page (/simulator/?mode=wecom).
"""
from __future__ import annotations

import os
import time

from playwright.sync_api import expect, sync_playwright

from tests.support.stack import http

STEP_TIMEOUT = 20_000


def messages(stack, uid: str) -> list[dict]:
    status, body = http("GET", f"{stack.backoffice_url}/simulator/api/wecom/messages?external_userid={uid}")
    assert status == 200, body
    return body


def wait_messages(stack, uid: str, count: int, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while len(found := messages(stack, uid)) < count and time.monotonic() < deadline:
        time.sleep(0.3)
    return found


def test_simulator_wecom_api_round_trip(stack):
    status, cfg = http("GET", f"{stack.backoffice_url}/simulator/api/config")
    assert status == 200 and cfg["wecom"]["handoff"] == "console"
    uid = "wmSimE2E" + os.urandom(4).hex()
    status, result = http("POST", f"{stack.backoffice_url}/simulator/api/wecom/send",
                          {"external_userid": uid, "type": "enter"})
    assert status == 200 and result["status"] == "accepted" and result["attempts"] == 1, result
    welcome = wait_messages(stack, uid, 1)
    assert welcome and welcome[0]["via"] == "event" and "1. 掌厅登录" in welcome[0]["text"]["content"]
    status, result = http("POST", f"{stack.backoffice_url}/simulator/api/wecom/send",
                          {"external_userid": uid, "type": "text", "content": "1"})
    assert status == 200 and result["status"] == "accepted"
    answer = wait_messages(stack, uid, 2)
    assert "登录类型" in answer[-1]["text"]["content"] and answer[-1]["via"] == "send_msg"
    for bad in ({"external_userid": "wm bad", "type": "text", "content": "x"},
                {"external_userid": uid, "type": "sticker"}, {"external_userid": uid, "type": "text"}):
        assert http("POST", f"{stack.backoffice_url}/simulator/api/wecom/send", bad)[0] == 400


def test_simulator_wecom_page(stack):
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.goto(stack.backoffice_url + "/simulator/?mode=wecom")
            expect(page.locator("#mode")).to_have_text("微信客服", timeout=STEP_TIMEOUT)
            expect(page.locator("#menu")).to_be_hidden()
            assert page.locator("#openid").inner_text().startswith("wmSim")
            bot = page.locator(".msg.bot")
            page.click("#subscribe")  # 进入会话
            expect(bot.last).to_contain_text("掌厅助手", timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("欢迎语")
            page.fill("#text", "登录")
            page.click("#send")
            investor = page.locator(".options button", has_text="投资者")
            expect(investor).to_be_visible(timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("微信客服消息")
            investor.click()
            expect(bot.last).to_contain_text("资金账号", timeout=STEP_TIMEOUT)
        finally:
            browser.close()
