"""The staff console in headless Chromium against the real stack (PostgreSQL, Redis, Rasa, action server).

A REST customer asks for a human; an agent watches the queue fill live, claims, replies (the customer reads
it from the outbox), the bot stays silent meanwhile, the agent hands back and the bot answers again. A customer
in the middle of 账户解锁 gets an image from the agent and is handed back with the business resumed at its step.
A WeChat customer on the simulator page gets notices, text and an image as 客服消息. Then a reviewer approves a
real application (opened after the real face check and SMS code) and the customer gets the SMS.
Screenshots go to var/screenshots/ or $CONSOLE_SHOTS (not committed).
"""
from __future__ import annotations

import os
import random
import subprocess
import time
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from backoffice.accounts.seed import id_number
from tests.e2e.conftest import latest_code
from tests.support.live import live_video
from tests.support.stack import ROOT, VENV_BIN, http, texts

STEP_TIMEOUT = 15_000
SHOTS = Path(os.environ.get("CONSOLE_SHOTS") or ROOT / "var" / "screenshots")


def create_staff(stack, username: str, role: str) -> str:
    """Through the command line an operator would use."""
    password = "pw-" + os.urandom(9).hex()
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "backoffice", "staff", "create", username, "--role", role,
                             "--password-stdin"], cwd=ROOT, env=stack.env, input=password + "\n", text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert password not in result.stdout + result.stderr
    return password


def browser_login(page, stack, username: str, password: str) -> None:
    page.goto(stack.backoffice_url + "/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login")
    expect(page.locator("#me")).to_contain_text(username, timeout=STEP_TIMEOUT)


def claim_from_queue(page, sender: str, row_text: str) -> None:
    """Open the customer's row in the live queue (once it shows `row_text`) and claim the conversation."""
    row = page.locator(f"#queue tbody tr[data-sender='{sender}']")
    expect(row).to_contain_text(row_text, timeout=STEP_TIMEOUT)
    row.get_by_role("link", name="查看").click()
    page.click("#claim")
    expect(page.locator("#flash")).to_contain_text("已接入", timeout=STEP_TIMEOUT)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"console-{name}.png"), full_page=True)


def upload_png(stack, sender, color=(30, 120, 200)) -> str:
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 200), color)
    ImageDraw.Draw(img).ellipse((110, 40, 210, 160), fill=(240, 200, 170))
    out = io.BytesIO()
    img.save(out, "PNG")
    return stack.upload(out.getvalue(), sender, "p.png")


def rasa_paused(stack, sender: str) -> bool:
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker?include_events=NONE")
    assert status == 200, tracker
    return tracker["paused"]


def outbox_texts(stack, sender: str) -> list[str]:
    status, rows = stack.api("GET", f"/api/conversations/{sender}/outbox")
    assert status == 200, rows
    return [r["text"] for r in rows]


