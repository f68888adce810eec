"""The WeChat simulator page, driven by headless Chromium, through the whole 掌厅登录.

Uses the session stack as `make run` would: no WECHAT_* settings at all, so the channel falls back to the
development defaults and delivers 客服消息 to the back-office's fake WeChat API. Every step goes page →
back-office (signs the XML like WeChat) → Rasa WeChat webhook → passive reply → page.
"""
from __future__ import annotations

import time
from datetime import datetime, timezone

from PIL import Image
from playwright.sync_api import expect, sync_playwright

from tests.e2e.conftest import latest_code

PHONE = "13800000001"
STEP_TIMEOUT = 15_000


def wait_out_sms_cooldown(stack) -> None:
    """Another test may have sent this phone a code moments ago; the OTP service allows one a minute."""
    messages = stack.sms(PHONE)
    if messages:
        sent = datetime.fromisoformat(messages[-1]["sent_at"])
        if sent.tzinfo is None:
            sent = sent.replace(tzinfo=timezone.utc)
        age = (datetime.now(timezone.utc) - sent).total_seconds()
        if age < 61:
            time.sleep(61 - age)


def test_simulator_login_in_browser(stack, tmp_path):
    wait_out_sms_cooldown(stack)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.goto(stack.backoffice_url + "/simulator/")
            expect(page.locator("#mode")).to_have_text("明文模式", timeout=STEP_TIMEOUT)
            expect(page.locator(".menu button", has_text="掌厅登录")).to_be_visible()
            bot = page.locator(".msg.bot")

            def say(text: str) -> None:
                page.fill("#text", text)
                page.click("#send")

            say("登录")
            investor = page.locator(".options button", has_text="投资者")
            expect(investor).to_be_visible(timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("回复数字选择")
            expect(bot.last).to_contain_text("被动回复")
            investor.click()  # sends "1", as a customer would type it
            expect(bot.last).to_contain_text("资金账号", timeout=STEP_TIMEOUT)
            say("80010001")
            expect(bot.last).to_contain_text("手机号", timeout=STEP_TIMEOUT)
            say(PHONE)
            expect(bot.last).to_contain_text("验证码", timeout=STEP_TIMEOUT)
            say(latest_code(stack, PHONE))
            expect(bot.last).to_contain_text("隐私政策", timeout=STEP_TIMEOUT)
            expect(bot.last.locator("a[href$='/h5/privacy']")).to_be_visible()  # the link is rendered
            bot.last.get_by_role("button", name="同意", exact=True).click()  # not "不同意"
            expect(bot.last).to_contain_text("登录成功", timeout=STEP_TIMEOUT)
            expect(page.locator(".options button", has_text="账户解锁").last).to_be_visible()

            # an image from disk: uploaded to the fake WeChat media API, sent as an image message
            photo = tmp_path / "photo.png"
            Image.new("RGB", (80, 60), (20, 120, 200)).save(photo)
            page.set_input_files("#file", str(photo))
            expect(bot.last).to_contain_text("收到您的图片", timeout=STEP_TIMEOUT)

            # a human agent's reply arrives as a 客服消息 through the back-office's fake WeChat API
            say("转人工")
            expect(bot.last).to_contain_text("人工", timeout=STEP_TIMEOUT)
            openid = page.locator("#openid").inner_text()
            assert stack.api("POST", f"/api/conversations/{openid}/claim")[0] == 200
            status, msg = stack.api("POST", f"/api/conversations/{openid}/reply", {"text": "您好，人工客服为您服务。"})
            assert status == 201 and msg["delivered"] is True, msg
            expect(bot.last).to_contain_text("您好，人工客服为您服务。", timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("客服消息")
        finally:
            browser.close()
