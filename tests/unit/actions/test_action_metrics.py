"""The action server's counters, from the bodies Rasa sends and the answers it gets."""
from __future__ import annotations

from bot.action_metrics import observe, reads_result
from tests.support.metrics import sample


def _call(action, message_id, requested=None, channel="rest"):
    return {"next_action": action, "sender_id": "rest:m", "tracker": {
        "sender_id": "rest:m", "latest_input_channel": channel, "slots": {"requested_slot": requested},
        "latest_message": {"text": "x", "message_id": message_id}}}


def test_turns_actions_and_step_outcomes():
    turns = sample("hall_turns_total", channel="rest")
    accepted = sample("hall_step_outcomes_total", form="login_form", step="account_number", outcome="accepted")
    retry = sample("hall_step_outcomes_total", form="login_form", step="account_number", outcome="retry")
    calls = sample("hall_actions_total", action="validate_login_form", status="ok")
    observe(_call("validate_login_form", "m-1", "account_number"),
            {"events": [{"event": "slot", "name": "account_number", "value": None}]}, 200, 0.01)
    observe(_call("action_ask_account_number", "m-1", "account_number"), {"events": []}, 200, 0.01)
    observe(_call("validate_login_form", "m-2", "account_number"),
            {"events": [{"event": "slot", "name": "account_number", "value": "80**0001"},
                        {"event": "slot", "name": "requested_slot", "value": "phone_number"}]}, 200, 0.02)
    observe(_call("action_boom", "m-3"), None, 500, 0.5)
    assert sample("hall_turns_total", channel="rest") == turns + 3  # m-1 counted once
    assert sample("hall_step_outcomes_total", form="login_form", step="account_number", outcome="retry") == retry + 1
    assert sample("hall_step_outcomes_total", form="login_form", step="account_number",
                  outcome="accepted") == accepted + 1
    assert sample("hall_actions_total", action="validate_login_form", status="ok") == calls + 2
    assert sample("hall_actions_total", action="action_boom", status="error") >= 1


def test_only_validation_answers_are_parsed_again():
    assert reads_result(_call("validate_login_form", "m-4"))
    assert not reads_result(_call("action_submit_unlock_account", "m-4"))
    assert not reads_result(_call("validate_something", "m-4")) and not reads_result({})
