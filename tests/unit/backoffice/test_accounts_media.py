import io

import pytest
from PIL import Image
from sqlalchemy import text

from backoffice.accounts.service import AccountError
from backoffice.media.store import MediaError
from tests.unit.conftest import ACCOUNT


def png_bytes():
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(out, "PNG")
    return out.getvalue()


def test_account_is_stored_encrypted_and_shown_masked(services):
    view = services.accounts.create(ACCOUNT)
    assert view.phone_masked == "138****0001"
    assert view.id_number_masked.startswith("110") and view.id_number_masked.endswith("0012")
    assert "*" in view.id_number_masked and view.name_masked == "张*"
    assert view.balance == "100.50" and view.state == "normal" and view.bound_device is None
    with services.db.engine.connect() as conn:
        raw = " ".join(str(r) for r in conn.execute(text("SELECT * FROM accounts")))
    for secret in ("13800000001", "110105198503120012", "张伟"):
        assert secret not in raw
    assert services.accounts.find_by_id_number("110105198503120012") == ["80010001"]
    assert services.accounts.find_by_id_number("11010519850312001x") == []


@pytest.mark.parametrize("field,value", [
    ("account_number", "8001"), ("account_number", "8001000a"), ("id_number", "110105198503120013"),
    ("phone", "1380000000"), ("state", "frozen"), ("opened_on", "2021-13-01"), ("balance", "lots"),
])
def test_invalid_account_data_is_refused(services, field, value):
    with pytest.raises(AccountError):
        services.accounts.create({**ACCOUNT, field: value})


def test_duplicate_account_is_refused(services):
    services.accounts.create(ACCOUNT)
    with pytest.raises(AccountError, match="exists"):
        services.accounts.create(ACCOUNT)


def test_device_binding(services):
    services.accounts.create(ACCOUNT)
    services.accounts.bind_device("80010001", "wx-1")
    assert services.accounts.get("80010001").bound_device == "wx-1"
    services.accounts.unbind_device("80010001")
    assert services.accounts.get("80010001").bound_device is None


def test_media_round_trip_is_encrypted_on_disk(services):
    data = png_bytes()
    info = services.media.put(data, sender="wx-1")
    assert info.content_type == "image/png" and info.size == len(data)
    assert services.media.get(info.media_id) == (data, "image/png")
    on_disk = next(services.settings.media_dir.rglob(f"{info.media_id}.bin")).read_bytes()
    assert data not in on_disk and b"PNG" not in on_disk


@pytest.mark.parametrize("data,code", [(b"", "empty"), (b"hello, not an image", "unsupported")])
def test_media_refuses_bad_files(services, data, code):
    with pytest.raises(MediaError) as err:
        services.media.put(data)
    assert err.value.code == code


def test_media_refuses_oversized_files(services):
    with pytest.raises(MediaError) as err:
        services.media.put(b"\xff\xd8\xff" + b"0" * services.media.max_bytes)
    assert err.value.code == "too_large"


@pytest.mark.parametrize("media_id", ["../../etc/passwd", "ABCDEF", "0" * 31, "0" * 32 + "/x", ""])
def test_media_ids_cannot_traverse_paths(services, media_id):
    with pytest.raises(MediaError) as err:
        services.media.get(media_id)
    assert err.value.code == "bad_id"


def test_unknown_media_is_not_found(services):
    with pytest.raises(MediaError) as err:
        services.media.get("0" * 32)
    assert err.value.code == "not_found"


def test_handoff_queue_positions_and_claims(services):
    assert services.conversations.request_human("a", channel="rest", reason="customer_request",
                                                account_number=None) == 1
    services.clock.advance(1)
    assert services.conversations.request_human("b", channel="wechat", reason="repeated_fallback",
                                                account_number="80010001") == 2
    assert services.conversations.request_human("a", channel="rest", reason="again", account_number=None) == 1
    assert [c["sender"] for c in services.conversations.list("waiting")] == ["a", "b"]
    services.conversations.claim("a", "agent1")
    assert services.conversations.state("a") == "agent"
    services.clock.advance(1)
    assert services.conversations.request_human("c", channel="rest", reason="x", account_number=None) == 2
    msg = services.conversations.reply("a", "agent1", "您好，我是客服小金")
    assert services.conversations.outbox("a") == [{"id": msg["id"], "author": "agent1", "text": "您好，我是客服小金",
                                                   "sent_at": msg["sent_at"]}]
    services.conversations.release("a", "agent1")
    assert services.conversations.state("a") == "bot"
    events = [e["event"] for e in services.audit.list()]
    assert {"handoff_requested", "handoff_claimed", "handoff_reply", "handoff_released"} <= set(events)
