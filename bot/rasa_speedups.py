"""Two hot spots of Rasa 3.6's own per-turn code, removed without changing what Rasa decides.

Profiled with py-spy on our bot under load (bench/profile_turn.py, docs/performance.md):

1. Every answer of the action server is checked with `jsonschema.validate(result, schema)`. That helper
   re-checks the schema against the JSON-Schema meta-schema and builds a new validator on every call:
   ~19 ms of CPU per action call here, 40-45 % of the Rasa server's CPU in our form-heavy bot (a form turn
   makes 1-3 action calls). We check the schema once and reuse the validator: the same schema, the same
   `best_match` error, the same message Rasa appends.
2. (Removed.) RulePolicy's rule-key cache was made unbounded while 308 generated interruption rules
   thrashed it; the forms now handle non-answers themselves and 65 rules remain, well inside Rasa's cache.
3. Every call to the action server opened a new aiohttp session, so a new TCP connection (Rasa's
   `EndpointConfig.request` uses `async with self.session()`). Calls now share one session per endpoint
   and event loop: connections are kept alive and reused. Idle connections are dropped after 2 s, before
   Sanic's 5 s keep-alive on the action server side would close them under a request in flight.
4. Each NLU parse and each action prediction runs Rasa's model graph through `dask.get`, which first prunes
   the graph schema for the targets (a recursive walk) and orders the tasks: ~15 % of the server's CPU in
   our bot for a graph of a dozen nodes. The pruned schema is kept per target list and the graph is run by
   a direct depth-first evaluation with the same semantics as dask's synchronous scheduler (each node once,
   after its dependencies; inputs are literal (name, value) pairs; errors raised unchanged).
5. Every event read from the tracker store is resolved to its class by walking all `Event` subclasses
   (`Event.resolve_by_type`): a few percent of each turn. Found classes are remembered by type name;
   unknown names still go through Rasa's own lookup (and its errors).

Applied by scripts/rasa_run.py before Rasa's CLI starts (Sanic workers inherit it). Each patch replaces an
upstream function whose source is pinned by a fingerprint (FINGERPRINTS): when Rasa's code under a patch
changes, that patch is not applied (a warning says which) and tests/unit/test_rasa_speedups.py fails.
"""
from __future__ import annotations

import hashlib
import inspect
import logging

log = logging.getLogger(__name__)

_applied = False

# sha256 (first 16 hex digits) of the source of each upstream function a patch replaces, as in Rasa 3.6.21
FINGERPRINTS = {
    "rasa.core.actions.action.RemoteAction._validate_action_result": "f8cdb4be68123961",
    "rasa.utils.endpoints.EndpointConfig.request": "ccdb778aed8208e2",
    "rasa.engine.runner.dask.DaskGraphRunner.run": "45f0f52f574f3aa9",
    "rasa.shared.core.events.Event.resolve_by_type": "b5cf570fa7f286c7",
}


def upstream(path: str):
    """The upstream function a patch replaces (the original, even after apply())."""
    module, cls, attr = path.rsplit(".", 2)
    owner = getattr(__import__(module, fromlist=[cls]), cls)
    return _originals.get(path) or owner.__dict__[attr]


def fingerprint(function) -> str:
    function = getattr(function, "__func__", function)
    return hashlib.sha256(inspect.getsource(function).encode()).hexdigest()[:16]


def unchanged(path: str) -> bool:
    """Is Rasa's function under this patch the one it was written against?"""
    current = fingerprint(upstream(path))
    if current != FINGERPRINTS[path]:
        log.warning("rasa speed-up for %s not applied: its upstream code changed (%s)", path, current)
        return False
    return True


_originals: dict = {}


def _cached_validator(schema: dict):
    from jsonschema import validators

    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate would on every call
    return cls(schema)


