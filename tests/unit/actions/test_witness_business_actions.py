"""休眠账户激活 and 在线销户 with the shared witness step, against a live in-process back-office (real WitnessService)."""
from rasa_sdk.events import SlotSet

from bot.actions.ask import ActionAskWitness
from bot.actions.common import requester
from bot.actions.steps import CATALOGUE
from bot.actions.steps.plan import required_slots
from bot.actions.steps.witness import witness_slots
from bot.actions.submit import SUBMITS
from bot.actions.witness import ActionWitnessUpdate
from tests.unit.actions.conftest import DOMAIN, step, tracker, turn
from tests.unit.actions.test_application_actions import asked_when_written, form_tracker, log_in, texts

ACTIVATE, CLOSE = "activate_dormant_account", "close_account"
ACTIVATE_FORM, CLOSE_FORM = "activate_dormant_account_form", "close_account_form"
SLOTS = ["id_front", "id_back", "id_confirmed", "witness", "agreements_read", "sign_code"]
SUBMIT = {cls.business.code: cls for cls in SUBMITS}


async def required(dispatcher, business, t):
    return await required_slots(turn(dispatcher, t, business))


def answer(slot, dispatcher, t, business=ACTIVATE):
    return CATALOGUE[slot].answer(turn(dispatcher, t, business))


def decide(svc, sender, business, passed, reason=None):
    witness_id = svc.witness.status(sender, business)["witness_id"]
    return svc.witness.decide(witness_id, "alice", passed, notes="核实", reason=reason, any_staff=True)


async def test_activation_only_for_a_dormant_account(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010001", "13800000001")  # normal
    t = form_tracker(ACTIVATE_FORM)
    assert await required(dispatcher, ACTIVATE, t) == []  # before the gate (this device is not bound) asks anything
    await SUBMIT[ACTIVATE]().run(dispatcher, tracker(), DOMAIN)
    assert "不是休眠账户" in texts(dispatcher) and not backoffice.applications.list()

    log_in(backoffice, "s2", "80010003", "13800000003")  # dormant, not bound, no ID on file
    steps = await required(dispatcher, ACTIVATE, form_tracker(ACTIVATE_FORM, sender="s2"))
    assert steps[0] == "bind_go" and steps[-6:] == SLOTS


async def test_closure_preconditions_explained_before_any_step(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010007", "13800000007")  # positions and a balance
    assert await required(dispatcher, CLOSE, form_tracker(CLOSE_FORM)) == []
    events = await SUBMIT[CLOSE]().run(dispatcher, tracker(), DOMAIN)
    text = texts(dispatcher)
    assert "暂不满足在线销户条件" in text and "未平仓的持仓" in text and "152,300.50元" in text and "银期转账" in text
    assert SlotSet("witness", None) in events and not backoffice.applications.list()


async def test_witness_step_link_waiting_then_passed(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010003", "13800000003")
    backoffice.accounts.bind_device("80010003", "s1")
    asked = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness", "id_confirmed": True},
                         events=asked_when_written("id_confirmed"))
    await ActionAskWitness().run(dispatcher, asked, DOMAIN)
    text = texts(dispatcher)
    assert "请点击链接进入视频见证：http://" in text and "/h5/witness/" in text and "等待 7 秒" in text
    assert "排队第1位" in text
    witness_id = backoffice.witness.status("s1", "activate_dormant_account")["witness_id"]
    assert backoffice.witness.get(witness_id)["status"] == "waiting"

    # "好了" before the verdict: the step says where the witness stands; the ask action adds nothing
    typed = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness"}, text="好了", intent="affirm",
                         events=asked_when_written("witness"))
    assert answer("witness", dispatcher, typed) == "check"
    dispatcher.messages.clear()
    assert await step("witness", "check", dispatcher, typed, ACTIVATE) == {"witness": None}
    assert "见证尚未完成" in texts(dispatcher) and "第1位" in texts(dispatcher)
    dispatcher.messages.clear()
    await ActionAskWitness().run(dispatcher, typed, DOMAIN)
    assert dispatcher.messages == []  # no second link
    backoffice.witness.join(witness_id, "alice")
    await step("witness", "check", dispatcher, typed, ACTIVATE)
    assert "工作人员正在与您视频通话" in texts(dispatcher)

    # the verdict, then the back-office's nudge (witness_done) continues the business
    decide(backoffice, "s1", "activate_dormant_account", True)
    nudge = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness"}, text="EXTERNAL: witness_done",
                         intent="witness_done", events=asked_when_written("witness"))
    assert answer("witness", dispatcher, nudge) == "check"
    dispatcher.messages.clear()
    assert await step("witness", "check", dispatcher, nudge, ACTIVATE) == {"witness": "passed"}
    assert "视频见证已通过" in texts(dispatcher)
    # the next step: the agreements of an account opened before 2021-08-02
    backoffice.accounts.set_signature("80010003", "0" * 32)  # the gate's signature part is done
    steps = await required(dispatcher, ACTIVATE, form_tracker(ACTIVATE_FORM, slots={"witness": "passed",
                                                                                    "id_confirmed": True}))
    assert steps == ["id_front", "id_back", "id_confirmed", "witness", "agreements_read", "sign_code"]


