"""`make bench`: our bot and a bare Rasa reference bot side by side, plus business, biometrics and training figures.

Writes bench/results/latest.json and prints a table. Both bots run on this machine in the same run and
are driven through the REST webhook by N concurrent simulated customers, each holding a real multi-turn
conversation (a closed loop: a customer sends its next message when the answer to the last one came).
Absolute numbers move between machines and with other load; the ratios within one run are what to compare,
and every measurement records the load average before and after it.

- reference: the `rasa init` template bot, one `rasa run` process with its default (in-memory) stores.
- ours: the production-like profile — PostgreSQL, Redis tracker and lock stores, SANIC_WORKERS Rasa workers
  and ACTION_SERVER_SANIC_WORKERS action server workers (see README, "Scaling").

Run on an otherwise idle machine for figures worth quoting; `--quick` gives a 2-minute smoke run.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from procstats import cpu_seconds, loadavg, peak_rss_mb  # noqa: E402
from scripts.train import model_path  # noqa: E402
from tests.support.stack import Stack, free_port, http, texts  # noqa: E402

RASA = ROOT / ".venv" / "bin" / "rasa"
REF_DIR = ROOT / "var" / "bench" / "reference"

# What a customer types to each bot, one request per message: ours gets a greeting, the start of a login with
# a help detour and a cancel, then small talk; the reference (`rasa init` moodbot) gets its own small talk.
OUR_SCRIPT = ["你好", "我要登录", "投资者", "80010001", "帮助", "取消", "谢谢", "再见"]
REF_SCRIPT = ["hello", "I am sad", "yes", "great", "bye"]

# The production-like profile of our stack (overridable from the command line).
RASA_WORKERS = int(os.environ.get("BENCH_RASA_WORKERS", "2"))
ACTION_WORKERS = int(os.environ.get("BENCH_ACTION_WORKERS", "1"))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


# --- load generator ---------------------------------------------------------------------------------------
KEEP_ALIVE = os.environ.get("BENCH_KEEP_ALIVE", "0") == "1"


async def drive(url: str, script: list[str], customers: int, duration: float, tag: str,
                warmup: float = 3.0) -> dict:
    """N customers in a closed loop for warmup + duration seconds; only requests started after the warm-up count."""
    latencies: list[float] = []
    errors = sent = 0
    start_all = time.monotonic()
    measure_from = start_all + warmup
    deadline = measure_from + duration

    async def customer(index: int, session: aiohttp.ClientSession):
        nonlocal errors, sent
        round_ = 0
        while time.monotonic() < deadline:
            sender = f"bench-{tag}-{index}-{round_}-{os.urandom(2).hex()}"
            for text in script:
                began = time.monotonic()
                if began >= deadline:
                    return
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as resp:
                        await resp.read()
                        ok = resp.status == 200
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    ok = False
                sent += 1
                if began < measure_from:
                    continue
                if ok:
                    latencies.append(time.monotonic() - began)
                else:
                    errors += 1
            round_ += 1

    load_before = loadavg()
    cpu0 = time.process_time()
    timeout = aiohttp.ClientTimeout(total=60)
    # A new connection per request by default, as customers behind a proxy arrive: with kept-alive connections
    # the kernel's accept() spreads the 20 connections unevenly over the Rasa workers once and for all.
    connector = aiohttp.TCPConnector(limit=0, force_close=not KEEP_ALIVE)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(customer(i, session) for i in range(customers)))
    loadgen_cpu = time.process_time() - cpu0
    measured = max(1e-9, time.monotonic() - measure_from)
    n = len(latencies)
    return {"customers": customers, "requests": n, "errors": errors, "sent_incl_warmup": sent,
            "seconds": round(measured, 1),
            "rps": round(n / measured, 2),
            "p50_s": round(percentile(latencies, 0.50), 4), "p99_s": round(percentile(latencies, 0.99), 4),
            "mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
            # the generator shares the machine: its own CPU per request shows what it takes from the bots
            "loadgen_cpu_ms_per_request": round(1000 * loadgen_cpu / max(1, n + errors), 2),
            "loadavg_before": load_before, "loadavg_after": loadavg(), "_latencies": latencies,
            "_loadgen_cpu_s": loadgen_cpu}


def run_interleaved(bots: dict[str, dict], levels: list[int], duration: float, rounds: int) -> dict:
    """Each level is measured in `rounds` rounds, the bots taking turns (A B, then B A, ...), both running all
    the time: background load that drifts during the run hits both alike. Per bot and level: requests/s over
    all rounds, percentiles over all latencies, server CPU per request of each process tree."""
    out: dict = {str(n): {} for n in levels}
    for n in levels:
        parts: dict[str, list] = {name: [] for name in bots}
        for r in range(rounds):
            order = list(bots) if r % 2 == 0 else list(reversed(bots))
            for name in order:
                bot = bots[name]
                cpu0 = {k: cpu_seconds(pid) for k, pid in bot["roots"].items()}
                part = asyncio.run(drive(bot["url"], bot["script"], n, duration / rounds, f"{name}{n}r{r}"))
                part["_cpu"] = {k: cpu_seconds(pid) - cpu0[k] for k, pid in bot["roots"].items()}
                parts[name].append(part)
                wait_quiet(bot["roots"], timeout=20)
        for name, measured in parts.items():
            latencies = [x for m in measured for x in m["_latencies"]]
            seconds = sum(m["seconds"] for m in measured)
            sent = max(1, sum(m["sent_incl_warmup"] for m in measured))
            errors = sum(m["errors"] for m in measured)
            result = {
                "customers": n, "rounds": rounds, "requests": len(latencies), "errors": errors,
                "seconds": round(seconds, 1), "rps": round(len(latencies) / max(1e-9, seconds), 2),
                "p50_s": round(percentile(latencies, 0.50), 4), "p99_s": round(percentile(latencies, 0.99), 4),
                "mean_s": round(statistics.fmean(latencies), 4) if latencies else None,
                "rps_per_round": [m["rps"] for m in measured],
                # server CPU over warm-up + measurement (both send requests), per process tree
                "server_cpu_ms_per_request": {k: round(1000 * sum(m["_cpu"][k] for m in measured) / sent, 1)
                                              for k in bots[name]["roots"]},
                "loadgen_cpu_ms_per_request": round(1000 * sum(m["_loadgen_cpu_s"] for m in measured) / sent, 2),
                "loadavg_before": measured[0]["loadavg_before"], "loadavg_after": measured[-1]["loadavg_after"],
            }
            out[str(n)][name] = result
            print(f"  N={n} {name}: {result['rps']} req/s (rounds {result['rps_per_round']}) p50 "
                  f"{result['p50_s']} s p99 {result['p99_s']} s, {errors} errors (load "
                  f"{result['loadavg_before'][0]} -> {result['loadavg_after'][0]})", flush=True)
    return out


def wait_quiet(roots: dict[str, int], timeout: float = 120.0, threshold: float = 0.15) -> float:
    """Wait until the processes use almost no CPU (models loaded, pools warm, queues drained)."""
    start = time.monotonic()
    last = sum(cpu_seconds(pid) for pid in roots.values())
    calm = 0
    while time.monotonic() - start < timeout and calm < 2:
        time.sleep(1.0)
        now = sum(cpu_seconds(pid) for pid in roots.values())
        calm = calm + 1 if now - last < threshold else 0
        last = now
    return round(time.monotonic() - start, 1)


# --- the two bots -----------------------------------------------------------------------------------------
def reference_model() -> Path:
    """The `rasa init` template bot, trained once and cached."""
    model = REF_DIR / "models" / "reference.tar.gz"
    if model.exists():
        return model
    if REF_DIR.exists():
        shutil.rmtree(REF_DIR)
    REF_DIR.mkdir(parents=True)  # `rasa init --init-dir` wants an existing, empty folder
    subprocess.run([str(RASA), "init", "--no-prompt", "--init-dir", str(REF_DIR)], check=True, cwd=REF_DIR.parent,
                   capture_output=True)
    for path in (REF_DIR / "models").glob("*.tar.gz"):
        path.rename(model)
        break
    return model


def start_reference(model: Path, workdir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    log = open(workdir / "reference.log", "wb")
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("SANIC_WORKERS", None)  # the reference is one process with default stores
    proc = subprocess.Popen([str(RASA), "run", "--model", str(model), "--port", str(port), "-i", "127.0.0.1"],
                            cwd=REF_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:  # the bare bot runs without --enable-api: "/" is its only health answer
            if http("GET", url + "/", timeout=3)[0] == 200:
                return proc, url
        except OSError:
            pass
        if proc.poll() is not None:
            break
        time.sleep(0.5)
    stop_process(proc)  # never leave a half-started bot behind
    raise RuntimeError(f"reference bot did not start; see {workdir / 'reference.log'}")


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def our_stack(workdir: Path, rasa_workers: int = RASA_WORKERS, action_workers: int = ACTION_WORKERS,
              prewarm: bool = True, log_level: str = "WARNING", event_log: bool = True):
    """Our three processes in the production-like profile on a throw-away PostgreSQL database and Redis prefix."""
    from tests.support.databases import REDIS_URL, temporary_postgres

    with temporary_postgres("hall_bench") as url:
        stack = Stack(workdir, database_url=url, redis_url=REDIS_URL, model=model_path(), extra_env={
            "SANIC_WORKERS": str(rasa_workers), "ACTION_SERVER_SANIC_WORKERS": str(action_workers),
            "BIOMETRICS_PREWARM": "1" if prewarm else "0",
            "TRACKER_TTL_SECONDS": "3600",  # bench conversations must not linger in Redis for a week
            "SANIC_PROXIES_COUNT": "1",  # the flood scenario's client arrives "through a proxy" with its own address
            "LOG_LEVEL": log_level,
            "HALL_EVENT_LOG": "1" if event_log else "0",  # the event broker (connectors/event_log.py) or none
        })
        try:
            stack.start()
            yield stack
        finally:
            stack.stop()
            _drop_redis_keys(REDIS_URL, [stack.env["RASA_KEY_PREFIX"] + ":", stack.env["HALL_KV_PREFIX"]])


def _drop_redis_keys(url: str, prefixes: list[str]) -> None:
    import redis

    client = redis.Redis.from_url(url)
    for prefix in prefixes:
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i:i + 500])


# --- one client flooding: what the others see ---------------------------------------------------------------
FLOOD_ADDRESS = "203.0.113.66"  # the flooder's address, as the trusted proxy reports it (X-Forwarded-For)


def garbage(chars: int, rng) -> str:
    alphabet = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面" \
               "abcdefghijklmnopqrstuvwxyz0123456789 ，。！？#@%&*()[]{}<>~\U0001F600\U0001F4B8"
    return "".join(rng.choice(alphabet) for _ in range(chars))


async def flood(url: str, duration: float, connections: int = 6) -> dict:
    """One client sending long and garbage messages as fast as it can, from one address over many senders,
    on several connections at once: half just under the length cap (they reach NLU when the buckets allow),
    half of 100 KB (refused by length)."""
    import random

    rng = random.Random(7)
    texts_ = [garbage(990, rng) for _ in range(8)] + ["我" * 100_000] * 8
    counts = {"sent": 0, "too_fast": 0, "too_long": 0, "answered": 0, "errors": 0}
    deadline = time.monotonic() + duration

    async def one(index: int, session: aiohttp.ClientSession):
        i = 0
        while time.monotonic() < deadline:
            body = {"sender": f"flood-{index}-{i}", "message": texts_[i % len(texts_)]}
            i += 1
            counts["sent"] += 1
            try:
                async with session.post(url, json=body, headers={"X-Forwarded-For": FLOOD_ADDRESS}) as resp:
                    answer = await resp.json(content_type=None)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
                counts["errors"] += 1
                continue
            text = " ".join(r.get("text") or "" for r in answer) if isinstance(answer, list) else ""
            key = "too_fast" if "太频繁" in text else "too_long" if "太长" in text else "answered"
            counts[key] += 1

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120),
                                     connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(one(i, session) for i in range(connections)))
    return counts


def flood_figures(stack: Stack, customers: int, duration: float) -> dict:
    """The customers' latencies alone, then while one client floods (its counts say what the guard did)."""
    url = stack.rasa_url() + "/webhooks/rest/webhook"
    baseline = asyncio.run(drive(url, OUR_SCRIPT, customers, duration, "calm"))

    async def both():
        return await asyncio.gather(drive(url, OUR_SCRIPT, customers, duration, "flooded"),
                                    flood(url, duration + 3.0))

    flooded, counts = asyncio.run(both())
    strip = lambda r: {k: v for k, v in r.items() if not k.startswith("_")}  # noqa: E731
    return {"customers": customers, "baseline": strip(baseline), "under_flood": strip(flooded), "flooder": counts}


