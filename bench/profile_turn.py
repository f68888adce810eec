"""Where a turn's time goes: our bot vs the `rasa init` reference, sampled with py-spy under a steady load.

    python bench/profile_turn.py [--conversations 15] [--out var/profile]

Starts the reference bot and our stack (PostgreSQL + Redis stores, as `make bench` runs it), sends the same
scripted conversations as the benchmark one after the other, and while they run samples every process with
`py-spy record` (CPU only, idle threads excluded). It reports per bot: sequential latency per turn, CPU
milliseconds per turn of each process (from /proc), back-office requests per turn (from its access log), and
the share of CPU samples per part of the code (NLU, policies, tracker/lock store, action calls, ...).
Raw py-spy stacks are kept in the output folder (flamegraph-ready collapsed format).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from procstats import cpu_seconds, loadavg, tree  # noqa: E402
from tests.support.stack import http  # noqa: E402

PY_SPY = ROOT / ".venv" / "bin" / "py-spy"

# Leaf-to-root, the first frame whose file matches names the part of the code a sample belongs to.
PARTS = [
    ("NLU", ("rasa/nlu/", "jieba/", "sklearn/")),
    ("policies", ("rasa/core/policies/", "rasa/core/featurizers/")),
    ("tracker/lock store", ("rasa/core/tracker_store.py", "rasa/core/lock_store.py", "rasa/core/lock.py",
                            "/redis/")),
    ("action calls (HTTP client)", ("rasa/core/actions/", "rasa/utils/endpoints.py")),
    ("tracker & events bookkeeping", ("rasa/shared/core/trackers.py", "rasa/shared/core/events.py",
                                      "rasa/shared/core/domain.py", "rasa/shared/core/slots.py",
                                      "rasa/shared/core/generator.py")),
    ("processor & channels", ("rasa/core/processor.py", "rasa/core/agent.py", "rasa/core/channels/",
                              "rasa/core/nlg/", "rasa/core/policies/ensemble.py", "rasa/engine/")),
    ("our actions", ("bot/actions/",)),
    ("rasa_sdk", ("rasa_sdk/",)),
    ("back-office services & SQL", ("backoffice/", "sqlalchemy/", "psycopg2/")),
    ("HTTP server/client (sanic, aiohttp)", ("sanic/", "aiohttp/", "httptools", "multidict", "yarl/")),
    ("json", ("json/", "ujson")),
    ("tensorflow/numpy", ("tensorflow/", "numpy/", "keras/")),
    ("event loop & other", ("asyncio/", "uvloop", "threading.py", "concurrent/")),
]
# py-spy cannot always tell an idle thread in a container: an event loop waiting inside uvloop's C code
# (Sanic's run_forever) or a pool thread waiting for work shows as that frame on top. Not CPU: left out.
IDLE_LEAVES = ("serve (sanic/server/runners.py", "_worker (concurrent/futures/thread.py",
               "select (selectors.py", "wait (threading.py", "run_forever (asyncio/base_events.py")
FRAME_FILE = re.compile(r"\(([^:()]+):\d+\)$")


def classify(stack: str) -> str:
    frames = stack.split(";")
    leaf = re.sub(r"\(.*site-packages/", "(", frames[-1].strip())
    if any(leaf.startswith(idle) for idle in IDLE_LEAVES):
        return "idle"
    for frame in reversed(frames):
        match = FRAME_FILE.search(frame.strip())
        path = match.group(1) if match else frame
        for part, needles in PARTS:
            if any(n in path for n in needles):
                return part
    return "other"


def summarise(raw: Path) -> dict:
    counts: Counter = Counter()
    if raw.exists():
        for line in raw.read_text(errors="replace").splitlines():
            stack, _, n = line.rpartition(" ")
            if n.isdigit():
                counts[classify(stack)] += int(n)
    idle = counts.pop("idle", 0)
    total = sum(counts.values()) or 1
    return {"samples": total, "idle_samples_left_out": idle,
            "share": {k: round(v / total, 3) for k, v in counts.most_common()}}


def run_turns(url: str, script: list[str], conversations: int, tag: str) -> list[float]:
    latencies = []
    for c in range(conversations):
        sender = f"profile-{tag}-{c}-{os.urandom(3).hex()}"
        for text in script:
            start = time.perf_counter()
            status, _ = http("POST", url + "/webhooks/rest/webhook", {"sender": sender, "message": text})
            latencies.append(time.perf_counter() - start)
            if status != 200:
                raise RuntimeError(f"{text!r} answered {status}")
    return latencies


def run_load(url: str, script: list[str], customers: int, seconds: float, tag: str) -> dict:
    """N concurrent customers (bench/run.py's load generator) instead of one conversation after the other."""
    import asyncio

    from run import drive

    result = asyncio.run(drive(url + "/webhooks/rest/webhook", script, customers, seconds, tag, warmup=0.0))
    if result["errors"]:
        raise RuntimeError(f"{result['errors']} failed requests under load")
    return result


def profile(tag: str, url: str, pids: dict[str, int], script: list[str], conversations: int, out: Path,
            backoffice_log: Path | None = None, customers: int = 1, seconds: float = 15.0) -> dict:
    run_turns(url, script, 2, tag + "-warm")  # first turns load lazily built state
    log_offset = backoffice_log.stat().st_size if backoffice_log and backoffice_log.exists() else 0
    spies = {}
    for name, pid in pids.items():
        spies[name] = subprocess.Popen([str(PY_SPY), "record", "--pid", str(pid), "--subprocesses", "--rate", "200",
                                        "--format", "raw", "-o", str(out / f"{tag}-{name}.txt")],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(2)  # py-spy attaches
    load_before = loadavg()
    cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    started = time.perf_counter()
    load = None
    by_text = {}
    if customers <= 1:
        latencies = run_turns(url, script, conversations, tag)
        for i, text in enumerate(script):  # run_turns goes through the script in order, conversation by conversation
            by_text[text] = round(1000 * statistics.median(latencies[i::len(script)]), 1)
    else:
        load = run_load(url, script, customers, seconds, tag)
        latencies = [load["p50_s"]]
    wall = time.perf_counter() - started
    cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
    for spy in spies.values():
        spy.send_signal(signal.SIGINT)
    for spy in spies.values():
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
    turns = len(latencies) if load is None else load["sent_incl_warmup"]
    result = {
        "turns": turns, "loadavg_before": load_before, "loadavg_after": loadavg(),
        "latency_p50_ms": round(1000 * statistics.median(latencies), 1),
        "latency_mean_ms": round(1000 * statistics.fmean(latencies), 1),
        "turns_per_s": round(turns / wall, 1), "customers": customers,
        **({"latency_p50_ms_by_message": by_text} if by_text else {}),
        **({"load": {k: load[k] for k in ("rps", "p50_s", "p99_s", "errors")}} if load else {}),
        "cpu_ms_per_turn": {name: round(1000 * (cpu1[name] - cpu0[name]) / turns, 1) for name in pids},
        "processes": {name: len(tree(pid)) for name, pid in pids.items()},
        "profile": {name: summarise(out / f"{tag}-{name}.txt") for name in pids},
    }
    result["cpu_ms_per_turn"]["total"] = round(sum(result["cpu_ms_per_turn"].values()), 1)
    if backoffice_log and backoffice_log.exists():
        with backoffice_log.open("rb") as f:
            f.seek(log_offset)
            lines = f.read().decode(errors="replace").splitlines()
        calls = [re.search(r"POST (/api/bot/\S+) \d+ ([\d.]+)ms", line) for line in lines]
        calls = [m for m in calls if m]
        # the warm-up of the next measurement is not in this window; what is here belongs to these turns
        result["backoffice_calls_per_turn"] = round(len(calls) / turns, 2)
        result["backoffice_calls"] = dict(Counter(m.group(1) for m in calls).most_common())
        result["backoffice_ms_per_call_mean"] = round(statistics.fmean(float(m.group(2)) for m in calls), 2) \
            if calls else None
    return result


def main() -> int:
    from run import OUR_SCRIPT, REF_SCRIPT, our_stack, reference_model, start_reference, stop_process

    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "profile")
    parser.add_argument("--only", choices=["ours", "reference"])
    parser.add_argument("--customers", type=int, default=1, help="concurrent customers (default: sequential)")
    parser.add_argument("--seconds", type=float, default=15.0, help="with --customers > 1: load duration")
    parser.add_argument("--rasa-workers", type=int, default=1)
    parser.add_argument("--action-workers", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = {}
    if args.only != "ours":
        proc, url = start_reference(reference_model(), args.out)
        try:
            results["reference"] = profile("reference", url, {"rasa": proc.pid}, REF_SCRIPT, args.conversations,
                                           args.out, customers=args.customers, seconds=args.seconds)
        finally:
            stop_process(proc)
    if args.only != "reference":
        with our_stack(args.out / "ours", args.rasa_workers, args.action_workers, prewarm=False,
                       log_level="INFO") as stack:  # INFO: the back-office access log counts its calls
            pids = {name: stack.procs[name].pid for name in ("rasa0", "actions", "backoffice")}
            results["ours"] = profile("ours", stack.rasa_url(), pids, OUR_SCRIPT, args.conversations, args.out,
                                      stack.workdir / "backoffice.log", customers=args.customers,
                                      seconds=args.seconds)
    (args.out / "profile.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(json.dumps(results, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
