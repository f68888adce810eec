"""The form validation actions read the tracker Rasa really sends them: FormAction builds a temporary tracker
ending with the form's own ActionExecuted, so latest_action_name is the form, not action_listen."""
from pathlib import Path

from rasa.core.actions.forms import FormAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa_sdk import Tracker

from bot.actions.forms import FORMS, before_validation
from tests.unit.actions.conftest import said

ROOT = Path(__file__).resolve().parents[3]
RASA_DOMAIN = Domain.load(str(ROOT / "bot" / "domain"))
LOGIN = next(f for f in FORMS if f.business.code == "login")


def validation_tracker(*after_question) -> Tracker:
    """The login form asked for the login type; then `after_question` happened; Rasa validates."""
    events = [ActionExecuted("action_listen"), UserUttered("我要登录", {"name": "login", "confidence": 1.0}),
              ActionExecuted("login_form"), ActiveLoop("login_form"), SlotSet("requested_slot", "investor_type"),
              *after_question]
    rasa_tracker = DialogueStateTracker.from_events("rest:s1", events, slots=RASA_DOMAIN.slots)
    temporary = FormAction("login_form", None)._temporary_tracker(rasa_tracker, [], RASA_DOMAIN)
    assert temporary.latest_action_name == "login_form"  # what made the bug: never action_listen here
    return Tracker.from_dict(temporary.current_state(EventVerbosity.ALL))


def test_a_customer_message_is_an_answer():
    answer = validation_tracker(ActionExecuted("action_listen"),
                                UserUttered("投资者", {"name": "inform", "confidence": 0.9}))
    assert before_validation(answer, "login_form") == (True, True)
    back = validation_tracker(ActionExecuted("action_listen"), UserUttered("?", {"name": "help", "confidence": 1.0}),
                              ActionExecuted("action_help"))  # the form comes back after a rule's answer
    assert before_validation(back, "login_form") == (True, False)


async def test_the_form_takes_the_answer_rasa_sends(backoffice, dispatcher):
    answer = validation_tracker(ActionExecuted("action_listen"),
                                UserUttered("投资者", {"name": "inform", "confidence": 0.9}))
    events = await LOGIN().run(dispatcher, answer, RASA_DOMAIN.as_dict())
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["investor_type"] == "投资者" and slots["requested_slot"] == "account_number", (slots, said(dispatcher))