# --- a whole business, images included --------------------------------------------------------------------
def business_flow(stack: Stack) -> dict:
    """账户解锁 from the first message to the submitted application, timing every turn (and each image upload)."""
    from biometrics.testdata import ensure_faces
    from tests.support.live import announced, live_video

    faces = ensure_faces()["obama"]
    account, phone = "80010002", "13800000002"
    with open(faces[0], "rb") as fh:
        status, _ = _put(f"{stack.backoffice_url}/api/accounts/{account}/portrait", fh.read(), stack.admin_token)
    if status != 200:
        return {"error": f"portrait upload answered {status}"}
    sender = "bench-business-" + os.urandom(3).hex()
    turns: list[dict] = []

    def say(label: str, message: str, expect: str, upload_s: float = 0.0) -> str:
        began = time.perf_counter()
        reply = texts(stack.say(sender, message))
        turns.append({"step": label, "turn_s": round(time.perf_counter() - began, 3),
                      **({"upload_s": round(upload_s, 3)} if upload_s else {})})
        if expect not in reply:
            raise AssertionError(f"{label}: expected {expect!r} in the reply, got {reply[:300]!r}")
        return reply

    def live(label: str, photo, asked: str, expect: str) -> str:
        """The live check as a video message: the announced actions filmed with `photo`'s face (rendered before
        the clock starts), uploaded and sent."""
        clip = live_video(str(photo), announced(asked))
        began = time.perf_counter()
        media_id = stack.upload(clip, "rest:" + sender, "selfie.mp4")
        return say(label, f'/upload_video{{"media_id":"{media_id}"}}', expect, time.perf_counter() - began)

    def code() -> str:
        match = re.search(r"验证码(\d{6})", stack.sms(phone)[-1]["text"])
        return match.group(1) if match else ""

    load_before = loadavg()
    try:
        say("ask", "我的账户被锁了", "账户解锁")
        say("investor type", "投资者", "资金账号")
        say("account number", account, "手机号")
        say("phone", phone, "验证码")
        say("login code", code(), "隐私政策")
        say("privacy consent", "同意", "未绑定")
        say("bind device", "去绑定", "人脸信息处理授权")
        asked = say("face consent", "同意", "/h5/live/")
        asked = live("bind face (live clip)", faces[1], asked, "已校验成功并与本机绑定")
        live("business face (live clip)", faces[2], asked, "人脸认证通过")
        say("business code", code(), "确认解锁")
        say("confirm", "确认解锁", "申请已提交")
    except AssertionError as exc:
        return {"error": str(exc), "turns": turns}
    times = [t["turn_s"] for t in turns]
    return {"turns": turns, "turn_count": len(times), "total_s": round(sum(times), 2),
            "turn_p50_s": round(statistics.median(times), 3), "turn_max_s": round(max(times), 3),
            "text_turn_p50_s": round(statistics.median(t["turn_s"] for t in turns if "upload_s" not in t), 3),
            "image_turn_max_s": round(max(t["turn_s"] for t in turns if "upload_s" in t), 3),
            "loadavg_before": load_before, "loadavg_after": loadavg()}


