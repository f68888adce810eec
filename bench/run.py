"""`make bench`: our bot and a bare Rasa reference bot side by side, plus the biometrics figures.

Writes bench/results/latest.json and prints a table. Both bots run on this machine in the same run and
are driven through the REST webhook by N concurrent simulated customers, each holding a real
multi-turn conversation. Absolute numbers move between machines; the ratios are what to compare.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from scripts.train import model_path  # noqa: E402
from tests.support.stack import Stack, free_port, http  # noqa: E402

RASA = ROOT / ".venv" / "bin" / "rasa"
REF_DIR = ROOT / "var" / "bench" / "reference"

# What a customer types to each bot: our bot gets a login conversation with help and a cancel; the
# reference (`rasa init` moodbot) gets its own small talk. Every message is one request.
OUR_SCRIPT = ["你好", "我要登录", "投资者", "80010001", "帮助", "取消", "谢谢", "再见"]
REF_SCRIPT = ["hello", "I am sad", "yes", "great", "bye"]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


async def drive(url: str, script: list[str], customers: int, duration: float, tag: str) -> dict:
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration

    async def customer(index: int, session: aiohttp.ClientSession):
        nonlocal errors
        round_ = 0
        while time.monotonic() < deadline:
            sender = f"bench-{tag}-{index}-{round_}"
            for text in script:
                if time.monotonic() >= deadline:
                    return
                start = time.perf_counter()
                try:
                    async with session.post(url, json={"sender": sender, "message": text}) as resp:
                        await resp.read()
                        if resp.status != 200:
                            errors += 1
                            continue
                except (aiohttp.ClientError, asyncio.TimeoutError):
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - start)
            round_ += 1

    started = time.monotonic()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(limit=0)) as session:
        await asyncio.gather(*(customer(i, session) for i in range(customers)))
    elapsed = time.monotonic() - started
    return {"customers": customers, "requests": len(latencies), "errors": errors,
            "rps": round(len(latencies) / elapsed, 2),
            "p50_s": round(percentile(latencies, 0.50), 4), "p99_s": round(percentile(latencies, 0.99), 4),
            "mean_s": round(statistics.fmean(latencies), 4) if latencies else None}


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
    proc = subprocess.Popen([str(RASA), "run", "--model", str(model), "--port", str(port), "-i", "127.0.0.1"],
                            cwd=REF_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:  # the bare bot runs without --enable-api: "/" is its only health answer
            if http("GET", url + "/", timeout=3)[0] == 200:
                return proc, url
        except OSError:
            pass
        time.sleep(0.5)
    proc.terminate()  # never leave a half-started bot behind
    raise RuntimeError(f"reference bot did not start; see {workdir / 'reference.log'}")


def biometrics_figures(workdir: Path, cards: int) -> dict:
    out = workdir / "biometrics.json"
    subprocess.run([sys.executable, str(ROOT / "bench" / "biometrics_bench.py"), str(out), "--cards-per-tier",
                    str(cards)], check=True, cwd=ROOT)
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per load level")
    parser.add_argument("--levels", default="1,20,50")
    parser.add_argument("--cards-per-tier", type=int, default=6)
    parser.add_argument("--skip-biometrics", action="store_true")
    args = parser.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    workdir = Path(tempfile.mkdtemp(prefix="hall-bench-"))
    results: dict = {"machine": {"cores": os.cpu_count(), "loadavg": open("/proc/loadavg").read().split()[:3]},
                     "text_turns": {"levels": {}}}

    t0 = time.monotonic()
    ref_model = reference_model()
    results["reference_train_s"] = round(time.monotonic() - t0, 1)
    proc, ref_url = start_reference(ref_model, workdir)
    try:
        for n in levels:
            results["text_turns"]["levels"].setdefault(str(n), {})["reference"] = asyncio.run(
                drive(ref_url + "/webhooks/rest/webhook", REF_SCRIPT, n, args.duration, f"ref{n}"))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    stack = Stack(workdir / "ours", database_url=f"sqlite:///{workdir / 'hall.db'}", redis_url=None,
                  model=model_path(), extra_env={"BIOMETRICS_PREWARM": "0"})
    stack.start()
    try:
        for n in levels:
            results["text_turns"]["levels"][str(n)]["ours"] = asyncio.run(
                drive(stack.rasa_url() + "/webhooks/rest/webhook", OUR_SCRIPT, n, args.duration, f"ours{n}"))
    finally:
        stack.stop()

    at20 = results["text_turns"]["levels"].get("20")
    if at20:
        results["text_turns"]["reference"] = {k: at20["reference"][k] for k in ("rps", "p50_s", "p99_s")}
        results["text_turns"]["ours"] = {k: at20["ours"][k] for k in ("rps", "p50_s", "p99_s")}
        results["text_turns"]["ratio_rps"] = round(at20["ours"]["rps"] / at20["reference"]["rps"], 3)
    if not args.skip_biometrics:
        results["biometrics"] = biometrics_figures(workdir, args.cards_per_tier)

    out = ROOT / "bench" / "results" / "latest.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(f"\n{'N':>4} {'bot':<10} {'req/s':>8} {'p50 s':>8} {'p99 s':>8} {'errors':>7}")
    for n, pair in results["text_turns"]["levels"].items():
        for bot in ("reference", "ours"):
            r = pair[bot]
            print(f"{n:>4} {bot:<10} {r['rps']:>8} {r['p50_s']:>8} {r['p99_s']:>8} {r['errors']:>7}")
    if at20:
        print(f"ours/reference throughput at N=20: {results['text_turns']['ratio_rps']}")
    print(f"written {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
