"""The 微信客服 callback and the handling of pulled messages under random, malformed and hostile input."""
from __future__ import annotations

import asyncio
import time

from hypothesis import given
from hypothesis import strategies as st

from connectors import wecom_wire
from connectors.wecom_api import KfClient
from connectors.wecom_bridge import WeComBridge
from connectors.wecom_metrics import WeComMetrics
from connectors.wecom_pull import message_sender
from connectors.wecom_settings import WeComSettings
from connectors.wecom_store import MemoryWeComStore
from tests.fuzz.test_fuzz_wechat import BODIES, TEXT, FakeBackoffice, _bot

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SETTINGS = WeComSettings(corp_id="wwfuzz", secret="s", token="t", aes_key=AES_KEY,
                         api_base="http://127.0.0.1:9/cgi-bin/", handoff="wecom", production=False)
CRYPTO = wecom_wire.make_crypto("t", AES_KEY, "wwfuzz")
_loop = asyncio.new_event_loop()


class RecordingPuller:
    """Stands in for the puller: the callback's only effect is this trigger."""

    def __init__(self):
        self.triggers = []

    async def trigger(self, kfid, token=None):
        self.triggers.append((kfid, token))


def bridge(puller=None):
    metrics = WeComMetrics()
    client = KfClient(SETTINGS, metrics=metrics, backoff=())  # nothing listens on port 9: every call fails fast
    return WeComBridge(SETTINGS, client=client, store=MemoryWeComStore(), backoffice=FakeBackoffice(), bot=_bot,
                       metrics=metrics, puller=puller or RecordingPuller())


CALLBACK = bridge()


@given(body=BODIES, encrypt=st.booleans(), signed=st.booleans(),
       extra=st.dictionaries(st.sampled_from(["msg_signature", "timestamp", "nonce", "echostr"]), TEXT, max_size=2))
def test_callback_answers_every_body_without_crashing(fuzzed, body, encrypt, signed, extra):
    """Anything as the (decrypted) event, correctly encrypted and signed or not: 200/400/403, never an exception;
    a trigger only with a usable account id."""
    query = {}
    if encrypt:
        # (what WeCom encrypts is small; an oversized plain body is tried unencrypted)
        query, body = wecom_wire.callback_request(CRYPTO, body[:16384].decode("utf-8", "replace"))
        if not signed:
            query["msg_signature"] = "0" * 40
    query.update(extra)
    before = len(CALLBACK.puller.triggers)
    with fuzzed:
        resp = _loop.run_until_complete(CALLBACK.receive(query, body))
    assert resp.status in (200, 400, 403)
    for kfid, token in CALLBACK.puller.triggers[before:]:
        assert resp.status == 200 and kfid and ":" not in kfid and not any(c.isspace() for c in kfid)


VALUES = st.one_of(TEXT, st.integers(-5, 10 ** 12), st.none(), st.lists(TEXT, max_size=2),
                   st.dictionaries(st.sampled_from(["content", "media_id", "event_type", "welcome_code",
                                                    "external_userid", "open_kfid", "menu_id"]), TEXT, max_size=3))
MESSAGES = st.fixed_dictionaries(
    {"msgid": TEXT, "origin": st.sampled_from([3, 4, 5, "3", None])},
    optional={"msgtype": st.sampled_from(["text", "image", "video", "voice", "event", "file", "location", "", "x"]),
              "external_userid": TEXT, "open_kfid": TEXT, "send_time": st.one_of(st.integers(0, 2 ** 40), TEXT),
              "text": VALUES, "image": VALUES, "video": VALUES, "event": VALUES})
HANDLER = bridge()


@given(msg=MESSAGES)
def test_pulled_messages_of_any_shape_are_handled_or_ignored(fuzzed, msg):
    """What sync_msg might return: no exception, whatever the shape (WeCom unreachable: failures are held)."""
    sender = message_sender(msg) or "wecom:wkfuzz:wmfuzz"
    HANDLER.store = HANDLER.outbound.store = MemoryWeComStore()  # each input on its own (held replies pile up)
    with fuzzed:
        try:
            _loop.run_until_complete(HANDLER.handle(sender, msg))
        except (ValueError, TypeError, AttributeError, KeyError) as exc:  # a crash the worker would only log
            raise AssertionError(f"{exc.__class__.__name__} on {msg!r}") from exc


def test_a_real_callback_still_triggers_a_pull():
    puller = RecordingPuller()
    live = bridge(puller)
    query, body = wecom_wire.callback_request(CRYPTO, wecom_wire.kf_event_xml("wwfuzz", "wkLive01", "ENCtok",
                                                                              int(time.time())))
    resp = _loop.run_until_complete(live.receive(query, body))
    assert resp.status == 200 and puller.triggers == [("wkLive01", "ENCtok")]