async def test_witness_done_is_no_answer_to_other_steps(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010003", "13800000003")
    nudge = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "sign_code"}, text="EXTERNAL: witness_done",
                         intent="witness_done")
    assert answer("sign_code", dispatcher, nudge) is None
    assert answer("witness", dispatcher, form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness"},
                                                      intent="cancel", text="取消")) is None
    await ActionWitnessUpdate().run(dispatcher, nudge, {})
    assert dispatcher.messages == []  # the step being asked continues with the customer's next answer
    await ActionWitnessUpdate().run(dispatcher, tracker(intent="witness_done"), {})
    assert "视频见证结果已更新" in texts(dispatcher)


async def test_failed_witness_ends_the_business(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010009", "13800000009")
    backoffice.witness.open("s1", "80010009", "close_account")
    decide(backoffice, "s1", "close_account", False, reason="not_voluntary")
    nudge = form_tracker(CLOSE_FORM, slots={"requested_slot": "witness"}, intent="witness_done")
    result = await step("witness", "check", dispatcher, nudge, CLOSE)
    assert result == {"witness": None, "step_outcome": "witness_failed"}
    assert "本次在线销户无法继续" in texts(dispatcher) and "转人工" in texts(dispatcher)
    dispatcher.messages.clear()
    events = await SUBMIT[CLOSE]().run(dispatcher, tracker(slots={"step_outcome": "witness_failed"}), DOMAIN)
    assert SlotSet("step_outcome", None) in events and dispatcher.messages == []
    assert not backoffice.applications.list()


async def test_expired_witness_is_queued_again(backoffice, dispatcher):
    log_in(backoffice, "s1", "80010004", "13800000004")
    first, _ = backoffice.witness.open("s1", "80010004", "activate_dormant_account")
    backoffice.witness.cancel(first["id"], "alice")
    typed = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness"}, text="好了", intent="affirm")
    assert await step("witness", "check", dispatcher, typed, ACTIVATE) == {"witness": None}
    assert "已为您重新排队" in texts(dispatcher) and "/h5/witness/" in texts(dispatcher)
    assert backoffice.witness.status("s1", "activate_dormant_account")["witness_id"] != first["id"]


async def test_a_passed_witness_is_not_asked_again(backoffice, dispatcher):
    """Cancelled after the witness and started again: the passed witness still waits for its application."""
    log_in(backoffice, "s1", "80010004", "13800000004")
    backoffice.witness.open("s1", "80010004", "activate_dormant_account")
    assert await witness_slots(turn(dispatcher, form_tracker(ACTIVATE_FORM), ACTIVATE), before=[]) == ["witness"]
    decide(backoffice, "s1", "activate_dormant_account", True)
    assert await witness_slots(turn(dispatcher, form_tracker(ACTIVATE_FORM), ACTIVATE), before=[]) == []
    # not looked up while an earlier step is still open
    assert await witness_slots(turn(dispatcher, form_tracker(ACTIVATE_FORM), ACTIVATE),
                               before=["id_front"]) == ["witness"]


async def test_cancel_while_waiting_leaves_the_witness_queue(backoffice, dispatcher):
    from bot.actions.dialogue import ActionCancel

    log_in(backoffice, "s1", "80010003", "13800000003")
    waiting, _ = backoffice.witness.open("s1", "80010003", "activate_dormant_account")
    t = form_tracker(ACTIVATE_FORM, slots={"requested_slot": "witness"}, intent="cancel", text="取消")
    events = await ActionCancel().run(dispatcher, t, DOMAIN)
    assert SlotSet("witness", None) in events
    assert backoffice.witness.get(waiting["id"])["status"] == "cancelled"


def test_requester_carries_the_address_of_the_latest_message_only():
    rest = {"event": "user", "text": "13800000001", "input_channel": "rest",
            "metadata": {"client_ip": "203.0.113.7", "app_version": "5.2"}}
    assert requester(tracker(events=[rest])) == {"sender": "s1", "client_ip": "203.0.113.7"}
    # a later message without one (WeChat, the back-office's nudge) carries none: no stale address is reused
    nudge = {"event": "user", "text": "EXTERNAL: witness_done", "input_channel": "collector", "metadata": {}}
    assert requester(tracker(events=[rest, nudge])) == {"sender": "s1"}
    assert requester(tracker(events=[{"event": "user", "metadata": "odd"}])) == {"sender": "s1"}