def _put(url: str, data: bytes, token: str):
    import urllib.request

    req = urllib.request.Request(url, data=data, method="PUT", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.status, resp.read()


# --- training and biometrics ------------------------------------------------------------------------------
def train_time(workdir: Path) -> dict:
    """`rasa train` of our bot from scratch (no cache) into a scratch folder, timed."""
    out = workdir / "train"
    load_before = loadavg()
    began = time.perf_counter()
    # an empty cache directory: Rasa would otherwise reuse trained components from .rasa/cache
    proc = subprocess.run([str(RASA), "train", "--config", "config.yml", "--domain", "bot/domain", "--data",
                           "bot/data", "--out", str(out), "--fixed-model-name", "bench"], cwd=ROOT,
                          capture_output=True, env={**os.environ, "RASA_TELEMETRY_ENABLED": "false",
                                                    "RASA_CACHE_DIRECTORY": str(workdir / "train-cache")})
    seconds = time.perf_counter() - began
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(workdir / "train-cache", ignore_errors=True)
    return {"seconds": round(seconds, 1), "ok": proc.returncode == 0, "loadavg_before": load_before,
            "loadavg_after": loadavg()}


def biometrics_figures(workdir: Path, cards: int) -> dict:
    out = workdir / "biometrics.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "biometrics_bench.py"), str(out), "--cards-per-tier",
                    str(cards), "--timing-runs", "8"], check=True, cwd=ROOT)
    full = json.loads(out.read_text())
    ocr, face = full["ocr"]["all"], full["face"]
    return {"ocr_p50_s": ocr["p50_s"], "ocr_p95_s": ocr["p95_s"], "ocr_cpu_p50_s": ocr.get("cpu_p50_s"),
            "face_compare_p50_s": face["compare_p50_s"], "face_compare_p95_s": face["compare_p95_s"],
            "peak_rss_mb": full["peak_rss_mb"], "loadavg_before": full["load_avg_before"],
            "loadavg_after": full["load_avg"], "full": full}


