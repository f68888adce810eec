"""The business steps (confirmation code, agreement signing) and the businesses' actions against a live back-office."""
import re
from datetime import timedelta

import aiohttp
from rasa_sdk.events import SlotSet
from sqlalchemy import select

from backoffice.agreements.service import AgreementReading
from bot.actions.applications import ActionCheckStatusSubmit
from bot.actions.ask import FACE_ASKS, ActionAskAgreementsRead, ActionAskBusinessCode, ActionAskFaceConsent
from bot.actions.steps.agreements import agreement_slots
from bot.actions.steps.business import CHOICES
from bot.actions.steps.plan import required_slots
from bot.actions.submit import SUBMITS
from bot.actions.view_agreements import ActionViewAgreementsSubmit
from tests.unit.actions.conftest import DOMAIN, said, step, tracker, turn, typed_account
from tests.unit.backoffice.business_steps import inline_biometrics, live_clip, photos

SUBMIT = {cls.business.code: cls for cls in SUBMITS}
FACE_ASK = {cls.step.slot: cls for cls in FACE_ASKS}


def texts(dispatcher):
    return said(dispatcher)


async def required(dispatcher, business, t):
    return await required_slots(turn(dispatcher, t, business))


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
    await ActionAskBusinessCode().run(dispatcher, t, DOMAIN)
    assert "138****0002" in texts(dispatcher)
    sms = backoffice.sms.messages("13800000002")
    assert "账户解锁" in sms[-1]["text"] and len(sms) == 2
    asked_again = form_tracker("unlock_account_form", slots={"requested_slot": "business_code"},
                               events=asked_when_written("business_code"))
    await ActionAskBusinessCode().run(dispatcher, asked_again, DOMAIN)
    assert len(backoffice.sms.messages("13800000002")) == 2  # no new code when the step is asked again
    code = last_code(backoffice, "13800000002")
    wrong = "000000" if code != "000000" else "111111"
    unlock = "unlock_account"
    assert await step("business_code", wrong, dispatcher, asked_again, unlock) == {"business_code": None}
    assert "还可尝试4次" in texts(dispatcher)
    assert await step("business_code", code, dispatcher, asked_again, unlock) == {"business_code": "verified"}


