import re

from rasa_sdk.events import ActiveLoop, SlotSet

from bot.actions.dialogue import ActionCancel, ActionFallback, ActionHelp
from bot.actions.login import ActionCheckSession, ActionLoginSubmit
from bot.actions.forms import FORMS
from tests.unit.actions.conftest import DOMAIN, said, step, tracker, typed_account


def texts(dispatcher):
    return said(dispatcher)




async def test_investor_type(dispatcher):
    assert await step("investor_type", "投资者", dispatcher, tracker()) == {"investor_type": "投资者"}
    other = await step("investor_type", "我是机构客户", dispatcher, tracker())
    assert other == {"investor_type": "other", "step_outcome": "other_type"}
    assert await step("investor_type", "🙂", dispatcher, tracker()) == {"investor_type": None}
    assert "投资者" in texts(dispatcher)


async def test_account_number_format(backoffice, dispatcher):
    # the back-office keeps the number; the conversation only its mask
    assert await step("account_number", "80010001", dispatcher, tracker()) == {"account_number": "80**0001"}
    for bad in ("abc", "8001", "80010001x", "1" * 2000):
        assert await step("account_number", bad, dispatcher, tracker()) == {"account_number": None}
    assert "8至10位数字" in texts(dispatcher)


async def test_phone_sends_code_and_keeps_only_the_mask(backoffice, dispatcher):
    t = await typed_account(dispatcher, "80010001")
    result = await step("phone_number", "13800000001", dispatcher, t)
    assert result == {"phone_number": "138****0001"}
    assert "138****0001" in texts(dispatcher)
    assert re.search(r"验证码\d{6}", backoffice.sms.messages("13800000001")[-1]["text"])


async def test_mismatch_does_not_say_which_was_wrong(backoffice, dispatcher):
    t = await typed_account(dispatcher, "80010001")
    assert await step("phone_number", "13900000000", dispatcher, t) == {
        "phone_number": None, "account_number": None}
    unknown = await typed_account(dispatcher, "80019999", sender="s2")
    first = texts(dispatcher)
    dispatcher.messages.clear()
    await step("phone_number", "13800000001", dispatcher, unknown)
    assert texts(dispatcher) == first and "不匹配" in first


async def test_short_phone_is_reprompted_without_calling_the_backoffice(backoffice, dispatcher):
    t = await typed_account(dispatcher, "80010001")
    assert await step("phone_number", "1380000000", dispatcher, t) == {"phone_number": None}
    assert backoffice.sms.messages() == []


async def test_code_verification_and_submit(backoffice, dispatcher):
    t = await typed_account(dispatcher, "80010001")
    await step("phone_number", "13800000001", dispatcher, t)
    code = re.search(r"验证码(\d{6})", backoffice.sms.messages("13800000001")[-1]["text"]).group(1)
    wrong = "000000" if code != "000000" else "111111"
    assert await step("otp_code", wrong, dispatcher, t) == {"otp_code": None}
    assert "还可尝试4次" in texts(dispatcher)
    assert await step("otp_code", "12345", dispatcher, t) == {"otp_code": None}
    assert await step("otp_code", code, dispatcher, t) == {"otp_code": "verified"}
    assert await step("privacy_agreed", True, dispatcher, t) == {"privacy_agreed": True, "logged_in": True}
    assert "登录成功" in texts(dispatcher)
    done = tracker(slots={"account_number": "80**0001", "privacy_agreed": True, "logged_in": True})
    events = await ActionLoginSubmit().run(dispatcher, done, DOMAIN)
    assert SlotSet("account_number", None) in events and SlotSet("step_outcome", None) in events
    assert "80**0001" in texts(dispatcher)
    check = await ActionCheckSession().run(dispatcher, tracker(), {})
    assert check == [SlotSet("logged_in", True)]


async def test_privacy_refusal(backoffice, dispatcher):
    t = await typed_account(dispatcher, "80010001")
    await step("phone_number", "13800000001", dispatcher, t)
    code = re.search(r"验证码(\d{6})", backoffice.sms.messages("13800000001")[-1]["text"]).group(1)
    await step("otp_code", code, dispatcher, t)
    refused = await step("privacy_agreed", False, dispatcher, t)
    assert refused == {"privacy_agreed": False, "step_outcome": "privacy_refused"}
    assert dispatcher.messages[-1]["response"] == "utter_privacy_refused"
    assert backoffice.login.session("s1") is None


async def test_backoffice_down_gives_a_busy_answer(dispatcher, monkeypatch):
    from bot.actions.backoffice import BackofficeClient

    monkeypatch.setattr("bot.actions.backoffice.client", BackofficeClient(base_url="http://127.0.0.1:9", token="x"))
    t = tracker(slots={"account_number": "80**0001"})
    assert await step("phone_number", "13800000001", dispatcher, t) == {"phone_number": None}
    assert dispatcher.messages[-1]["response"] == "utter_system_busy"


