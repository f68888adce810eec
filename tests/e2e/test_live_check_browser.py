"""The live face check in a real browser: the customer opens the H5 link the bot gave, Chromium's fake camera
films a rendered clip of the person doing the announced action, the page sends its frames, the back-office
checks them and nudges the bot, which binds the device and says so. Then a doubtful match (the review band)
waits in the console's 人脸复核 until a reviewer approves it there: the device is bound and the customer gets
the SMS and the chat message. REST webhook, real back-office, action server and Rasa (the session stack)."""
from __future__ import annotations

import os

from playwright.sync_api import expect, sync_playwright

from biometrics.testdata import ensure_faces, liveclips
from tests.e2e.test_console_browser import STEP_TIMEOUT, browser_login, create_staff, outbox_texts, shot
from tests.e2e.test_identity import bind_face_step, bound_device, consent_if_asked, put_portrait
from tests.support.live import announced, film, page_link
from tests.support.stack import texts


def until(check, seconds: float = 60.0):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    return check()


def test_the_h5_page_films_the_actions_and_binds(stack, sender, new_account, tmp_path):
    face = ensure_faces()["obama"][0]
    account = new_account()
    number = account["account_number"]
    put_portrait(stack, number, face)
    reply = consent_if_asked(stack, sender, bind_face_step(stack, sender, account))
    camera = liveclips.write_fake_camera(face, list(announced(reply)), tmp_path / "camera.y4m", seed=4)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--headless", "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={camera}"])
        try:
            page = browser.new_page(viewport={"width": 420, "height": 860})
            page.goto(page_link(reply))
            expect(page.locator("#status")).to_contain_text("摄像头已就绪", timeout=STEP_TIMEOUT)
            shot(page, "live-1-ready")
            page.click("#start")
            expect(page.locator("#result-text")).to_contain_text("检测通过", timeout=120_000)
            shot(page, "live-2-passed")
            assert page.evaluate("window.liveState.frames") >= 20
        finally:
            browser.close()
    # the page's result reached the conversation without the customer typing anything
    assert until(lambda: bound_device(stack, number) == sender)
    assert until(lambda: any("已校验成功并与本机绑定" in t for t in outbox_texts(stack, sender))), \
        outbox_texts(stack, sender)
    # single use: the link is spent
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page()
            page.goto(page_link(reply))
            expect(page.locator("main")).to_contain_text("已失效或已使用")
        finally:
            browser.close()


def test_a_reviewer_approves_a_doubtful_match_in_the_console(stack, sender, new_account):
    people = ensure_faces()["obama"]
    account = new_account()
    number = account["account_number"]
    put_portrait(stack, number, people[0])
    reply = consent_if_asked(stack, sender, bind_face_step(stack, sender, account))
    reply = texts(film(stack, sender, reply, people[1]))  # another photo of the same person: the review band
    assert "人工复核" in reply, reply
    assert bound_device(stack, number) is None
    username = "reviewer-" + os.urandom(3).hex()
    password = create_staff(stack, username, "reviewer")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            browser_login(page, stack, username, password)
            page.click("#nav-face-reviews")
            row = page.locator("#face-reviews tbody tr", has_text=number)
            expect(row).to_contain_text("绑定设备", timeout=STEP_TIMEOUT)
            row.get_by_role("link", name="复核").click()
            expect(page.locator("#review-challenge")).to_have_text("眨眨眼", timeout=STEP_TIMEOUT)
            page.wait_for_function("() => document.querySelector(\"img[alt='活体检测画面']\").naturalWidth > 100",
                                   timeout=STEP_TIMEOUT)
            assert page.locator("img[alt='比对照片']").count() >= 1
            shot(page, "face-review")
            page.click("#approve")
            expect(page.locator("#flash")).to_contain_text("已通过", timeout=STEP_TIMEOUT)
            expect(page.locator("#review-status")).to_have_text("已通过")
        finally:
            browser.close()
    assert bound_device(stack, number) == sender
    assert "已与您的设备绑定" in stack.sms(account["phone"])[-1]["text"]
    assert until(lambda: any("绑定" in t for t in outbox_texts(stack, sender))), outbox_texts(stack, sender)
