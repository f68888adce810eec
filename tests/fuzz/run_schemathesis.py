"""Schemathesis against a locally started back-office, from its own OpenAPI description.

Starts the back-office (SQLite in a temporary directory, demo accounts seeded, no Rasa) on a free port, runs
schemathesis from the tool venv (.venv-fuzz, requirements-fuzz.lock: it cannot live in the Rasa venv) twice —
staff operations with the admin token, /api/bot/* with the service token — with the not_a_server_error check,
then counts the requests and 5xx answers in the back-office's own access log. Exit status 1 on any 5xx.

  SCHEMATHESIS_EXAMPLES  max examples per operation (default 5; `make fuzz` uses 160 ≈ 10,000 requests)
"""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PY = ROOT / ".venv" / "bin" / "python"
ST = ROOT / ".venv-fuzz" / "bin" / "st"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    examples = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
    work = Path(tempfile.mkdtemp(prefix="schemathesis-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HALL_VAR_DIR": str(work), "MEDIA_DIR": str(work / "media"),
           "DATABASE_URL": f"sqlite:///{work / 'hall.db'}", "HALL_ADMIN_TOKEN": "st-admin-" + os.urandom(6).hex(),
           "HALL_SERVICE_TOKEN": "st-service-" + os.urandom(6).hex(), "HALL_DATA_KEY": os.urandom(16).hex(),
           "BACKOFFICE_PORT": str(port), "RASA_URL": "http://127.0.0.1:9", "BIOMETRICS_PREWARM": "0",
           "HALL_IP_MEDIA_PER_HOUR": "100000000", "HALL_IP_H5_POSTS_PER_HOUR": "100000000", "LOG_LEVEL": "INFO",
           "SQLALCHEMY_SILENCE_UBER_WARNING": "1"}
    env.pop("REDIS_URL", None)
    for cmd in ("migrate", "seed"):
        subprocess.run([str(PY), "-m", "backoffice", cmd], cwd=ROOT, env=env, check=True, capture_output=True)
    log_path = work / "backoffice.log"
    server = subprocess.Popen([str(PY), "-m", "backoffice", "serve"], cwd=ROOT, env=env, stdout=open(log_path, "wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/api/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        else:
            print(log_path.read_text()[-2000:])
            return 2
        passes = [("staff", env["HALL_ADMIN_TOKEN"], ["--exclude-path-regex", "^/api/bot/"]),
                  ("bot", env["HALL_SERVICE_TOKEN"], ["--include-path-regex", "^/api/bot/"])]
        codes = []
        for name, token, filters in passes:
            cmd = [str(ST), "run", f"{base}/api/openapi.json", "--url", base, "-c", "not_a_server_error",
                   "-n", str(examples), "-H", f"Authorization: Bearer {token}", "--seed", "20261126",
                   "--phases", "examples,coverage,fuzzing", "--request-timeout", "30", "-w", "2",
                   "--generation-database", "none", "--continue-on-failure", *filters]
            print(f"--- schemathesis ({name} token, {examples} examples per operation)", flush=True)
            codes.append(subprocess.run(cmd, cwd=ROOT).returncode)
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if "aiohttp.access" in ln]
    statuses = [int(m.group(1)) for ln in lines if (m := re.search(r" (\d{3}) [\d.]+ms$", ln))]
    errors = [ln for ln in lines if re.search(r" 5\d\d [\d.]+ms$", ln)]
    summary = {"requests": len(statuses), "server_errors": len(errors), "examples_per_operation": examples,
               "seconds": round(time.monotonic() - started, 1),
               "by_status": {str(s): statuses.count(s) for s in sorted(set(statuses))},
               "schemathesis_exit_codes": codes}
    out = ROOT / "var" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "schemathesis.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    for ln in errors[:20]:
        print("5xx:", ln)
    text = log_path.read_text(errors="replace").splitlines()
    for i, ln in enumerate(text):  # the exception of each unhandled error (type and message, no payload)
        if ln.startswith("Traceback"):
            j = i + 1
            while j < len(text) and (text[j].startswith(" ") or not text[j].strip()):
                j += 1
            where = [t.strip() for t in text[i:j] if t.strip().startswith("File ") and "/work/" in t][-1:]
            print("exception:", text[j][:200] if j < len(text) else "?", *where)
    return 1 if errors or any(codes) else 0


if __name__ == "__main__":
    sys.exit(main())
