"""The Rasa speed-ups decide exactly what Rasa 3.6 decides: same valid answers, same errors, same rule states."""
from __future__ import annotations


import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.rule_policy import RulePolicy

from bot import rasa_speedups

VALID = [
    {"events": [], "responses": []},
    {"events": [{"event": "slot", "name": "phone_number", "value": "13800000001", "timestamp": None},
                {"event": "active_loop", "name": "login_form"}],
     "responses": [{"text": "请输入短信中的6位验证码", "buttons": [{"title": "重新发送", "payload": "重新发送"}],
                    "elements": [], "custom": {}, "image": None, "attachment": None, "template": None,
                    "response": None}]},
    {"events": [{"event": "followup", "name": "action_listen"}]},
]
INVALID = [
    {"events": "not a list"},
    {"events": [{"event": "slot"}]},
    {"events": [{"no_event_key": 1}]},
    {"responses": "text"},
    {"events": [{"event": "slot", "name": 3, "value": None}]},
]


@pytest.fixture(scope="module", autouse=True)
def patched():
    assert rasa_speedups.apply()


def expected_error(instance) -> str | None:
    try:
        jsonschema.validate(instance, RemoteAction.action_response_format_spec())
    except jsonschema.ValidationError as exc:
        return exc.message
    return None


def test_valid_answers_pass():
    action = RemoteAction("validate_login_form", None)
    for answer in VALID:
        assert expected_error(answer) is None
        assert action._validate_action_result(answer) is True


@pytest.mark.parametrize("answer", INVALID)
def test_invalid_answers_fail_with_rasas_own_error(answer):
    action = RemoteAction("validate_login_form", None)
    want = expected_error(answer)
    assert want is not None
    with pytest.raises(jsonschema.ValidationError) as caught:
        action._validate_action_result(answer)
    assert caught.value.message.startswith(want + ". Failed to validate Action server response")


def test_rasas_own_rule_key_cache_is_left_alone():
    info = RulePolicy._rule_key_to_state.cache_info()
    assert info.maxsize == 1000  # Rasa's own cache: the 65 generated rules fit in it


@pytest.mark.parametrize("path", sorted(rasa_speedups.FINGERPRINTS))
def test_each_patch_replaces_the_upstream_code_it_was_written_for(path):
    """A Rasa upgrade that changes a function under a patch fails here: re-read the function, port the patch,
    re-measure (docs/performance.md), then update FINGERPRINTS."""
    assert rasa_speedups.fingerprint(rasa_speedups.upstream(path)) == rasa_speedups.FINGERPRINTS[path]
    assert rasa_speedups.unchanged(path)


def test_events_resolve_to_the_same_classes():
    from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

    for _ in range(2):  # first lookup and remembered lookup
        assert Event.resolve_by_type("slot") is SlotSet
        assert Event.resolve_by_type("user") is UserUttered
        assert Event.resolve_by_type("action") is ActionExecuted
        assert Event.resolve_by_type("topic") is None
        assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
        with pytest.raises(ValueError):
            Event.resolve_by_type("no_such_event")
    assert Event.from_parameters({"event": "slot", "name": "x", "value": 1}) == SlotSet("x", 1)


@pytest.mark.asyncio
async def test_endpoint_calls_share_one_kept_alive_connection():
    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    peers = []

    async def webhook(request):
        peers.append(request.transport.get_extra_info("peername"))
        body = await request.json()
        if body.get("fail"):
            return web.json_response({"error": "no"}, status=500)
        if body.get("text"):
            return web.Response(text="plain")
        return web.json_response({"events": [], "echo": body, "token": request.query.get("token")})

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="t0k")
        for i in range(3):
            answer = await endpoint.request(json={"n": i}, method="post")
            assert answer == {"events": [], "echo": {"n": i}, "token": "t0k"}
        assert len(set(peers)) == 1  # one TCP connection for the three calls
        assert await endpoint.request(json={"text": True}, method="post") is None  # not JSON: None, as Rasa
        with pytest.raises(ClientResponseError) as caught:
            await endpoint.request(json={"fail": True}, method="post")
        assert caught.value.status == 500
    finally:
        await endpoint._hall_session[0].close()
        await runner.cleanup()


def test_graph_runner_gives_what_dask_gives():
    import dask
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.graph import GraphComponent, GraphSchema, SchemaNode
    from rasa.engine.runner.dask import DaskGraphRunner

    calls = []

    class Node:  # stands in for GraphNode: called with (name, value) pairs, answers (name, value)
        def __init__(self, name):
            self.name = name

        def __call__(self, *inputs):
            calls.append(self.name)
            if any(v == "boom" for _, v in inputs):
                raise RuntimeError("node failed")
            return self.name, f"{self.name}({','.join(str(v) for _, v in inputs)})"

    def node(**needs):
        return SchemaNode(needs=needs, uses=GraphComponent, constructor_name="create", fn="run", config={})

    # a diamond with an input placeholder, plus a node no target needs
    schema = GraphSchema({"tok": node(message="__message__"), "feat_a": node(t="tok"), "feat_b": node(t="tok"),
                          "clf": node(a="feat_a", b="feat_b"), "unused": node(t="tok")})
    runner = DaskGraphRunner.__new__(DaskGraphRunner)
    runner._graph_schema, runner._execution_context = schema, None
    runner._instantiated_nodes = {name: Node(name) for name in schema.nodes}

    def with_dask(inputs, targets):
        graph = runner._build_dask_graph(schema.minimal_graph_schema(targets))
        runner._add_inputs_to_graph(inputs, graph)
        return dict(dask.get(graph, targets))

    for targets in (["clf"], ["clf", "feat_a"], ["tok"]):
        for _ in range(2):  # the second run uses the remembered schema
            calls.clear()
            got = runner.run({"__message__": "你好"}, targets)
            assert len(calls) == len(set(calls)) and "unused" not in calls  # each needed node once
            assert got == with_dask({"__message__": "你好"}, targets)
    assert runner.run({"__message__": "hi"}, ["clf"])["clf"] == "clf(feat_a(tok(hi)),feat_b(tok(hi)))"
    with pytest.raises(GraphRunError):
        runner.run({"__message__": "boom"}, ["clf"])