def test_agent_takes_over_and_hands_back(stack, sender):
    username = "agent-" + os.urandom(3).hex()
    password = create_staff(stack, username, "agent")
    assert username in _staff_names(stack)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            browser_login(page, stack, username, password)
            expect(page.locator("#live")).to_have_text("实时", timeout=STEP_TIMEOUT)

            # the customer asks for a human while the agent is looking at the queue: the row arrives live
            stack.say(sender, "你好")
            assert "人工" in texts(stack.say(sender, "转人工"))
            row = page.locator(f"#queue tbody tr[data-sender='{sender}']")
            expect(row).to_contain_text("等待中", timeout=STEP_TIMEOUT)
            expect(row).to_contain_text("客户要求转人工")
            shot(page, "1-queue")

            row.get_by_role("link", name="查看").click()
            expect(page.locator("#messages")).to_contain_text("转人工", timeout=STEP_TIMEOUT)
            page.click("#claim")
            expect(page.locator("#flash")).to_contain_text("已接入", timeout=STEP_TIMEOUT)
            expect(page.locator("#state")).to_have_text("人工服务中")
            assert outbox_texts(stack, sender)[-1].startswith("人工客服已接入")

            # the bot is silent while the agent holds the conversation; the agent sees the message
            hostile = "<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">我的账户被锁了"
            assert stack.say(sender, hostile) == []
            expect(page.locator("#messages")).to_contain_text("我的账户被锁了", timeout=STEP_TIMEOUT)
            expect(page.locator("#messages")).to_contain_text("<script>window.__xss=1</script>")  # shown as text
            # an image the customer sends meanwhile shows through a signed, expiring media link
            assert stack.say(sender, '/upload_image{"media_id":"%s"}' % upload_png(stack, sender)) == []
            image = page.locator("#messages img[alt='客户图片']")
            expect(image).to_be_visible(timeout=STEP_TIMEOUT)
            assert "/h5/media/" in image.get_attribute("src")
            page.wait_for_function("() => document.querySelector(\"#messages img[alt='客户图片']\").naturalWidth === 320",
                                   timeout=STEP_TIMEOUT)  # the bytes really load
            # (predicates are functions: Playwright evals a bare expression on every poll, which the
            # console's CSP forbids once polling leaves the first, exempt evaluation)
            page.reload()  # the server-rendered version too, not only the script's
            expect(page.locator("#messages")).to_contain_text("<img src=x")
            assert page.evaluate("window.__xss === undefined")
            assert page.locator("#messages script, #messages img[src='x']").count() == 0

            page.fill("#reply-text", "您好，我是人工客服，正在为您查询。")
            page.click("#reply")
            expect(page.locator("#flash")).to_contain_text("已发送", timeout=STEP_TIMEOUT)
            expect(page.locator("#messages")).to_contain_text("您好，我是人工客服，正在为您查询。",
                                                              timeout=STEP_TIMEOUT)
            assert "您好，我是人工客服，正在为您查询。" in outbox_texts(stack, sender)  # what the REST customer reads
            shot(page, "2-conversation")

            # "/restart" is handled by Rasa even while paused and clears the pause (RasaHQ/rasa#4107); the new
            # session it starts runs our action_session_start, which pauses again while the agent holds it (the
            # back-office's pause guard would otherwise put it back within seconds)
            assert stack.say(sender, "/restart") == []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not rasa_paused(stack, sender):
                time.sleep(0.5)
            assert rasa_paused(stack, sender), "the conversation was not paused again"
            status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker?include_events=ALL")
            kinds = [e["event"] for e in tracker["events"]]
            after_restart = kinds[len(kinds) - 1 - kinds[::-1].index("restart"):]
            assert "session_started" in after_restart and "pause" in after_restart, after_restart  # not by luck
            assert stack.say(sender, "还在吗") == []

            page.click("#release")  # "恢复机器人应答" is checked by default
            expect(page.locator("#flash")).to_contain_text("已交还机器人", timeout=STEP_TIMEOUT)
            assert outbox_texts(stack, sender)[-1].startswith("人工客服已离开")
            assert texts(stack.say(sender, "你好")), "the bot answers again after the hand-back"
            status, rows = stack.api("GET", "/api/conversations?state=bot")
            assert any(r["sender"] == sender for r in rows)
        finally:
            browser.close()


