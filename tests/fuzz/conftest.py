"""Fuzzing with Hypothesis. FUZZ_EXAMPLES sets the generated inputs per test (300 in `make test`, 10,000 in
`make fuzz`); every test counts the inputs it really ran and the slowest one, and the session writes them to
var/results/fuzz.json (inputs, seconds, slowest input) so the figures in docs/security.md can be re-measured."""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
settings.register_profile("fuzz", max_examples=EXAMPLES, deadline=None, database=None, print_blob=True,
                          suppress_health_check=list(HealthCheck))
settings.load_profile("fuzz")

RESULTS: dict[str, dict] = {}
ROOT = Path(__file__).resolve().parents[2]


class Counter:
    def __init__(self):
        self.inputs, self.slowest, self._t = 0, 0.0, None

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.inputs += 1
        self.slowest = max(self.slowest, time.perf_counter() - self._t)
        return False


@pytest.fixture
def fuzzed(request):
    counter = Counter()
    started = time.perf_counter()
    yield counter
    RESULTS[request.node.name] = {"inputs": counter.inputs, "seconds": round(time.perf_counter() - started, 1),
                                  "slowest_input_seconds": round(counter.slowest, 3)}


def pytest_sessionfinish(session, exitstatus):
    if not RESULTS:
        return
    out = ROOT / "var" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps({"examples_per_test": EXAMPLES, "tests": RESULTS}, indent=1,
                                              ensure_ascii=False))


def pytest_terminal_summary(terminalreporter):
    if RESULTS:
        terminalreporter.write_sep("-", f"fuzzing (FUZZ_EXAMPLES={EXAMPLES})")
        for name, r in sorted(RESULTS.items()):
            terminalreporter.write_line(f"{name}: {r['inputs']} inputs in {r['seconds']} s "
                                        f"(slowest {r['slowest_input_seconds']} s)")
