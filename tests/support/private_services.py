"""Private Redis and PostgreSQL servers on free ports, for tests that stop and restart them.

The shared servers on 5432/6379 serve every other test on the machine: fault tests must never touch them.
Each instance here lives in its own temporary directory and is stopped (and its directory removed) at the end.
PostgreSQL refuses to run as root, so when the tests run as root the cluster is created and run as the
`postgres` system user (runuser), in a directory that user owns.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
import redis

from tests.support.stack import free_port

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivateRedis:
    """redis-server on a free port. `persistent=True` keeps data across restarts (AOF), like production."""

    def __init__(self, workdir: Path, *, persistent: bool = True):
        self.dir = Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persistent = persistent
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always", "--save", ""] if self.persistent
                       else ["--appendonly", "no", "--save", ""])
        log = open(self.dir / "redis.log", "ab")
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--dir", str(self.dir), *persistence], stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        client = redis.Redis(port=self.port, socket_timeout=1)
        for _ in range(100):
            try:
                if client.ping():
                    return
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("private redis did not start:\n" + (self.dir / "redis.log").read_text()[-2000:])

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()


class PrivatePostgres:
    """A throw-away PostgreSQL 15 cluster (initdb) on a free port, unix socket in its own directory."""

    def __init__(self, workdir: Path):
        self.root = Path(workdir)
        self.data = self.root / "data"
        self.port = free_port()
        self._as_postgres = os.geteuid() == 0

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/hall"

    def _run(self, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        full = (["runuser", "-u", "postgres", "--"] if self._as_postgres else []) + list(cmd)
        return subprocess.run(full, check=check, capture_output=True, text=True, cwd="/")

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if self._as_postgres:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self.start()
        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE hall")
        conn.close()

    def _ctl(self, *args: str) -> None:
        result = self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args, check=False)
        if result.returncode != 0:
            log = (self.root / "pg.log")
            raise RuntimeError(f"pg_ctl {args[-1]} failed: {result.stderr}\n"
                               + (log.read_text()[-2000:] if log.exists() else ""))

    def start(self) -> None:
        self._ctl("-l", str(self.root / "pg.log"), "-o",
                  f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self, mode: str = "fast") -> None:
        """fast: disconnects every client at once (what a crash or a failover looks like to them)."""
        self._ctl("-m", mode, "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_redis(persistent: bool = True):
    workdir = Path(tempfile.mkdtemp(prefix="hall-redis-"))
    server = PrivateRedis(workdir, persistent=persistent)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@contextmanager
def private_postgres():
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries not found in {PG_BIN} (set PG_BIN)")
    server = PrivatePostgres(Path(tempfile.mkdtemp(prefix="hall-pg-")))
    try:
        server.init()
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def redis_server():
    with private_redis() as server:
        yield server


@pytest.fixture(scope="module")
def postgres_server():
    with private_postgres() as server:
        yield server