def _validate(validator, instance) -> None:
    """What jsonschema.validate does after its schema check: raise the best-matching error, if any."""
    from jsonschema import exceptions

    error = exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def _pool_endpoint_sessions() -> None:
    import asyncio
    import os
    import ssl

    import aiohttp
    from rasa.shared.exceptions import FileNotFoundException
    from rasa.utils import endpoints
    from rasa.utils.endpoints import ClientResponseError, concat_url

    def shared_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        cached = getattr(self, "_hall_session", None)
        if cached is None or cached[1] is not loop or cached[0].closed:
            auth = (aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                    if self.basic_auth else None)
            session = aiohttp.ClientSession(
                headers=self.headers, auth=auth,
                timeout=aiohttp.ClientTimeout(total=endpoints.DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(limit=100, keepalive_timeout=2.0))
            cached = (session, loop)
            self._hall_session = cached
        return cached[0]

    async def request(self, method="post", subpath=None, content_type="application/json", compress=False,
                      **kwargs):
        """Rasa 3.6's EndpointConfig.request, on the shared session instead of a new one per call."""
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if "headers" in kwargs:
            headers.update(kwargs["headers"])
            del kwargs["headers"]
        if self.headers:
            headers.update(self.headers)
        url = concat_url(self.url, subpath)
        sslcontext = None
        if self.cafile:
            try:
                sslcontext = ssl.create_default_context(cafile=self.cafile)
            except FileNotFoundError as e:
                raise FileNotFoundException(
                    f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist.") from e
        async with shared_session(self).request(method, url, headers=headers,
                                                params=self.combine_parameters(kwargs), compress=compress,
                                                ssl=sslcontext, **kwargs) as response:
            if response.status >= 400:
                raise ClientResponseError(response.status, response.reason, await response.content.read())
            try:
                return await response.json()
            except aiohttp.ContentTypeError:
                return None

    endpoints.EndpointConfig.request = request


def _direct_graph_runner() -> None:
    from rasa.engine.exceptions import GraphRunError
    from rasa.engine.runner.dask import DaskGraphRunner

    def run(self, inputs=None, targets=None):
        """DaskGraphRunner.run of Rasa 3.6 without dask's per-call graph pruning and task ordering."""
        run_targets = targets if targets else self._graph_schema.target_names
        schemas = self.__dict__.setdefault("_hall_minimal_schemas", {})
        key = tuple(run_targets)
        if key not in schemas:  # the schema never changes once the model is loaded
            schemas[key] = self._graph_schema.minimal_graph_schema(run_targets)
        run_graph = self._build_dask_graph(schemas[key])
        if inputs:
            self._add_inputs_to_graph(inputs, run_graph)
        done: dict = {}

        def compute(name):
            if name in done:
                return done[name]
            task = run_graph.get(name, name)  # dask passes an unknown key on as a literal
            if isinstance(task, tuple) and task and callable(task[0]):
                value = task[0](*(compute(dep) for dep in task[1:]))
            else:
                value = task
            done[name] = value
            return value

        try:
            return dict(compute(target) for target in run_targets)
        except RuntimeError as e:
            raise GraphRunError("Error running runner.") from e

    DaskGraphRunner.run = run


def _keep(path: str) -> None:
    module, cls, attr = path.rsplit(".", 2)
    owner = getattr(__import__(module, fromlist=[cls]), cls)
    _originals.setdefault(path, owner.__dict__[attr])


def apply() -> bool:
    global _applied
    if _applied:
        return True
    for path in FINGERPRINTS:
        _keep(path)
    from jsonschema import ValidationError
    from rasa.core.actions import action as rasa_action

    if unchanged("rasa.core.actions.action.RemoteAction._validate_action_result"):
        validator = _cached_validator(rasa_action.RemoteAction.action_response_format_spec())

        def _validate_action_result(self, result):
            try:
                _validate(validator, result)
                return True
            except ValidationError as e:  # the message Rasa 3.6 adds, unchanged
                e.message += (
                    f". Failed to validate Action server response from API, "
                    f"make sure your response from the Action endpoint is valid. "
                    f"For more information about the format visit "
                    f"{rasa_action.DOCS_BASE_URL}/custom-actions"
                )
                raise e

        rasa_action.RemoteAction._validate_action_result = _validate_action_result

    if unchanged("rasa.shared.core.events.Event.resolve_by_type"):
        from rasa.shared.core.events import Event

        resolve = Event.resolve_by_type
        found: dict = {}

        def resolve_by_type(type_name, default=None):
            cls = found.get(type_name)
            if cls is None:
                cls = resolve(type_name, default)
                if cls is not None and cls is not default:
                    found[type_name] = cls
            return cls

        Event.resolve_by_type = staticmethod(resolve_by_type)
    if unchanged("rasa.utils.endpoints.EndpointConfig.request"):
        _pool_endpoint_sessions()
    if unchanged("rasa.engine.runner.dask.DaskGraphRunner.run"):
        _direct_graph_runner()
    _applied = True
    return True
