"""Retention purge (ManualClock) and key rotation."""
from __future__ import annotations

import io
import subprocess
import sys

import pytest
from PIL import Image
from sqlalchemy import select

from backoffice.accounts.login import CustomerSession
from backoffice.core.crypto import Crypto
from backoffice.core.kvstore import MemoryKV
from backoffice.handoff.conversations import Conversation, OutboundMessage
from backoffice.maintenance.keyrotation import rotate_keys
from backoffice.maintenance.retention import Retention
from backoffice.media.store import MediaError, MediaObject
from backoffice.services import build_services
from tests.security.conftest import ACCOUNT, OTHER
from tests.unit.conftest import make_settings, pg_url  # noqa: F401  (fixture)

DAY = 86400


def _jpeg(color=(1, 2, 3)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), color).save(out, "JPEG")
    return out.getvalue()


def _count(services, model) -> int:
    with services.db.session() as s:
        return len(list(s.execute(select(model)).scalars()))


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, services, tmp_path, clock):
    """The purge deletes with SQL of its own: on both databases."""
    if request.param == "sqlite":
        yield services
        return
    from tests.unit.conftest import _truncate

    url = request.getfixturevalue("pg_url")
    _truncate(url)
    svc = build_services(make_settings(url, tmp_path / "pg"), clock=clock, kv=MemoryKV(clock))
    svc.accounts.create(ACCOUNT)
    svc.accounts.create(OTHER)
    yield svc
    svc.close()


def test_purge_deletes_what_is_past_its_period_and_keeps_what_is_referenced(store, clock):
    services = store
    s = services.settings
    orphan = services.media.put(_jpeg())
    portrait = services.media.put(_jpeg((9, 9, 9)))
    services.accounts.set_portrait(ACCOUNT["account_number"], portrait.media_id)
    id_front = services.media.put(_jpeg((7, 7, 7)))
    services.accounts.set_id_on_file(OTHER["account_number"], {"front_media_id": id_front.media_id})
    services.sms.send(ACCOUNT["phone"], "【金信期货】验证码123456")
    services.conversations.request_human("wx-old", channel="rest", reason="customer_request", account_number=None)
    services.conversations.claim("wx-old", "agent1")
    services.conversations.reply("wx-old", "agent1", "您好")
    services.conversations.release("wx-old", "agent1")
    services.conversations.request_human("wx-waiting", channel="rest", reason="customer_request",
                                         account_number=None)
    services.otp.issue(ACCOUNT["phone"], "login", sender="wx-old")
    with services.db.session() as db:
        db.add(CustomerSession(sender="wx-idle", account_number=ACCOUNT["account_number"],
                               started_at=clock.utcnow(), last_seen=clock.utcnow()))

    retention = Retention(services)
    clock.advance(s.retain_sms_days * DAY - 60)
    report = retention.purge()
    assert report["media"] == report["sms"] == report["outbox"] == report["conversations"] == 0
    assert report["sessions"] == 1  # idle longer than the session timeout
    assert report["kv_keys"] >= 1  # the OTP code and its resend marker, long expired

    clock.advance(120)  # SMS now older than their period
    assert retention.purge()["sms"] == 1 and services.sms.messages(ACCOUNT["phone"]) == []

    clock.advance((s.retain_media_days - s.retain_sms_days) * DAY)
    report = retention.purge()
    assert report["media"] == 1 and report["outbox"] == 1
    try:
        services.media.get(orphan.media_id)
        raise AssertionError("the orphan media is still readable")
    except MediaError as exc:
        assert exc.code == "not_found"
    assert not services.media.path_of(orphan.media_id).exists()
    assert services.media.get(portrait.media_id)[0] and services.media.get(id_front.media_id)[0]
    assert _count(services, OutboundMessage) == 0

    clock.advance((s.retain_conversations_days - s.retain_media_days) * DAY)
    assert retention.purge()["conversations"] == 1
    with services.db.session() as db:
        left = [c.sender for c in db.execute(select(Conversation)).scalars()]
    assert left == ["wx-waiting"]  # a customer still waiting for an agent is never dropped
    assert _count(services, MediaObject) == 2
    events = services.audit.list(event="retention_purge")
    assert events and "13800000001" not in str(events)


def test_zero_keeps_forever(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'keep.db'}"
    from backoffice.core.migrate import upgrade

    upgrade(url)
    svc = build_services(make_settings(url, tmp_path, retain_media_days=0, retain_sms_days=0),
                         clock=clock, kv=MemoryKV(clock))
    try:
        media = svc.media.put(_jpeg())
        svc.sms.send("13800000001", "x")
        clock.advance(3650 * DAY)
        report = Retention(svc).purge()
        assert report["media"] == 0 and report["sms"] == 0
        assert svc.media.get(media.media_id)[0]
    finally:
        svc.close()


def test_rotate_keys_reencrypts_everything_with_the_newest_key(tmp_path, clock):
    from backoffice.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'rot.db'}"
    upgrade(url)
    old = build_services(make_settings(url, tmp_path, data_keys=["old-key"]), clock=clock, kv=MemoryKV(clock))
    old.accounts.create(ACCOUNT)
    media = old.media.put(_jpeg())
    old.close()

    rotated = build_services(make_settings(url, tmp_path, data_keys=["new-key", "old-key"]), clock=clock,
                             kv=MemoryKV(clock))
    try:
        counts = rotate_keys(rotated)
        assert counts["values"] >= 3 and counts["media_files"] == 1
        only_new = Crypto(["new-key"])
        from backoffice.accounts.service import Account

        with rotated.db.session() as db:
            row = db.get(Account, ACCOUNT["account_number"])
            assert only_new.decrypt_str(row.phone_enc) == ACCOUNT["phone"]
            assert only_new.decrypt_str(row.id_number_enc) == ACCOUNT["id_number"]
            assert only_new.decrypt_str(row.name_enc) == ACCOUNT["name"]
        assert only_new.decrypt(rotated.media.path_of(media.media_id).read_bytes())[:3] == b"\xff\xd8\xff"
        # lookups by blind index still work (the index key is the last key of the list)
        assert rotated.accounts.phone_matches(ACCOUNT["account_number"], ACCOUNT["phone"])
        assert rotated.accounts.find_by_id_number(ACCOUNT["id_number"]) == [ACCOUNT["account_number"]]
    finally:
        rotated.close()


def test_cli_commands_exist():
    out = subprocess.run([sys.executable, "-m", "backoffice", "--help"], capture_output=True, text=True)
    assert "purge" in out.stdout and "rotate-keys" in out.stdout