async def test_cancel_clears_the_form(backoffice, dispatcher):
    domain = {"forms": {"login_form": {"required_slots": ["investor_type", "account_number"]}}}
    t = tracker(active_loop="login_form", slots={"requested_slot": "account_number"})
    events = await ActionCancel().run(dispatcher, t, domain)
    assert events[0] == ActiveLoop(None)
    assert SlotSet("account_number", None) in events and SlotSet("investor_type", None) in events
    assert dispatcher.messages[-1]["response"] == "utter_cancelled"


def form_call(text, intent, requested, **slots):
    t = tracker(text=text, intent=intent, active_loop="login_form", slots={"requested_slot": requested, **slots})
    t.latest_action_name = "action_listen"
    return t


async def test_the_form_handles_what_is_not_an_answer(backoffice, dispatcher):
    """Help, 重新发送, small talk and misunderstandings are the form's: it answers and asks the step again;
    cancel, 转人工, goodbye and logout are left to the rules (the form returns nothing: rejected)."""
    form = next(f for f in FORMS if f.business.code == "login")()
    events = await form.run(dispatcher, form_call("验证码是什么", "help", "otp_code"), DOMAIN)
    assert "6位数字" in texts(dispatcher)
    assert SlotSet("otp_code", None) in events and events[-1] == SlotSet("requested_slot", "investor_type")
    for text, intent, answer in (("你好", "greet", "继续刚才的步骤"), ("🙂", "out_of_scope", "没有理解"),
                                 ("[图片]", "upload_image", "没有理解")):
        dispatcher.messages.clear()
        events = await form.run(dispatcher, form_call(text, intent, "privacy_agreed"), DOMAIN)
        assert answer in texts(dispatcher) and SlotSet("privacy_agreed", None) in events
    dispatcher.messages.clear()
    await form.run(dispatcher, form_call("重新发送", "resend_code", "otp_code"), DOMAIN)
    assert texts(dispatcher) == "本次办理已超时，请回复“取消”后重新开始。"  # no login under way for this sender
    for intent in ("cancel", "request_human", "goodbye", "logout"):
        assert await form.run(dispatcher, form_call("算了", intent, "otp_code"), DOMAIN) == []


async def test_help_outside_a_business(dispatcher):
    await ActionHelp().run(dispatcher, tracker(), DOMAIN)
    assert "账户解锁、重置密码" in texts(dispatcher)


async def test_third_misunderstanding_goes_to_a_human(backoffice, dispatcher):
    fallback = {"event": "user", "parse_data": {"intent": {"name": "nlu_fallback"}}}
    t = tracker(intent="nlu_fallback", events=[fallback, {"event": "bot"}, fallback, fallback])
    await ActionFallback().run(dispatcher, t, {})
    assert "人工客服" in texts(dispatcher)
    assert backoffice.conversations.state("s1") == "waiting"


async def test_an_answer_with_no_conversation_before_it_says_the_record_is_gone(dispatcher):
    # e.g. a code sent after the conversation store lost its data (Redis restarted without persistence)
    code = {"event": "user", "parse_data": {"intent": {"name": "inform"}}}
    await ActionFallback().run(dispatcher, tracker(intent="inform", events=[{"event": "session_started"}, code]), {})
    assert "没有找到您之前的对话记录" in texts(dispatcher)
    dispatcher.messages.clear()
    greet = {"event": "user", "parse_data": {"intent": {"name": "greet"}}}
    await ActionFallback().run(dispatcher, tracker(intent="inform", events=[greet, {"event": "bot"}, code]), {})
    assert "请先告诉我您要办理的业务" in texts(dispatcher)


def message(text, intent, requested=None, active=True, entities=(), **slots):
    t = tracker(text=text, intent=intent, active_loop="login_form" if active else None,
                slots={"requested_slot": requested, **slots})
    t.latest_message["entities"] = [{"entity": e, "value": v} for e, v in entities]
    t.latest_action_name = "action_listen" if active else "action_check_session"
    return t


def login_form():
    return next(f for f in FORMS if f.business.code == "login")()


async def test_several_answers_in_one_message_are_each_taken(backoffice, dispatcher):
    """「我要登录，资金账号…，手机号…」 as the first message: the login starts with both answers taken (validated as if
    typed at their steps) and only the code is asked."""
    t = message("我要登录，资金账号80010001，手机号13800000001", "login", active=False,
                entities=[("account_number", "80010001"), ("phone_number", "13800000001")])
    events = await login_form().run(dispatcher, t, DOMAIN)
    assert SlotSet("investor_type", "投资者") in events and SlotSet("account_number", "80**0001") in events
    assert SlotSet("phone_number", "138****0001") in events and events[-1] == SlotSet("requested_slot", "otp_code")
    assert "验证码已发送至 138****0001" in texts(dispatcher) and len(backoffice.sms.messages("13800000001")) == 1