# --- main -------------------------------------------------------------------------------------------------
def event_log_cost(workdir: Path, args, levels: list[int]) -> dict:
    """Our stack with the event log (Rasa's event broker → PostgreSQL, connectors/event_log.py) against the same
    stack without it, both running, measured in alternating rounds: the broker's cost in throughput."""
    with contextlib.ExitStack() as running:
        bots, stacks = {}, {}
        for name, on in (("with_event_log", True), ("without_event_log", False)):
            stack = stacks[name] = running.enter_context(our_stack(workdir / name, args.rasa_workers, args.action_workers,
                                                    prewarm=False, event_log=on))
            bots[name] = {"url": stack.rasa_url() + "/webhooks/rest/webhook", "script": OUR_SCRIPT,
                          "roots": {"rasa": stack.procs["rasa0"].pid, "actions": stack.procs["actions"].pid,
                                    "backoffice": stack.procs["backoffice"].pid}}
        wait_quiet({f"{b}.{k}": pid for b in bots for k, pid in bots[b]["roots"].items()})
        out = {"levels": run_interleaved(bots, levels, args.duration, args.rounds)}
        out["broker"] = broker_figures(stacks["with_event_log"], out["levels"])
    for n, pair in out["levels"].items():
        on, off = pair["with_event_log"], pair["without_event_log"]
        pair["throughput_cost_pct"] = round(100 * (1 - on["rps"] / max(1e-9, off["rps"])), 1)
        pair["cpu_cost_pct"] = round(100 * (sum(on["server_cpu_ms_per_request"].values())
                                            / max(1e-9, sum(off["server_cpu_ms_per_request"].values())) - 1), 1)
    return out


