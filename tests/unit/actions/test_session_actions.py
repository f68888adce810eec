"""action_session_start stays silent during a claim; 转人工 tells the back-office which business was in progress."""
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SessionStarted, SlotSet

from bot.actions.backoffice import BackofficeClient
from bot.actions.handoff import ActionRequestHuman
from bot.actions.session import ActionSessionStart
from tests.unit.actions.conftest import said, tracker

DOMAIN = {"session_config": {"session_expiration_time": 60, "carry_over_slots_to_new_session": True}}


async def test_new_session_during_a_claim_is_paused_again(backoffice, dispatcher, monkeypatch):
    backoffice.conversations.request_human("s1", channel="rest", reason="customer_request", account_number=None)
    backoffice.conversations.claim("s1", "agent1")
    old = tracker(slots={"logged_in": True, "password_type": None})
    events = await ActionSessionStart().run(dispatcher, old, DOMAIN)
    assert events == [SessionStarted(), SlotSet("logged_in", True), ActionExecuted("action_listen"),
                      ConversationPaused()]
    assert dispatcher.messages == []  # no greeting


async def test_new_session_without_an_agent_is_the_default(backoffice, dispatcher, monkeypatch):
    events = await ActionSessionStart().run(dispatcher, tracker(slots={"logged_in": True}), DOMAIN)
    assert events == [SessionStarted(), SlotSet("logged_in", True), ActionExecuted("action_listen")]
    no_carry = {"session_config": {"carry_over_slots_to_new_session": False}}
    events = await ActionSessionStart().run(dispatcher, tracker(slots={"logged_in": True}), no_carry)
    assert events == [SessionStarted(), ActionExecuted("action_listen")]
    backoffice.conversations.request_human("s1", channel="rest", reason="customer_request", account_number=None)
    assert ConversationPaused() not in await ActionSessionStart().run(dispatcher, tracker(), DOMAIN)  # only waiting


async def test_back_office_down_keeps_a_paused_tracker_paused(dispatcher, monkeypatch):
    monkeypatch.setattr("bot.actions.backoffice.client", BackofficeClient(base_url="http://127.0.0.1:1", token="x"))
    paused = Tracker("s1", {}, {"text": "", "intent": {}, "entities": []}, [], True, None, {}, "action_listen")
    assert (await ActionSessionStart().run(dispatcher, paused, DOMAIN))[-1] == ConversationPaused()
    assert ConversationPaused() not in await ActionSessionStart().run(dispatcher, tracker(), DOMAIN)


async def test_request_human_notes_the_business_in_progress(backoffice, dispatcher):
    t = tracker(sender="s7", active_loop="unlock_account_form")
    events = await ActionRequestHuman().run(dispatcher, t, {})
    assert "转接人工客服" in said(dispatcher) and "您是下一位" in said(dispatcher)
    assert backoffice.kv.get("handoff:form:s7") == "unlock_account_form"
    await ActionRequestHuman().run(dispatcher, tracker(sender="s8"), {})  # a second customer waits behind s7
    assert "您前面还有1位客户在等待" in said(dispatcher).split("\n")[-1]
    assert events[0].get("name") is None  # the form itself is closed until the agent hands back
