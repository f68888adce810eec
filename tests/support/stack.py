"""Start the real product (back-office, action server, Rasa server) on free ports for end-to-end tests.

Used by tests/e2e and the benchmarks. Each process logs to a file under the stack's directory; on
failure the tail of each log is shown.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method: str, url: str, body=None, token: str | None = None, timeout: float = 60.0,
         headers: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
            try:
                return resp.status, (json.loads(raw) if raw else None)
            except ValueError:  # a plain-text answer (e.g. Rasa's "/" health line)
                return resp.status, raw.decode(errors="replace")
    except urllib.error.HTTPError as exc:
        raw = exc.read()
        try:
            return exc.code, json.loads(raw)
        except ValueError:
            return exc.code, raw.decode(errors="replace")


class Stack:
    def __init__(self, workdir: Path, *, database_url: str, redis_url: str | None, model: Path,
                 extra_env: dict | None = None, rasa_instances: int = 1):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database_url, self.redis_url, self.model = database_url, redis_url, model
        self.ports = {"backoffice": free_port(), "backoffice_bot": free_port(), "actions": free_port(),
                      "rasa": [free_port() for _ in range(rasa_instances)]}
        self.admin_token = "test-admin-" + os.urandom(8).hex()
        self.service_token = "test-service-" + os.urandom(8).hex()
        self.env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HALL_VAR_DIR": str(self.workdir / "var"),
            "DATABASE_URL": database_url,
            "MEDIA_DIR": str(self.workdir / "media"),
            "HALL_ADMIN_TOKEN": self.admin_token,
            "HALL_SERVICE_TOKEN": self.service_token,
            "HALL_DATA_KEY": "test-data-key-" + os.urandom(8).hex(),
            "BACKOFFICE_PORT": str(self.ports["backoffice"]),
            "BACKOFFICE_BOT_PORT": str(self.ports["backoffice_bot"]),
            "BACKOFFICE_BOT_URL": f"http://127.0.0.1:{self.ports['backoffice_bot']}",
            "HALL_ACTION_TOKEN": "test-action-" + os.urandom(8).hex(),
            "HALL_PUBLIC_URL": f"http://127.0.0.1:{self.ports['backoffice']}",
            "ACTION_PORT": str(self.ports["actions"]),
            "ACTION_ENDPOINT_URL": f"http://127.0.0.1:{self.ports['actions']}/webhook",
            "RASA_URL": f"http://127.0.0.1:{self.ports['rasa'][0]}",
            "RASA_KEY_PREFIX": "t" + os.urandom(4).hex(),
            "HALL_KV_PREFIX": "t" + os.urandom(4).hex() + ":",
            "ORT_DISABLE_TELEMETRY": "1",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "RASA_TELEMETRY_ENABLED": "false",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "SANIC_HOST": "127.0.0.1",
            "HALL_LIVENESS_ACTIONS": "blink",  # one action per live check: one rendered clip per person serves
            **(extra_env or {}),
        }
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        else:
            self.env.pop("REDIS_URL", None)
        self.procs: dict[str, subprocess.Popen] = {}

    # --- lifecycle -------------------------------------------------------------------------
    def _spawn(self, name: str, cmd: list[str], env: dict | None = None) -> None:
        log = open(self.workdir / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(cmd, cwd=ROOT, env={**self.env, **(env or {})}, stdout=log,
                                            stderr=subprocess.STDOUT, start_new_session=True)

    def start_backoffice_replica(self) -> str:
        """A second back-office process on the same database, Redis and media, as a second replica behind a
        load balancer would be; returns its URL (no biometrics pre-warm: it serves pages and sockets here)."""
        port = free_port()
        self._spawn("backoffice2", [str(VENV_BIN / "python"), "-m", "backoffice", "serve"],
                    env={"BACKOFFICE_PORT": str(port), "BACKOFFICE_BOT_PORT": str(free_port()),
                         "BIOMETRICS_PREWARM": "0"})
        return f"http://127.0.0.1:{port}"

    def start_backoffice(self) -> None:
        py = str(VENV_BIN / "python")
        subprocess.run([py, "-m", "backoffice", "migrate"], cwd=ROOT, env=self.env, check=True,
                       capture_output=True)
        subprocess.run([py, "-m", "backoffice", "seed"], cwd=ROOT, env=self.env, check=True, capture_output=True)
        self._spawn("backoffice", [py, "-m", "backoffice", "serve"])

    def start_actions(self) -> None:
        self._spawn("actions", [str(VENV_BIN / "python"), "-m", "bot.action_server", "--actions", "bot.actions",
                                "--port", str(self.ports["actions"])])

    def start_rasa(self, index: int = 0, env: dict | None = None) -> None:
        """Rasa instance `index`; `env` adds settings for this instance only (e.g. another channel setup)."""
        endpoints = self.workdir / "endpoints.yml"
        subprocess.run([str(VENV_BIN / "python"), str(ROOT / "scripts" / "rasa_endpoints.py"), str(endpoints)],
                       cwd=ROOT, env=self.env, check=True, capture_output=True)
        # scripts/rasa_run.py = `rasa` with bot/rasa_speedups.py applied, as in production (Procfile)
        self._spawn(f"rasa{index}", [str(VENV_BIN / "python"), str(ROOT / "scripts" / "rasa_run.py"), "run",
                                     "--enable-api", "-i", "127.0.0.1",
                                     "--port", str(self.ports["rasa"][index]), "--model", str(self.model),
                                     "--endpoints", str(endpoints), "--credentials", str(ROOT / "credentials.yml")],
                    env=env)

    def start(self) -> "Stack":
        self.start_backoffice()
        self.start_actions()
        for i in range(len(self.ports["rasa"])):
            self.start_rasa(i)
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 240.0) -> None:
        deadline = time.monotonic() + timeout
        checks = {"backoffice": f"{self.backoffice_url}/api/health",
                  "actions": f"http://127.0.0.1:{self.ports['actions']}/health",
                  **{f"rasa{i}": f"http://127.0.0.1:{p}/status" for i, p in enumerate(self.ports["rasa"])}}
        pending = dict(checks)
        while pending and time.monotonic() < deadline:
            for name, url in list(pending.items()):
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited early:\n{self.log_tail(name)}")
                try:
                    status, body = http("GET", url, timeout=3)
                    if status == 200 and (not name.startswith("rasa") or (body or {}).get("model_file")):
                        pending.pop(name)
                except (OSError, ValueError):
                    pass
            time.sleep(0.5)
        if pending:
            raise RuntimeError("not ready: " + ", ".join(pending) + "\n" +
                               "\n".join(self.log_tail(n) for n in pending))

    def stop(self, name: str | None = None, sig=signal.SIGTERM) -> None:
        for key in [name] if name else list(self.procs):
            proc = self.procs.pop(key, None)
            if proc is None or proc.poll() is not None:
                continue
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace").splitlines()[-lines:] if path.exists() else []
        return f"--- {name} ---\n" + "\n".join(text)

    # --- talking to it -----------------------------------------------------------------------
    @property
    def backoffice_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['backoffice']}"

    def rasa_url(self, index: int = 0) -> str:
        return f"http://127.0.0.1:{self.ports['rasa'][index]}"

    @property
    def bot_api_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['backoffice_bot']}"

    def say(self, conversation: str, message: str, index: int = 0, headers: dict | None = None) -> list[dict]:
        """A REST message of the conversation `rest:<sender>` (a bare sender is taken as `rest:<sender>` too)."""
        sender = conversation.removeprefix("rest:")
        status, body = http("POST", f"{self.rasa_url(index)}/webhooks/rest/webhook",
                            {"sender": sender, "message": message}, headers=headers)
        assert status == 200, (status, body)
        return body

    def api(self, method: str, path: str, body=None):
        return http(method, self.backoffice_url + path, body, token=self.admin_token)

    def bot(self, path: str, body: dict):
        """A call of the bot API (its own listener, service token), as the action server makes it."""
        return http("POST", self.bot_api_url + path, body, token=self.service_token)

    def upload(self, data: bytes, conversation: str | None, filename: str = "f.jpg") -> str:
        """Store a file for a conversation as its channel would: a REST client uploads anonymously naming its
        sender; other channels upload with the service token naming the conversation. None: a file of no
        conversation (staff material such as a signature on file)."""
        boundary = uuid.uuid4().hex
        conversation = conversation or ""
        sender = conversation.removeprefix("rest:")
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"sender\"\r\n\r\n{sender}\r\n"
                if sender else "")
        body = (part + f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
                f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        base = self.backoffice_url
        if conversation and not conversation.startswith("rest:"):
            headers["Authorization"] = f"Bearer {self.service_token}"
            base = self.bot_api_url
        req = urllib.request.Request(f"{base}/api/media", data=body, method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read())["media_id"]

    def sms(self, phone: str) -> list[dict]:
        status, body = self.api("GET", f"/api/sandbox/sms?phone={phone}")
        assert status == 200, body
        return body


def texts(replies: list[dict]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


if __name__ == "__main__":  # manual smoke run: python tests/support/stack.py MODEL
    stack = Stack(Path("/tmp/hall-stack"), database_url="sqlite:////tmp/hall-stack/hall.db", redis_url=None,
                  model=Path(sys.argv[1]))
    stack.start()
    print(json.dumps(stack.ports), stack.admin_token, flush=True)
    try:
        while True:
            time.sleep(3600)
    finally:
        stack.stop()