def test_image_reply_and_hand_back_resuming_the_business(stack, sender, tmp_path):
    """A customer in the middle of 账户解锁 asks for a human; the agent sends an image, hands back with the
    business resumed: the bot re-asks the step the customer was at, and the customer simply continues."""
    import urllib.request

    _locked_customer(stack, sender)
    reply = texts(stack.say(sender, "我的账户被锁了"))
    assert "绑定" in reply, reply  # the unlock form's first step for this new device: 去绑定
    assert "人工" in texts(stack.say(sender, "转人工"))
    username = "agent-" + os.urandom(3).hex()
    password = create_staff(stack, username, "agent")
    picture = tmp_path / "guide.png"
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (400, 240), (250, 250, 250))
    ImageDraw.Draw(img).rectangle((40, 40, 360, 200), outline=(20, 90, 200), width=8)
    img.save(picture)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            browser_login(page, stack, username, password)
            claim_from_queue(page, sender, "等待中")
            expect(page.locator("#form")).to_have_text("无")  # 转人工 closed the form; the back-office noted it

            # an image reply: uploaded in the browser, shown in the console, a signed link for the REST customer
            page.set_input_files("#reply-image", str(picture))
            page.click("#send-image")
            expect(page.locator("#flash")).to_contain_text("图片已发送", timeout=STEP_TIMEOUT)
            expect(page.locator("#messages img[alt='客服图片']")).to_be_visible(timeout=STEP_TIMEOUT)
            page.wait_for_function("() => document.querySelector(\"#messages img[alt='客服图片']\").naturalWidth === 400",
                                   timeout=STEP_TIMEOUT)
            status, rows = stack.api("GET", f"/api/conversations/{sender}/outbox")
            image_url = rows[-1]["image_url"]
            assert rows[-1]["text"] == "[图片]" and "/h5/media/" in image_url
            with urllib.request.urlopen(image_url, timeout=30) as resp:
                assert resp.status == 200 and resp.headers["Content-Type"] == "image/png"
            page.fill("#reply-text", "请按图示拍摄。我把您交还给智能助手继续办理解锁。")
            page.click("#reply")
            expect(page.locator("#flash")).to_contain_text("已发送", timeout=STEP_TIMEOUT)
            shot(page, "6-image-reply")

            expect(page.locator("#resume-bot")).to_be_checked()
            page.click("#release")
            expect(page.locator("#flash")).to_contain_text("继续办理客户的业务", timeout=STEP_TIMEOUT)
        finally:
            browser.close()
    said = outbox_texts(stack, sender)
    assert said[-2] == "人工客服已离开，智能助手将继续为您办理账户解锁。", said
    assert "绑定" in said[-1] and "可回复：" in said[-1], said  # the bot re-asked the step the customer was at
    status, rows = stack.api("GET", f"/api/conversations/{sender}/outbox")
    assert rows[-1]["author"] == "bot"
    assert not rasa_paused(stack, sender)
    reply = texts(stack.say(sender, "去绑定"))  # the customer just answers it: the business goes on
    assert "身份证" in reply or "自拍" in reply, reply
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/{sender}/tracker?include_events=NONE")
    assert tracker["active_loop"].get("name") == "unlock_account_form"


