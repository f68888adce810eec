"""The business steps (confirmation code, agreement signing) and the businesses' actions against a live back-office."""
import re
from datetime import timedelta

import aiohttp
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from backoffice.agreements.service import AgreementReading
from bot.actions.applications import ActionCheckStatusSubmit, submit_application
from bot.actions.reset_password import ActionResetPasswordSubmit, ValidateResetPasswordForm, password_type_in
from bot.actions.steps import ActionAskAgreementsRead, ActionAskBusinessCode
from bot.actions.unlock_account import ActionUnlockAccountSubmit, ValidateUnlockAccountForm
from bot.actions.view_agreements import ActionViewAgreementsSubmit, ValidateViewAgreementsForm
from tests.unit.actions.conftest import tracker, typed_account
from tests.unit.backoffice.business_steps import inline_biometrics, photos

RESET = ValidateResetPasswordForm()
UNLOCK = ValidateUnlockAccountForm()
FORMS = {RESET: "reset_password_form", UNLOCK: "unlock_account_form"}
DOMAIN = {"forms": {"reset_password_form": {"required_slots": ["password_type", "business_code"]},
                    "unlock_account_form": {"required_slots": ["business_face", "unlock_confirmed"]},
                    "view_agreements_form": {"required_slots": ["agreements_read", "sign_code"]},
                    "check_status_form": {"required_slots": []}}}


def texts(dispatcher):
    return "\n".join(m.get("text") or m.get("response") or "" for m in dispatcher.messages)


def last_code(svc, phone):
    return re.search(r"验证码(\d{6})", svc.sms.messages(phone)[-1]["text"]).group(1)


def log_in(svc, sender, account, phone):
    svc.login.start(sender, account, phone)
    svc.login.verify(sender, last_code(svc, phone))
    assert svc.login.complete(sender, True).status == "ok"


def form_tracker(form, sender="s1", **kw):
    return tracker(sender=sender, active_loop=form, **kw)


def asked_when_written(slot):
    """Events of a conversation where `slot` was the step asked when the customer last wrote."""
    return [{"event": "slot", "name": "requested_slot", "value": slot}, {"event": "user", "text": "x"},
            {"event": "slot", "name": "requested_slot", "value": slot}]


