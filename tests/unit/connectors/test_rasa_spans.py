"""The Rasa methods connectors/rasa_spans.py wraps (tracing on) exist with the signatures it relies on; with tracing
off nothing is wrapped. The spans themselves are checked on the real stack (tests/e2e/test_tracing.py)."""
from __future__ import annotations

import inspect

from rasa.core.processor import MessageProcessor

from connectors import rasa_spans

EXPECTED = {  # method: (coroutine?, parameters after self)
    "parse_message": (True, ["message", "tracker", "only_output_properties"]),
    "_predict_next_with_tracker": (False, ["tracker"]),
    "_run_action": (True, ["action", "tracker", "output_channel", "nlg", "prediction"]),
    "fetch_tracker_and_update_session": (True, ["sender_id", "output_channel", "metadata"]),
    "save_tracker": (True, ["tracker"]),
}


def test_the_wrapped_methods_are_pinned():
    assert set(EXPECTED) == set(rasa_spans.WRAPPED)
    for method, (coroutine, params) in EXPECTED.items():
        function = inspect.unwrap(getattr(MessageProcessor, method))
        assert inspect.iscoroutinefunction(function) is coroutine, method
        assert list(inspect.signature(function).parameters)[1:] == params, method


def test_nothing_is_wrapped_while_tracing_is_off(monkeypatch):
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    before = {m: getattr(MessageProcessor, m) for m in EXPECTED}
    assert rasa_spans.setup() is False
    assert {m: getattr(MessageProcessor, m) for m in EXPECTED} == before


def test_nlu_attributes_are_names_and_numbers_only():
    parse = {"text": "我的手机是13800000001", "intent": {"name": "inform", "confidence": 0.61},
             "entities": [{"entity": "phone_number", "value": "13800000001"}]}
    assert rasa_spans._nlu(parse) == {"rasa.intent": "inform", "rasa.intent_confidence": 0.61}
