"""The action server and Rasa die in the middle of 账户解锁 and come back.

"In the middle" is made deterministic: a test transaction holds a lock that the back-office's write (the face
check's audit row, the application INSERT) waits for, so the killed process is certainly inside its call, not
between turns. Afterwards the conversation goes on from the step it was at, and the
database shows one application and no extra SMS.
"""
from __future__ import annotations

import re
import signal
import threading
import time
from contextlib import contextmanager

import psycopg2
import pytest

from tests.faults.conftest import BUSY, until
from tests.support.stack import free_port

pytestmark = pytest.mark.faults


def in_background(func, *args):
    result: dict = {}

    def run():
        try:
            result["value"] = func(*args)
        except Exception as exc:  # the connection of a killed server: what a customer's app sees
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def sql_connection(postgres):
    return psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="hall")


def lock_waiters(postgres, table: str) -> int:
    """Back-office statements on `table` waiting for a lock a test holds."""
    conn = sql_connection(postgres)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE %s",
                        (f"%{table}%",))
            return cur.fetchone()[0]
    finally:
        conn.close()


def unlock_sms(customer) -> list[str]:
    return [t for t in customer.sms() if "账户解锁" in t and "验证码" in t]


@contextmanager
def blocked_writes(postgres, table: str):
    """A test transaction holds SHARE on `table`: reads go on, the back-office's writes to it wait."""
    blocker = sql_connection(postgres)
    try:
        with blocker.cursor() as cur:
            cur.execute(f"LOCK TABLE {table} IN SHARE MODE")
        yield
    finally:
        blocker.rollback()
        blocker.close()


def test_action_server_killed_inside_the_face_check_and_the_submit(faults, customer):
    stack, pg, c = faults.stack, faults.postgres, customer
    c.login_for_unlock()

    # the live check has run and waits to write its audit row when the action server dies
    media = c.clip_media()
    with blocked_writes(pg, "audit_events"):
        thread, result = in_background(c.say, f'/upload_video{{"media_id":"{media}"}}')
        assert until(lambda: lock_waiters(pg, "audit_events") >= 1, timeout=60)
        stack.stop("actions", sig=signal.SIGKILL)
        thread.join(60)
    assert BUSY in result.get("value", ""), result  # not silence: the customer is told to try again
    # a WeChat customer meanwhile: Rasa would say nothing at all, the channel says 系统繁忙
    status, reply, raw, _ = faults.wechat.post(faults.wechat.message("o-actions-down", Content="办理进度"))
    assert status == 200 and reply is not None and BUSY in reply["Content"], raw

    faults.restart("actions")
    c.face_passed()  # the same step again: a clip is sent and the check's outcome is used
    assert len(unlock_sms(c)) == 1  # one business code, sent after the face check the customer saw
    assert "确认解锁" in c.say(c.code())

    # killed again while the application INSERT waits: the application is created, the customer is told to
    # retry, and retrying answers with that application instead of opening a second one
    with blocked_writes(pg, "applications"):
        thread, result = in_background(c.say, "确认解锁")
        assert until(lambda: lock_waiters(pg, "applications") >= 1, timeout=60)
        stack.stop("actions", sig=signal.SIGKILL)
        thread.join(60)
    assert BUSY in result.get("value", ""), result
    assert until(lambda: len(c.applications()) == 1)
    faults.restart("actions")
    reply = c.say("确认解锁")
    [app] = c.applications()
    assert app["status"] == "pending" and f"编号{app['id']}" in reply, reply
    assert len(unlock_sms(c)) == 1


@pytest.mark.slow  # a second Rasa instance and a restart (~90 s): `make faults` runs it, `make test` does not
def test_rasa_killed_between_turns_and_inside_the_submit(faults, customer):
    """Two Rasa instances on the same Redis stores, as deployed: one dies, the other carries on at once."""
    stack, c = faults.stack, customer
    stack.ports["rasa"].append(free_port())
    stack.start_rasa(1)  # loads while the customer logs in on the first one
    try:
        c.login_for_unlock()
        c.face_passed()
        stack.wait_ready()

        # between turns: the tracker is in Redis, the other instance continues the form
        stack.stop("rasa0", sig=signal.SIGKILL)
        assert "确认解锁" in c.say(c.code(), instance=1)
        stack.start_rasa(0)  # the supervisor restarts the dead one

        # inside the submit: the back-office's INSERT of the application waits on a table lock (reads go on)
        # while Rasa is killed, so the application is created after the turn that asked for it has died
        with blocked_writes(faults.postgres, "applications"):
            thread, result = in_background(c.say, "确认解锁", 1)
            assert until(lambda: lock_waiters(faults.postgres, "applications") >= 1, timeout=60)
            stack.stop("rasa1", sig=signal.SIGKILL)
            thread.join(60)
        assert "error" in result  # the app's request died with the server
        # the back-office finished the call it had received: the application exists once
        assert until(lambda: len(c.applications()) == 1)
    finally:
        stack.stop("rasa1")
        stack.ports["rasa"].pop()

    stack.wait_ready()
    # Rasa saves a turn at its end, so the killed turn is not in the tracker: the customer repeats it and is
    # told the application is already under way — not a second application
    reply = c.say("确认解锁")
    [app] = c.applications()
    assert f"编号{app['id']}" in reply and ("已提交" in reply or "无需重复提交" in reply), reply
    assert len(unlock_sms(c)) == 1

    status, body = stack.api("POST", f"/api/applications/{app['id']}/approve", {"note": "故障演练"})
    assert status == 200 and body["status"] == "approved"
    done = until(lambda: [t for t in c.sms() if "已解锁" in t])
    time.sleep(1.0)
    assert len([t for t in c.sms() if "已解锁" in t]) == 1 == len(done)
    assert re.search(r"办理进度|已通过", c.say("办理进度"))