async def test_unlock_only_for_a_locked_account(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    backoffice.accounts.bind_device("80010001", "s1")
    assert await required(dispatcher, "unlock_account", tracker()) == []
    await SUBMIT["unlock_account"]().run(dispatcher, tracker(), DOMAIN)
    assert "您的账户当前未被锁定，无需解锁" in texts(dispatcher)
    log_in(backoffice, "s2", "80010002", "13800000002")
    steps = await required(dispatcher, "unlock_account", tracker(sender="s2"))
    assert steps[-3:] == ["business_face", "business_code", "business_confirmed"]


async def business_steps_through_the_form(svc, dispatcher, business, sender, account):
    """The form's own steps: the consent to face data, the live check (its link and action asked, a clip of the
    action sent as a video), then the SMS code the ask action sent."""
    inline_biometrics(svc)
    portrait, _selfie, _ = photos()
    if not svc.accounts.portrait_refs(account):
        svc.accounts.set_portrait(account, svc.media.put(portrait).media_id)
    asked = form_tracker(f"{business}_form", sender=sender, slots={"requested_slot": "face_consent"})
    await ActionAskFaceConsent().run(dispatcher, asked, DOMAIN)
    assert "人脸信息处理授权" in texts(dispatcher)
    assert await step("face_consent", True, dispatcher, asked, business) == {"face_consent": True}
    asked = form_tracker(f"{business}_form", sender=sender, slots={"requested_slot": "business_face"})
    await FACE_ASK["business_face"]().run(dispatcher, asked, DOMAIN)
    assert "/h5/live/" in texts(dispatcher) and "眨眨眼" in texts(dispatcher)
    photo = svc.media.put(photos()[1], sender=sender).media_id  # a still photo is never a pass
    assert await step("business_face", ("image", photo), dispatcher, asked, business) == {"business_face": None}
    assert "照片无法通过" in texts(dispatcher)
    clip = svc.media.put(live_clip(), sender=sender).media_id
    face = await step("business_face", ("video", clip), dispatcher, asked, business)
    assert face["business_face"] == "passed", texts(dispatcher)
    asked = form_tracker(f"{business}_form", sender=sender, slots={"requested_slot": "business_code"})
    await ActionAskBusinessCode().run(dispatcher, asked, DOMAIN)
    code = last_code(svc, svc.accounts.phone_of(account))
    assert await step("business_code", code, dispatcher, asked, business) == {"business_code": "verified"}
    return face["business_face"]


async def test_unlock_submit_needs_the_steps_on_the_server(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010002", "13800000002")
    claimed = tracker(slots={"business_confirmed": True, "business_code": "verified", "business_face": "passed"})
    await SUBMIT["unlock_account"]().run(dispatcher, claimed, DOMAIN)
    assert "需要先完成本人活体人脸认证" in texts(dispatcher) and "转人工" in texts(dispatcher)
    assert backoffice.applications.list(account_number="80010002") == []


async def test_unlock_submit_and_duplicate(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010002", "13800000002")
    face = await business_steps_through_the_form(backoffice, dispatcher, "unlock_account", "s1", "80010002")
    done = tracker(slots={"business_confirmed": True, "business_code": "verified", "business_face": face})
    events = await SUBMIT["unlock_account"]().run(dispatcher, done, DOMAIN)
    assert SlotSet("business_face", None) in events
    assert "申请已提交" in texts(dispatcher)
    [app] = backoffice.applications.list(account_number="80010002")
    assert app["status"] == "pending" and app["needs_manual_review"] is False
    assert app["payload"]["face"]["decision"] == "accept" and app["payload"]["face"]["liveness"] == "video"
    dispatcher.messages.clear()
    await SUBMIT["unlock_account"]().run(dispatcher, done, DOMAIN)
    assert "无需重复提交" in texts(dispatcher) and f"编号{app['id']}" in texts(dispatcher)
    assert len(backoffice.applications.list(account_number="80010002")) == 1
    # asked again later: answered at once, before any face check or code
    backoffice.accounts.bind_device("80010002", "s1")
    assert await required(dispatcher, "unlock_account", tracker()) == []
    dispatcher.messages.clear()
    await SUBMIT["unlock_account"]().run(dispatcher, tracker(), DOMAIN)
    assert "无需重复提交" in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionCheckStatusSubmit().run(dispatcher, tracker(), DOMAIN)
    assert "账户解锁" in texts(dispatcher) and "审批中" in texts(dispatcher)


def test_password_type_from_entity_or_words(dispatcher):
    choice = CHOICES["password_type"]
    entity = tracker(text="我要重置资金密码", intent="reset_password")
    entity.latest_message["entities"] = [{"entity": "password_type", "value": "资金密码"}]
    assert choice.pick(turn(dispatcher, entity, "reset_password")) == "资金密码"
    assert choice.prefill(turn(dispatcher, entity, "reset_password")) == "资金密码"  # from the request itself
    assert choice.pick(turn(dispatcher, tracker(text="交易的"), "reset_password")) == "交易密码"
    assert choice.pick(turn(dispatcher, tracker(text="2"), "reset_password")) == "资金密码"
    assert choice.pick(turn(dispatcher, tracker(text="随便"), "reset_password")) is None


async def test_reset_password_steps_skip_the_id_on_file(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    backoffice.accounts.bind_device("80010001", "s1")
    gate = backoffice.devices.gate("s1")
    steps = await required(dispatcher, "reset_password", form_tracker("reset_password_form"))
    expected_id = [] if gate.get("id_on_file") else ["id_front", "id_back", "id_confirmed"]
    # the consent to face data comes before the first face check of a person who has not given it
    assert steps == ["password_type", *expected_id, "business_code", "face_consent", "business_face", "agreements_read",
                     "sign_code"]


async def test_agreements_read_ten_seconds_then_sign(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    t = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"}, events=asked_when_written("business_face"))
    await ActionAskAgreementsRead().run(dispatcher, t, DOMAIN)
    urls = re.findall(r"(http://\S+/h5/agreements/\S+)", texts(dispatcher))
    assert len(urls) == 2 and "密码重置申请书" in texts(dispatcher)
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    result = await step("agreements_read", True, dispatcher, asked, "reset_password")
    assert result == {"agreements_read": None} and "请先点击链接阅读" in texts(dispatcher)
    async with aiohttp.ClientSession() as http:
        for url in urls:  # the links name the public URL; the test server listens elsewhere
            path = url.split("/h5/", 1)[1]
            async with http.get(f"{backoffice.http_client.base_url}/h5/{path}") as resp:
                assert resp.status == 200
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    assert await step("agreements_read", True, dispatcher, asked, "reset_password") == {"agreements_read": None}
    assert "需至少阅读10秒" in texts(dispatcher)
    with backoffice.db.session() as s:  # ten seconds later, by the server's records
        for reading in s.execute(select(AgreementReading)).scalars():
            reading.opened_at = reading.opened_at - timedelta(seconds=11)
    asked = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    assert await step("agreements_read", True, dispatcher, asked, "reset_password") == {"agreements_read": True}
    assert "签署验证码已发送至 138****0001" in texts(dispatcher)
    code = last_code(backoffice, "13800000001")
    signing = form_tracker("reset_password_form", slots={"requested_slot": "sign_code"})
    assert await step("sign_code", code, dispatcher, signing, "reset_password") == {"sign_code": "signed"}
    assert texts(dispatcher).count("/h5/agreements/pdf/") == 2
    assert backoffice.agreements.missing("80010001", "reset_password") == []
    # signed: the signing steps are no longer needed for a new request
    assert await agreement_slots(turn(dispatcher, form_tracker("reset_password_form"), "reset_password")) == []


async def test_declining_the_agreements_ends_the_business(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    t = form_tracker("reset_password_form", slots={"requested_slot": "agreements_read"})
    result = await step("agreements_read", False, dispatcher, t, "reset_password")
    assert result == {"agreements_read": False, "step_outcome": "agreements_declined"}
    assert "本次重置密码无法继续" in texts(dispatcher)
    events = await SUBMIT["reset_password"]().run(dispatcher, tracker(slots={"step_outcome": "x"}), DOMAIN)
    assert SlotSet("password_type", None) in events


async def test_view_agreements_lists_and_offers_missing(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")
    view = turn(dispatcher, form_tracker("view_agreements_form"), "view_agreements")
    assert await agreement_slots(view) == ["agreements_read", "sign_code"]
    t = form_tracker("view_agreements_form", slots={"requested_slot": None})
    await ActionAskAgreementsRead().run(dispatcher, t, DOMAIN)
    assert "您目前没有在掌厅签署的协议" in texts(dispatcher) and "个人信息处理授权书" in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionAskAgreementsRead().run(dispatcher, form_tracker("view_agreements_form",
                                                                 events=asked_when_written("agreements_read")), DOMAIN)
    assert "阅读完毕后回复" in texts(dispatcher) and "http" not in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionViewAgreementsSubmit().run(dispatcher, tracker(slots={"step_outcome": None}), DOMAIN)
    assert "您目前没有在掌厅签署的协议" in texts(dispatcher)


async def test_login_reminds_of_a_temporary_password(backoffice, dispatcher):
    """After an approved 重置密码 the login's success message carries the must-change reminder."""
    from tests.unit.backoffice.business_steps import pass_business_steps

    backoffice.agreements.requirements["reset_password"] = [{"codes": []}]
    await pass_business_steps(backoffice, "s0", "80010001", "reset_password")
    view, _ = backoffice.applications.open("reset_password", "80010001", "s0", "rest", {"password_type": "交易密码"},
                                           submit=True)
    backoffice.applications.approve(view["id"], "alice")
    t = await typed_account(dispatcher, "80010001")
    await step("phone_number", "13800000001", dispatcher, t)
    assert await step("otp_code", last_code(backoffice, "13800000001"), dispatcher, t) == {"otp_code": "verified"}
    dispatcher.messages.clear()
    assert await step("privacy_agreed", True, dispatcher, t) == {"privacy_agreed": True, "logged_in": True}
    lines = texts(dispatcher).split("\n")
    assert lines[0] == "登录成功！" and "交易密码已重置为临时密码" in lines[1] and "立即修改" in lines[1]


async def test_naming_another_business_with_steps_done_asks_first(backoffice, dispatcher):
    """In 账户解锁 with the face check done, 「算了，我要重置密码」 asks before leaving; 否 keeps the business, 是
    switches; the business left is offered again when the other one ends."""
    from bot.actions.forms import FORMS
    from bot.actions.submit import resume_offer

    log_in(backoffice, "s1", "80010002", "13800000002")
    backoffice.accounts.bind_device("80010002", "s1")
    unlock = next(f for f in FORMS if f.business.code == "unlock_account")()

    def said_(text, intent, **slots):
        t = form_tracker("unlock_account_form", text=text, intent=intent,
                         slots={"requested_slot": "business_code", "id_front": "read", "id_back": "read",
                                "id_confirmed": True, "business_face": "passed", **slots})
        t.latest_action_name = "action_listen"
        return t

    events = await unlock.run(dispatcher, said_("算了，我要重置密码", "reset_password"), DOMAIN)
    assert SlotSet("switch_to", "reset_password") in events and events[-1] == SlotSet("requested_slot",
                                                                                       "switch_confirmed")
    t = said_("否", "deny", switch_to="reset_password")
    t.slots["requested_slot"] = "switch_confirmed"
    events = await unlock.run(dispatcher, t, DOMAIN)
    assert SlotSet("switch_to", None) in events and events[-1] == SlotSet("requested_slot", "business_code")
    assert "继续办理账户解锁" in texts(dispatcher)
    t = said_("是", "affirm", switch_to="reset_password")
    t.slots["requested_slot"] = "switch_confirmed"
    events = await unlock.run(dispatcher, t, DOMAIN)
    assert SlotSet("step_outcome", "switched") in events
    ended = form_tracker("unlock_account_form", slots={"step_outcome": "switched", "switch_to": "reset_password"})
    events = await SUBMIT["unlock_account"]().run(dispatcher, ended, DOMAIN)
    assert SlotSet("resume_business", "unlock_account") in events
    assert events[-1].get("event") == "followup" and events[-1].get("name") == "reset_password_form"
    dispatcher.messages.clear()
    offered = resume_offer(turn(dispatcher, tracker(slots={"resume_business": "unlock_account"}), "reset_password"))
    assert offered == [SlotSet("resume_business", None)] and "未办完的账户解锁" in texts(dispatcher)
    assert dispatcher.messages[-1]["buttons"][0]["payload"] == "/unlock_account"


async def test_a_question_of_the_faq_in_a_business_is_answered_and_the_step_asked_again(backoffice, dispatcher):
    """At 账户解锁's code step, 「解锁要多长时间」 (the selector's faq/unlock_needs) gets its answer with its date, the
    code is asked again, and nothing of the business is lost or taken as a wrong code."""
    from bot.actions.forms import FORMS

    log_in(backoffice, "s1", "80010002", "13800000002")
    backoffice.accounts.bind_device("80010002", "s1")
    unlock = next(f for f in FORMS if f.business.code == "unlock_account")()
    t = form_tracker("unlock_account_form", text="解锁要多长时间", intent="faq",
                     slots={"requested_slot": "business_code", "id_front": "read", "id_back": "read",
                            "id_confirmed": True, "business_face": "passed"})
    t.latest_action_name = "action_listen"
    t.latest_message["response_selector"] = {"faq": {"response": {"utter_action": "utter_faq/unlock_needs"}}}
    events = await unlock.run(dispatcher, t, DOMAIN)
    assert "人脸认证和短信验证" in texts(dispatcher) and "更新于" in texts(dispatcher)
    assert "验证码不正确" not in texts(dispatcher)
    assert SlotSet("business_code", None) in events and events[-1] == SlotSet("requested_slot", "business_code")
    assert not any(e.get("name") in ("business_face", "step_outcome") for e in events)


async def test_a_button_title_typed_is_the_steps_answer_not_a_switch(backoffice, dispatcher):
    """「去绑定」 typed at the gate's bind step may be read by NLU as 绑定设备: it is still the button's answer."""
    from bot.actions.forms import FORMS

    log_in(backoffice, "s1", "80010002", "13800000002")
    unlock = next(f for f in FORMS if f.business.code == "unlock_account")()
    t = form_tracker("unlock_account_form", text="去绑定", intent="bind_device", slots={"requested_slot": "bind_go"})
    t.latest_action_name = "action_listen"
    events = await unlock.run(dispatcher, t, DOMAIN)
    assert not any(e.get("name") in ("switch_to", "step_outcome") and e.get("value") for e in events), events
    assert "改办" not in texts(dispatcher)