async def test_business_code_is_sent_once_per_step(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010002", "13800000002")
    t = form_tracker("unlock_account_form", slots={"requested_slot": "business_code"},
                     events=asked_when_written("business_face")[:2] + [{"event": "slot", "name": "requested_slot",
                                                           "value": "business_code"}])
    await ActionAskBusinessCode().run(dispatcher, t, {})
    assert "138****0002" in texts(dispatcher)
    sms = backoffice.sms.messages("13800000002")
    assert "账户解锁" in sms[-1]["text"] and len(sms) == 2
    asked_again = form_tracker("unlock_account_form", slots={"requested_slot": "business_code"},
                               events=asked_when_written("business_code"))
    await ActionAskBusinessCode().run(dispatcher, asked_again, {})
    assert len(backoffice.sms.messages("13800000002")) == 2  # no new code when the step is asked again
    code = last_code(backoffice, "13800000002")
    wrong = "000000" if code != "000000" else "111111"
    assert await UNLOCK.validate_business_code(wrong, dispatcher, asked_again, {}) == {"business_code": None}
    assert "还可尝试4次" in texts(dispatcher)
    assert await UNLOCK.validate_business_code(code, dispatcher, asked_again, {}) == {"business_code": "verified"}


async def test_unlock_only_for_a_locked_account(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    gate = backoffice.devices.gate("s1")
    assert await UNLOCK.business_steps(gate, tracker()) == []
    await ActionUnlockAccountSubmit().run(dispatcher, tracker(), DOMAIN)
    assert "您的账户未被锁定，无需解锁" in texts(dispatcher)
    log_in(backoffice, "s2", "80010002", "13800000002")
    steps = await UNLOCK.business_steps(backoffice.devices.gate("s2"), tracker(sender="s2"))
    assert steps[-3:] == ["business_face", "business_code", "unlock_confirmed"]


async def business_steps_through_the_form(svc, dispatcher, form, sender, account):
    """The form's own validators: a real selfie to /api/bot/face, then the SMS code the ask action sent."""
    inline_biometrics(svc)
    portrait, selfie, _ = photos()
    if not svc.accounts.portrait_refs(account):
        svc.accounts.set_portrait(account, svc.media.put(portrait).media_id)
    media = svc.media.put(selfie, sender=sender).media_id
    asked = form_tracker(f"{FORMS[form]}", sender=sender, slots={"requested_slot": "business_face"})
    face = await form.validate_business_face(f"upload_image:{media}", dispatcher, asked, {})
    assert face["business_face"].startswith(("accept:", "review:")), texts(dispatcher)
    asked = form_tracker(f"{FORMS[form]}", sender=sender, slots={"requested_slot": "business_code"})
    await ActionAskBusinessCode().run(dispatcher, asked, {})
    code = last_code(svc, svc.accounts.phone_of(account))
    assert await form.validate_business_code(code, dispatcher, asked, {}) == {"business_code": "verified"}
    return face["business_face"]


async def test_unlock_submit_needs_the_steps_on_the_server(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010002", "13800000002")
    claimed = tracker(slots={"unlock_confirmed": True, "business_code": "verified", "business_face": "accept:0.1"})
    await ActionUnlockAccountSubmit().run(dispatcher, claimed, DOMAIN)
    assert "需要先完成本人人脸认证" in texts(dispatcher) and "转人工" in texts(dispatcher)
    assert backoffice.applications.list(account_number="80010002") == []


async def test_unlock_submit_and_duplicate(backoffice, dispatcher, monkeypatch):
    log_in(backoffice, "s1", "80010002", "13800000002")
    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.05")  # the real selfie lands in the review band
    face = await business_steps_through_the_form(backoffice, dispatcher, UNLOCK, "s1", "80010002")
    done = tracker(slots={"unlock_confirmed": True, "business_code": "verified", "business_face": face})
    events = await ActionUnlockAccountSubmit().run(dispatcher, done, DOMAIN)
    assert SlotSet("business_face", None) in events
    assert "申请已提交" in texts(dispatcher)
    [app] = backoffice.applications.list(account_number="80010002")
    assert app["status"] == "pending" and app["needs_manual_review"] is True
    assert app["payload"]["face"]["decision"] == "review"
    assert face == f"review:{app['payload']['face']['score']}"
    dispatcher.messages.clear()
    await ActionUnlockAccountSubmit().run(dispatcher, done, DOMAIN)
    assert "无需重复提交" in texts(dispatcher) and f"编号{app['id']}" in texts(dispatcher)
    assert len(backoffice.applications.list(account_number="80010002")) == 1
    # asked again later: answered at once, before any face check or code
    assert await UNLOCK.business_steps(backoffice.devices.gate("s1"), tracker()) == []
    dispatcher.messages.clear()
    await ActionUnlockAccountSubmit().run(dispatcher, tracker(), DOMAIN)
    assert "无需重复提交" in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionCheckStatusSubmit().run(dispatcher, tracker(), DOMAIN)
    assert "账户解锁" in texts(dispatcher) and "审批中" in texts(dispatcher)


def test_password_type_from_entity_or_words():
    entity = tracker(text="我要重置资金密码", intent="reset_password")
    entity.latest_message["entities"] = [{"entity": "password_type", "value": "资金密码"}]
    assert password_type_in(entity) == "资金密码"
    assert password_type_in(tracker(text="交易的")) == "交易密码"
    assert password_type_in(tracker(text="随便")) is None


async def test_reset_password_steps_skip_the_id_on_file(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    gate = backoffice.devices.gate("s1")
    steps = await RESET.business_steps(gate, form_tracker("reset_password_form"))
    expected_id = [] if gate.get("id_on_file") else ["id_front", "id_back", "id_confirmed"]
    assert steps == ["password_type", *expected_id, "business_code", "business_face", "agreements_read", "sign_code"]


async def test_agreements_read_ten_seconds_then_sign(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    t = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"}, events=asked_when_written("business_face"))
    await ActionAskAgreementsRead().run(dispatcher, t, {})
    urls = re.findall(r"(http://\S+/h5/agreements/\S+)", texts(dispatcher))
    assert len(urls) == 2 and "密码重置申请书" in texts(dispatcher)
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    result = await RESET.validate_agreements_read(True, dispatcher, asked, {})
    assert result == {"agreements_read": None} and "请先点击链接阅读" in texts(dispatcher)
    async with aiohttp.ClientSession() as http:
        for url in urls:  # the links name the public URL; the test server listens elsewhere
            path = url.split("/h5/", 1)[1]
            async with http.get(f"{backoffice.http_client.base_url}/h5/{path}") as resp:
                assert resp.status == 200
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    assert await RESET.validate_agreements_read(True, dispatcher, asked, {}) == {"agreements_read": None}
    assert "需至少阅读10秒" in texts(dispatcher)
    with backoffice.db.session() as s:  # ten seconds later, by the server's records
        for reading in s.execute(select(AgreementReading)).scalars():
            reading.opened_at = reading.opened_at - timedelta(seconds=11)
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    assert await RESET.validate_agreements_read(True, dispatcher, asked, {}) == {"agreements_read": True}
    assert "签署验证码已发送至 138****0001" in texts(dispatcher)
    code = last_code(backoffice, "13800000001")
    signing = form_tracker("reset_password_form", slots={"requested_slot": "sign_code"})
    assert await RESET.validate_sign_code(code, dispatcher, signing, {}) == {"sign_code": "signed"}
    assert texts(dispatcher).count("/h5/agreements/pdf/") == 2
    assert backoffice.agreements.missing("80010001", "reset_password") == []
    # signed: the signing steps are no longer needed for a new request
    assert await RESET.agreement_steps(form_tracker("reset_password_form")) == []


async def test_declining_the_agreements_ends_the_business(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    t = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    result = await RESET.validate_agreements_read(False, dispatcher, t, {})
    assert result == {"agreements_read": False, "step_outcome": "agreements_declined"}
    events = await ActionResetPasswordSubmit().run(dispatcher, tracker(slots={"step_outcome": "x"}), DOMAIN)
    assert SlotSet("password_type", None) in events


async def test_view_agreements_lists_and_offers_missing(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    form = ValidateViewAgreementsForm()
    assert await form.agreement_steps(form_tracker("view_agreements_form")) == ["agreements_read", "sign_code"]
    t = form_tracker("view_agreements_form", slots={"requested_slot": None})
    await ActionAskAgreementsRead().run(dispatcher, t, {})
    assert "您目前没有在掌厅签署的协议" in texts(dispatcher) and "个人信息处理授权书" in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionAskAgreementsRead().run(dispatcher, form_tracker("view_agreements_form", events=asked_when_written("agreements_read")),
                                        {})
    assert "阅读完毕后回复" in texts(dispatcher) and "http" not in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionViewAgreementsSubmit().run(dispatcher, tracker(slots={"step_outcome": None}), DOMAIN)
    assert "您目前没有在掌厅签署的协议" in texts(dispatcher)


async def test_login_reminds_of_a_temporary_password(backoffice, dispatcher):
    """After an approved 重置密码 the login's success message carries the must-change reminder."""
    from bot.actions.login import ValidateLoginForm
    from tests.unit.backoffice.business_steps import pass_business_steps

    backoffice.agreements.requirements["reset_password"] = [{"codes": []}]
    await pass_business_steps(backoffice, "s0", "80010001", "reset_password")
    view, _ = backoffice.applications.open("reset_password", "80010001", "s0", "rest", {"password_type": "交易密码"},
                                           submit=True)
    backoffice.applications.approve(view["id"], "alice")
    form = ValidateLoginForm()
    t = await typed_account(dispatcher, "80010001")
    await form.validate_phone_number("13800000001", dispatcher, t, {})
    assert await form.validate_otp_code(last_code(backoffice, "13800000001"), dispatcher, t, {}) == {
        "otp_code": "verified"}
    dispatcher.messages.clear()
    assert await form.validate_privacy_agreed(True, dispatcher, t, {}) == {"privacy_agreed": True, "logged_in": True}
    said = [m["text"] for m in dispatcher.messages]
    assert said[0] == "登录成功！" and "交易密码已重置为临时密码" in said[1] and "立即修改" in said[1]
