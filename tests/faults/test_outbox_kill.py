"""The back-office is killed while an approval's outbox is half done, and restarted.

The approval commits (status + outbox rows), the account change runs, then the SMS effect is leased and the
gateway write blocks — a test connection holds a lock on the SMS table — and the process is SIGKILLed there.
After the restart the outbox worker finishes: the account is unlocked once, one SMS, one chat notice.
"""
from __future__ import annotations

import signal
import time

import psycopg2
import pytest

from tests.faults.conftest import BUSY, until
from tests.faults.test_processes import in_background

pytestmark = pytest.mark.faults


def sql(postgres, query: str, *args):
    conn = psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="hall")
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def effects(postgres, app_id: int) -> dict:
    rows = sql(postgres, "SELECT kind, status FROM application_effects WHERE application_id = %s", app_id)
    return dict(rows)


def unlock_texts(postgres, phone: str) -> int:
    return sql(postgres, "SELECT count(*) FROM sandbox_sms WHERE \"to\" = %s AND text LIKE '%%已解锁%%'", phone)[0][0]


def test_backoffice_killed_with_the_sms_effect_in_flight(faults, customer):
    stack, pg, c = faults.stack, faults.postgres, customer
    c.login_for_unlock()
    c.face_passed()
    c.say(c.code())
    assert "账户解锁申请已提交" in c.say("确认解锁")
    [app] = c.applications()

    blocker = psycopg2.connect(host="127.0.0.1", port=pg.port, user="postgres", dbname="hall")
    try:
        with blocker.cursor() as cur:
            cur.execute("LOCK TABLE sandbox_sms IN ACCESS EXCLUSIVE MODE")
        thread, result = in_background(stack.api, "POST", f"/api/applications/{app['id']}/approve", {"note": "演练"})
        # the back-office's SMS write waits on the lock: the effect is leased, the text not yet stored
        assert until(lambda: sql(pg, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND query ILIKE '%%sandbox_sms%%'")[0][0] >= 1, timeout=60)
        assert effects(pg, app["id"]) == {"execute": "done", "sms": "sending", "chat": "pending"}
        stack.stop("backoffice", sig=signal.SIGKILL)
        thread.join(30)
        assert "error" in result  # the staff member's request died with the process
    finally:
        blocker.rollback()
        blocker.close()

    # the customer asks while the back-office is down: a busy answer, on REST and on WeChat
    assert BUSY in c.say("办理进度")
    status, reply, raw, _ = faults.wechat.post(faults.wechat.message("o-bo-down", Content="办理进度"))
    assert status == 200 and reply is not None and BUSY in reply["Content"], raw

    [[state]] = sql(pg, "SELECT state FROM accounts WHERE account_number = %s", c.account)
    assert state == "normal"  # the account change committed with its outbox mark, before the kill
    assert unlock_texts(pg, c.phone) == 0  # the SMS write died with the process
    # the SMS lease (120 s) of the dead process runs out: fast-forwarded here instead of waiting
    sql(pg, "UPDATE application_effects SET claimed_until = now() - interval '1 second' "
            "WHERE application_id = %s AND kind = 'sms'", app["id"])
    faults.restart("backoffice")

    assert until(lambda: effects(pg, app["id"]) == {"execute": "done", "sms": "done", "chat": "done"}, timeout=60)
    unlocked = [t for t in c.sms() if "已解锁" in t]
    assert len(unlocked) == 1, unlocked
    status, body = stack.api("POST", f"/api/applications/{app['id']}/approve", {"note": "重复点击"})
    assert status == 200 and body["status"] == "approved"
    time.sleep(1.0)
    assert len([t for t in c.sms() if "已解锁" in t]) == 1
    [[executed]] = sql(pg, "SELECT count(*) FROM audit_events WHERE event = 'application_executed' "
                           "AND account_number = %s", c.account)
    assert executed == 1
    status, outbox = stack.api("GET", f"/api/conversations/{c.sender}/outbox")
    assert status == 200 and sum("已解锁" in m["text"] or "审核通过" in m["text"] for m in outbox) == 1, outbox