def broker_figures(stack, levels: dict) -> dict:
    """The broker's own CPU in the Rasa server, as it counts it (connectors/event_log.py: appends on the turns'
    path, masking and inserts in its writer thread), per event and per measured request. PostgreSQL's share of
    the inserts runs in the database server, shared by both stacks, and is not in these figures."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(stack.rasa_url() + "/metrics", timeout=10) as resp:
        samples = [s for f in text_string_to_metric_families(resp.read().decode()) for s in f.samples]
    cpu = {s.labels["part"]: s.value for s in samples if s.name == "hall_event_log_cpu_seconds_total"}
    events = sum(s.value for s in samples if s.name == "hall_event_log_events_total")
    requests = sum(pair["with_event_log"]["requests"] for pair in levels.values())  # warm-ups left out: an upper bound
    return {"events": int(events), "requests": requests,
            "events_per_request": round(events / max(1, requests), 1),
            "publish_us_per_event": round(1e6 * cpu.get("publish", 0) / max(1, events), 2),
            "writer_us_per_event": round(1e6 * cpu.get("write", 0) / max(1, events), 1),
            "cpu_ms_per_request": round(1000 * sum(cpu.values()) / max(1, requests), 3)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=24.0, help="measured seconds per load level and bot")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per level (duration split)")
    parser.add_argument("--levels", default="1,20,50")
    parser.add_argument("--cards-per-tier", type=int, default=4)
    parser.add_argument("--rasa-workers", type=int, default=RASA_WORKERS)
    parser.add_argument("--action-workers", type=int, default=ACTION_WORKERS)
    parser.add_argument("--skip-biometrics", action="store_true")
    parser.add_argument("--skip-train", action="store_true", help="do not time a full `rasa train`")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-flood", action="store_true")
    parser.add_argument("--skip-event-log", action="store_true", help="do not measure the event log's cost")
    parser.add_argument("--only-event-log", action="store_true", help="only the event log's cost (two stacks)")
    parser.add_argument("--quick", action="store_true", help="short smoke run: 6 s levels, no training/biometrics")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.skip_biometrics, args.skip_train = 8.0, True, True
    try:
        import uvloop  # a cheaper event loop for the load generator, which shares the machine

        uvloop.install()
    except ImportError:
        pass
    levels = [int(x) for x in args.levels.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    started = time.monotonic()
    results: dict = {
        "machine": {"cores": os.cpu_count(), "loadavg_at_start": loadavg()},
        "settings": {"duration_s": args.duration, "rounds": args.rounds, "levels": levels, "ours": {
            "rasa_workers": args.rasa_workers, "action_server_workers": args.action_workers,
            "tracker_store": "redis", "lock_store": "redis", "database": "postgresql"},
            "reference": {"rasa_workers": 1, "tracker_store": "in-memory", "lock_store": "in-memory"}},
        "text_turns": {"levels": {str(n): {} for n in levels}}, "peak_rss_mb": {},
    }
    print(f"bench: load average at start {results['machine']['loadavg_at_start']} on {os.cpu_count()} cores",
          flush=True)

    if args.only_event_log:
        print("event log cost: our stack with and without the event broker, alternating ...", flush=True)
        results = {"machine": results["machine"], "settings": results["settings"],
                   "event_log": event_log_cost(workdir, args, levels)}
        results["machine"]["loadavg_at_end"] = loadavg()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
        print_event_log(results["event_log"])
        shutil.rmtree(workdir, ignore_errors=True)
        print(f"written {args.out}")
        return 0

    if not args.skip_train:  # first, while nothing else of ours runs
        print("timing `rasa train` (full, no cache) ...", flush=True)
        results["rasa_train"] = train_time(workdir)

    with contextlib.ExitStack() as running:
        bots: dict[str, dict] = {}
        if not args.skip_reference:
            proc, ref_url = start_reference(reference_model(), workdir)
            running.callback(stop_process, proc)
            bots["reference"] = {"url": ref_url + "/webhooks/rest/webhook", "script": REF_SCRIPT,
                                 "roots": {"rasa": proc.pid}}
        stack = running.enter_context(our_stack(workdir / "ours", args.rasa_workers, args.action_workers))
        roots = {"rasa": stack.procs["rasa0"].pid, "actions": stack.procs["actions"].pid,
                 "backoffice": stack.procs["backoffice"].pid}
        bots["ours"] = {"url": stack.rasa_url() + "/webhooks/rest/webhook", "script": OUR_SCRIPT, "roots": roots}
        # models loaded in every worker, the biometrics pool warm
        results["settle_s"] = wait_quiet({f"{b}.{k}": pid for b in bots for k, pid in bots[b]["roots"].items()})
        print(f"reference: rasa init, 1 process, in-memory stores | ours: {args.rasa_workers} Rasa workers, "
              f"{args.action_workers} action server worker(s), Redis stores, PostgreSQL; {args.rounds} rounds per "
              "level, the bots taking turns", flush=True)
        for n, pair in run_interleaved(bots, levels, args.duration, args.rounds).items():
            results["text_turns"]["levels"][n] = pair
        if not args.skip_flood:
            print("flood: 20 customers, alone and while one client floods long and garbage messages ...", flush=True)
            results["flood"] = flood_figures(stack, 20, args.duration / 2)
        print("business: 账户解锁 to submission, images included ...", flush=True)
        results["business_unlock"] = business_flow(stack)
        results["peak_rss_mb"].update({f"ours_{name}": peak_rss_mb(pid) for name, pid in roots.items()})
        if "reference" in bots:
            results["peak_rss_mb"]["reference_rasa"] = peak_rss_mb(bots["reference"]["roots"]["rasa"])

    if not args.skip_event_log:
        print("event log cost: our stack with and without the event broker, alternating ...", flush=True)
        results["event_log"] = event_log_cost(workdir, args, [20])

    if not args.skip_biometrics:
        print("biometrics bench ...", flush=True)
        results["biometrics"] = biometrics_figures(workdir, args.cards_per_tier)

    tt = results["text_turns"]
    for key, n in (("", "20"), ("sequential_", "1")):
        pair = tt["levels"].get(n, {})
        if "reference" in pair and "ours" in pair:
            if not key:
                tt["reference"] = {k: pair["reference"][k] for k in ("rps", "p50_s", "p99_s")}
                tt["ours"] = {k: pair["ours"][k] for k in ("rps", "p50_s", "p99_s")}
                tt["ratio_rps"] = round(pair["ours"]["rps"] / max(1e-9, pair["reference"]["rps"]), 3)
                tt["ratio_p99"] = round(pair["ours"]["p99_s"] / max(1e-9, pair["reference"]["p99_s"]), 3)
            else:
                tt["sequential_ratio_p50"] = round(pair["ours"]["p50_s"] / max(1e-9, pair["reference"]["p50_s"]), 3)
    results["machine"]["loadavg_at_end"] = loadavg()
    results["wall_s"] = round(time.monotonic() - started, 1)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print_table(results)
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"written {args.out}")
    return 0


def print_event_log(figures: dict) -> None:
    for n, pair in figures["levels"].items():
        print(f"event log at N={n}: {pair['with_event_log']['rps']} req/s with, {pair['without_event_log']['rps']} "
              f"without: throughput cost {pair['throughput_cost_pct']} % (goal ≤ 5 %), server CPU per request "
              f"{pair['cpu_cost_pct']:+} %")
    broker = figures.get("broker")
    if broker:
        print(f"event log's own CPU in the Rasa server: {broker['cpu_ms_per_request']} ms per request "
              f"({broker['events_per_request']} events per request; {broker['publish_us_per_event']} µs per event on "
              f"the turn's path, {broker['writer_us_per_event']} µs in the writer thread)")


def print_table(results: dict) -> None:
    tt = results["text_turns"]
    print(f"\n{'N':>4} {'bot':<10} {'req/s':>8} {'p50 s':>8} {'p99 s':>8} {'errors':>7} {'srv CPU ms/req':>15} "
          f"{'load before→after':>18}")
    for n, pair in tt["levels"].items():
        for bot in ("reference", "ours"):
            r = pair.get(bot)
            if r:
                cpu = sum(r.get("server_cpu_ms_per_request", {}).values())
                print(f"{n:>4} {bot:<10} {r['rps']:>8} {r['p50_s']:>8} {r['p99_s']:>8} {r['errors']:>7} "
                      f"{cpu:>15.1f} {r['loadavg_before'][0]:>8} → {r['loadavg_after'][0]:<6}")
    if "ratio_rps" in tt:
        print(f"ours/reference at N=20: throughput {tt['ratio_rps']}× (goal ≥ 1.5), p99 ours {tt['ours']['p99_s']} s "
              f"(goal < 1 s)")
    if "sequential_ratio_p50" in tt:
        print(f"sequential p50 ours/reference: {tt['sequential_ratio_p50']}× (goal ≤ 1.3)")
    f = results.get("flood")
    if f:
        print(f"flood: the other {f['customers']} customers p50 {f['baseline']['p50_s']} → {f['under_flood']['p50_s']} s, "
              f"p99 {f['baseline']['p99_s']} → {f['under_flood']['p99_s']} s (goal < 1 s), "
              f"{f['under_flood']['errors']} errors; flooder {f['flooder']}")
    b = results.get("business_unlock")
    if b:
        if "error" in b:
            print(f"business 账户解锁: FAILED — {b['error']}")
        else:
            print(f"business 账户解锁: {b['turn_count']} turns, {b['total_s']} s in all, turn p50 {b['turn_p50_s']} s, "
                  f"text turn p50 {b['text_turn_p50_s']} s, slowest image turn {b['image_turn_max_s']} s")
    bio = results.get("biometrics")
    if bio:
        print(f"biometrics: OCR p50 {bio['ocr_p50_s']} s p95 {bio['ocr_p95_s']} s; face compare p50 "
              f"{bio['face_compare_p50_s']} s p95 {bio['face_compare_p95_s']} s")
    if "event_log" in results:
        print_event_log(results["event_log"])
    if "rasa_train" in results:
        print(f"rasa train (full): {results['rasa_train']['seconds']} s")
    rss = ", ".join(f"{k} {v['max_mb']:.0f} MB" + (f" (×{v['processes']}, Σ {v['sum_mb']:.0f})"
                                                    if v["processes"] > 1 else "")
                    for k, v in results["peak_rss_mb"].items())
    print(f"peak RSS: {rss}")
    print(f"load average: start {results['machine']['loadavg_at_start']}, end {results['machine']['loadavg_at_end']}; "
          f"bench wall {results['wall_s']} s")


if __name__ == "__main__":
    sys.exit(main())