def _staff_names(stack) -> list[str]:
    result = subprocess.run([str(VENV_BIN / "python"), "-m", "backoffice", "staff", "list"], cwd=ROOT, env=stack.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return [line.split("\t")[0] for line in result.stdout.splitlines()]


def _locked_customer(stack, sender: str) -> tuple[str, str]:
    """A fresh locked account (no other test touches it), logged in through the REST dialogue."""
    suffix = random.randint(1000, 9999)
    number, phone = f"8007{suffix}", f"1390000{suffix}"
    status, body = stack.api("POST", "/api/accounts", {
        "account_number": number, "name": "王测试", "id_number": id_number(f"1101051990010{suffix}"), "phone": phone,
        "investor_type": "投资者", "opened_on": "2020-01-02", "state": "locked", "balance": "0"})
    assert status == 201, body
    assert "登录类型" in texts(stack.say(sender, "我要登录"))
    assert "资金账号" in texts(stack.say(sender, "投资者"))
    assert "手机号" in texts(stack.say(sender, number))
    stack.say(sender, phone)
    stack.say(sender, latest_code(stack, phone))
    assert "登录成功" in texts(stack.say(sender, "同意"))
    return number, phone


def live_check_via_api(stack, sender: str, photo, purpose: str = "business") -> dict:
    def bot(path, **body):
        status, answer = http("POST", stack.bot_api_url + path, {"sender": sender, **body}, token=stack.service_token)
        assert status == 200, (path, answer)
        return answer

    if bot("/api/bot/face/consent/status")["needed"]:
        assert bot("/api/bot/face/consent", agreed=True)["status"] == "agreed"
    started = bot("/api/bot/live/start", purpose=purpose)
    assert started["status"] == "ok", started
    media_id = stack.upload(live_video(str(photo), tuple(started["actions"])), sender, "selfie.mp4")
    return bot("/api/bot/live/video", purpose=purpose, media_id=media_id)


def _business_steps(stack, sender: str, number: str, phone: str, business: str, with_id: bool = False) -> dict:
    """The steps the bot runs before an application, through the same service API: a live check (consent, the
    announced action filmed and sent as a video) compared with the portrait on file, then the business's SMS
    code."""
    from biometrics.testdata import ensure_faces
    from tests.e2e.test_applications import put_portrait

    owner = ensure_faces()["obama"]
    put_portrait(stack, number, owner[0])
    if with_id:  # the customer's ID card read by OCR and confirmed: the reviewer sees it beside the record
        from biometrics.testdata import make_id_back, make_id_front

        suffix = number[-4:]
        number18 = id_number(f"1101051990010{suffix}")
        front = make_id_front(name="王测试", id_number=number18, gender="男" if int(number18[16]) % 2 else "女",
                              birth_date=f"1990-01-{number18[12:14]}", face_path=str(owner[2]), size=(1600, 1200))
        for step, data in (("front", front), ("back", make_id_back(valid_until="2038-08-08", size=(1600, 1200)))):
            status, read = http("POST", f"{stack.bot_api_url}/api/bot/id/{step}",
                                {"sender": sender, "media_id": stack.upload(data, sender, f"{step}.jpg")},
                                token=stack.service_token)
            assert status == 200 and read["status"] in ("read", "ok"), read
        status, confirmed = http("POST", f"{stack.bot_api_url}/api/bot/id/confirm", {"sender": sender},
                                 token=stack.service_token)
        assert confirmed == {"status": "ok"}, confirmed
    face = live_check_via_api(stack, sender, owner[0])
    assert face["status"] == "passed", face
    status, sent = http("POST", stack.bot_api_url + "/api/bot/business/otp/start",
                        {"sender": sender, "business": business}, token=stack.service_token)
    assert sent["status"] == "sent", sent
    status, ok = http("POST", stack.bot_api_url + "/api/bot/business/otp/verify",
                      {"sender": sender, "business": business, "code": latest_code(stack, phone)},
                      token=stack.service_token)
    assert ok == {"status": "ok"}
    return face


def test_reviewer_approves_and_the_customer_gets_the_sms(stack, sender):
    number, phone = _locked_customer(stack, sender)
    open_body = {"sender": sender, "channel": "rest", "business": "unlock_account", "submit": True,
                 "payload": {"face": {"decision": "accept", "score": 0.01}}}
    status, body = http("POST", stack.bot_api_url + "/api/bot/applications/open", open_body,
                        token=stack.service_token)
    assert status == 409 and body["error"] == "face_required", body  # the bot's word is not enough
    face = _business_steps(stack, sender, number, phone, "unlock_account", with_id=True)
    status, body = http("POST", stack.bot_api_url + "/api/bot/applications/open", open_body,
                        token=stack.service_token)
    assert status == 201 and body["application"]["status"] == "pending", body
    app_id = body["application"]["id"]
    username = "reviewer-" + os.urandom(3).hex()
    password = create_staff(stack, username, "reviewer")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            browser_login(page, stack, username, password)
            page.select_option("#business", "unlock_account")
            page.select_option("#status", "pending")
            page.get_by_role("button", name="筛选").click()
            link = page.locator(f"a[href='/console/applications/{app_id}']")
            expect(link).to_be_visible(timeout=STEP_TIMEOUT)
            shot(page, "3-applications")
            link.click()
            expect(page.locator("#face-decision")).to_have_text("通过", timeout=STEP_TIMEOUT)
            expect(page.locator("#face-score")).to_have_text(str(face["distance"]))  # the server's own result
            expect(page.locator("#face-bands")).to_contain_text("人工复核")
            expect(page.locator("#ocr-name-match")).to_have_text("与档案一致")
            expect(page.locator("#ocr-id-match")).to_have_text("与档案一致")
            expect(page.locator("#ocr-valid")).to_have_text("2038-08-08")
            expect(page.locator("#ocr")).to_contain_text("王**")
            expect(page.locator("#witness")).to_contain_text("无视频见证记录")
            expect(page.locator("#account")).to_contain_text(phone[:3] + "****" + phone[-4:])
            assert phone not in page.content()
            selfie = page.locator("img[alt='活体检测画面（人脸核验）']")
            expect(selfie).to_be_visible()
            page.wait_for_function(
                "() => document.querySelector(\"img[alt='活体检测画面（人脸核验）']\").naturalWidth > 100",
                timeout=STEP_TIMEOUT)
            shot(page, "4-application")
            page.click("#approve")
            expect(page.locator("#flash")).to_contain_text("已通过", timeout=STEP_TIMEOUT)
            expect(page.locator("#app-status")).to_have_text("已通过")
            shot(page, "5-approved")
        finally:
            browser.close()
    assert any("账户解锁申请已审核通过" in m["text"] for m in stack.sms(phone)), stack.sms(phone)
    status, account = stack.api("GET", f"/api/accounts/{number}")
    assert status == 200 and account["state"] == "normal"
    assert any("解锁" in t for t in outbox_texts(stack, sender))


def test_wechat_customer_in_the_simulator(stack, tmp_path):
    """The same handoff for a WeChat customer: notices and replies arrive as 客服消息 on the simulator page."""
    username = "agent-" + os.urandom(3).hex()
    password = create_staff(stack, username, "agent")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--headless"])
        try:
            phone = browser.new_page(viewport={"width": 420, "height": 820})
            phone.goto(stack.backoffice_url + "/simulator/")
            expect(phone.locator("#mode")).to_have_text("明文模式", timeout=STEP_TIMEOUT)
            bot = phone.locator(".msg.bot")

            def say(text: str) -> None:
                phone.fill("#text", text)
                phone.click("#send")

            say("转人工")
            expect(bot.last).to_contain_text("人工", timeout=STEP_TIMEOUT)
            openid = phone.locator("#openid").inner_text()

            console = browser.new_page(viewport={"width": 1280, "height": 900})
            browser_login(console, stack, username, password)
            claim_from_queue(console, openid, "wechat")
            expect(bot.last).to_contain_text("人工客服已接入", timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("客服消息")

            before = bot.count()
            # The WeChat bridge writes messages of agent-held conversations to the paused Rasa tracker, so the
            # agent's history is complete; the bot says nothing
            say("我想问一下销户的条件")
            expect(console.locator("#messages")).to_contain_text("我想问一下销户的条件", timeout=STEP_TIMEOUT)
            phone.wait_for_timeout(3000)
            assert bot.count() == before, "the bot must stay silent while the agent holds the conversation"

            # an image from the agent arrives as an image 客服消息 (uploaded to WeChat as temporary media)
            picture = tmp_path / "agent.png"
            from PIL import Image

            Image.new("RGB", (200, 120), (20, 120, 60)).save(picture)
            console.set_input_files("#reply-image", str(picture))
            console.click("#send-image")
            expect(console.locator("#flash")).to_contain_text("图片已发送", timeout=STEP_TIMEOUT)
            expect(phone.locator(".msg.bot img[alt='图片']").last).to_be_visible(timeout=STEP_TIMEOUT)
            phone.wait_for_function("() => Array.from(document.querySelectorAll(\".msg.bot img[alt='图片']\"))"
                                    ".some((i) => i.naturalWidth === 200)", timeout=STEP_TIMEOUT)

            console.fill("#reply-text", "销户需要先平仓并转出全部资金。")
            console.click("#reply")
            expect(console.locator("#flash")).to_contain_text("已发送", timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("销户需要先平仓并转出全部资金。", timeout=STEP_TIMEOUT)
            phone.screenshot(path=str(SHOTS / "console-6-simulator.png"), full_page=True)

            console.click("#resolve")
            expect(console.locator("#flash")).to_contain_text("会话已结束", timeout=STEP_TIMEOUT)
            expect(bot.last).to_contain_text("本次人工服务已结束", timeout=STEP_TIMEOUT)
            say("你好")
            expect(bot.last).to_contain_text("掌厅助手", timeout=STEP_TIMEOUT)  # the bot answers again
        finally:
            browser.close()