async def test_a_wrong_number_in_a_message_is_told_like_a_typed_one(backoffice, dispatcher):
    t = message("登录 账号80010001 手机13900000000", "login", active=False,
                entities=[("account_number", "80010001"), ("phone_number", "13900000000")])
    events = await login_form().run(dispatcher, t, DOMAIN)
    assert "不匹配" in texts(dispatcher) and events[-1] == SlotSet("requested_slot", "account_number")


async def test_forgetting_the_account_number_switches_to_recovery(backoffice, dispatcher):
    events = await login_form().run(dispatcher, message("资金账号我忘了", "inform", "account_number",
                                                        investor_type="投资者"), DOMAIN)
    assert SlotSet("step_outcome", "switched") in events and SlotSet("switch_to", "recover_account") in events
    assert "找回账户" in texts(dispatcher) and events[-1] == SlotSet("requested_slot", None)


async def test_a_changed_phone_is_offered_a_human_and_the_step_stays(backoffice, dispatcher):
    events = await login_form().run(dispatcher, message("我手机号换了", "inform", "phone_number",
                                                        investor_type="投资者", account_number="80**0001"), DOMAIN)
    assert "转人工" in texts(dispatcher) and SlotSet("phone_number", None) in events
    assert not any(e.get("name") == "step_outcome" for e in events)


async def test_a_question_of_the_faq_is_answered_and_the_step_asked_again(backoffice, dispatcher):
    t = message("夜盘几点开始", "faq", "account_number", investor_type="投资者")
    t.latest_message["response_selector"] = {"faq": {"response": {"utter_action": "utter_faq/night_session"}}}
    events = await login_form().run(dispatcher, t, DOMAIN)
    assert dispatcher.messages[0]["response"] == "utter_faq/night_session"
    assert "8至10位" not in texts(dispatcher)  # never taken for a wrong account number
    assert SlotSet("account_number", None) in events and events[-1] == SlotSet("requested_slot", "account_number")


def test_the_customers_answer_is_told_from_rasas_temporary_validation_tracker():
    """Rasa validates on a temporary tracker ending with the form's own ActionExecuted (and the events the form
    made so far): latest_action_name there is the form. What came before that marker tells the story."""
    from bot.actions.forms import before_validation

    def rasa_tracker(events):
        t = tracker(active_loop="login_form")
        t.events, t.latest_action_name = events, "login_form"
        return t

    marker = {"event": "action", "name": "login_form"}
    answered = [{"event": "action", "name": "action_check_session"}, {"event": "active_loop", "name": "login_form"},
                {"event": "action", "name": "login_form"}, {"event": "action", "name": "action_listen"},
                {"event": "user", "text": "投资者"}, {"event": "slot", "name": "requested_slot"}, marker]
    assert before_validation(rasa_tracker(answered), "login_form") == (True, True)
    activation = [{"event": "action", "name": "action_listen"}, {"event": "user", "text": "我要登录"},
                  {"event": "action", "name": "action_check_session"}, {"event": "active_loop", "name": "login_form"},
                  {"event": "slot", "name": "requested_slot"}, marker]
    assert before_validation(rasa_tracker(activation), "login_form") == (False, False)
    back_after_fallback = answered[:-1] + [{"event": "action", "name": "action_fallback"}, marker]
    assert before_validation(rasa_tracker(back_after_fallback), "login_form") == (True, False)


async def test_a_phone_read_by_nlu_as_a_farewell_is_still_the_answer(backoffice, dispatcher):
    """「+86 138-0000-0001」 may come out of NLU as goodbye (886 is a farewell): six digits or more are an answer."""
    await typed_account(dispatcher, "80010001")
    events = await login_form().run(dispatcher, message("+86 138-0000-0001", "goodbye", "phone_number",
                                                        investor_type="投资者", account_number="80**0001"), DOMAIN)
    assert events  # not rejected: the rules would have ended the login
    assert SlotSet("phone_number", "138****0001") in events, events
    assert await login_form().run(dispatcher, message("886", "goodbye", "phone_number", investor_type="投资者",
                                                      account_number="80**0001"), DOMAIN) == []  # a farewell


async def test_the_investor_type_said_with_the_request_is_taken(backoffice, dispatcher):
    events = await login_form().run(dispatcher, message("投资者登录", "login", active=False), DOMAIN)
    assert SlotSet("investor_type", "投资者") in events and events[-1] == SlotSet("requested_slot", "account_number")
    events = await login_form().run(dispatcher, message("机构投资者登录", "login", active=False), DOMAIN)
    assert events[-1] == SlotSet("requested_slot", "investor_type")
