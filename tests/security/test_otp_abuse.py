"""OTP brute force and SMS flooding: per code, per phone, per sender and per IP limits."""
from __future__ import annotations

import io
import json

from aiohttp import FormData
from PIL import Image

from backoffice.otp import service as otp_module
from tests.security.conftest import ACCOUNT, bot, last_code, wrong


def _recover_ready(services, sender: str, id_number: str) -> None:
    """The ID and face steps of 找回账户 passed (they have their own biometric tests)."""
    services.identity._save_pending(sender, {"id_enc": services.crypto.encrypt_str(id_number), "confirmed": True,
                                             "front": "0" * 32})
    services.identity.record_pass(sender, "recover", None, {"decision": "accept", "distance": 0.3})


async def test_five_wrong_codes_void_the_code(client, services):
    sender = "wx-brute"
    await bot(client, "/api/bot/login/start", sender=sender, account_number=ACCOUNT["account_number"],
              phone=ACCOUNT["phone"])
    code = last_code(services, ACCOUNT["phone"])
    answers = [await bot(client, "/api/bot/login/verify", sender=sender, code=wrong(code)) for _ in range(5)]
    assert [a["status"] for a in answers[:4]] == ["wrong"] * 4
    assert [a["remaining"] for a in answers[:4]] == [4, 3, 2, 1]
    assert answers[4]["status"] == "locked_out"
    # the right code no longer opens anything, even after the lock-out is over
    assert (await bot(client, "/api/bot/login/verify", sender=sender, code=code))["status"] == "locked_out"
    assert services.otp.verify(ACCOUNT["phone"], "login", code).status == "expired"


def test_five_wrong_codes_void_a_business_code(services):
    phone = ACCOUNT["phone"]
    code = services.otp.issue(phone, "biz:unlock_account", sender="s1").code
    results = [services.otp.verify(phone, "biz:unlock_account", wrong(code), sender="s1").status for _ in range(5)]
    assert results == ["wrong"] * 4 + ["exhausted"]
    assert services.otp.verify(phone, "biz:unlock_account", code, sender="s1").status == "expired"


async def test_resend_waits_a_minute_and_ten_codes_a_day_per_phone(client, services):
    sender = "wx-resend"
    start = await bot(client, "/api/bot/login/start", sender=sender, account_number=ACCOUNT["account_number"],
                      phone=ACCOUNT["phone"])
    assert start["status"] == "sent"
    early = await bot(client, "/api/bot/login/resend", sender=sender)
    assert early["status"] == "wait" and 1 <= early["wait_seconds"] <= 60
    services.clock.advance(59)
    assert (await bot(client, "/api/bot/login/resend", sender=sender))["status"] == "wait"
    statuses = []
    for i in range(12):  # start again each time: the login step itself only waits 10 minutes
        services.clock.advance(61)
        statuses.append((await bot(client, "/api/bot/login/start", sender=sender,
                                   account_number=ACCOUNT["account_number"], phone=ACCOUNT["phone"]))["status"])
    # one conversation alone gets at most PHONE_SENDER_DAILY_LIMIT of the phone's codes
    assert statuses[:otp_module.PHONE_SENDER_DAILY_LIMIT - 1] == ["sent"] * (otp_module.PHONE_SENDER_DAILY_LIMIT - 1)
    assert set(statuses[otp_module.PHONE_SENDER_DAILY_LIMIT - 1:]) == {"too_many"}
    others = []
    for i in range(8):  # several conversations together reach the phone's own cap of the day
        services.clock.advance(61)
        others.append((await bot(client, "/api/bot/login/start", sender=f"wx-other-{i}",
                                 account_number=ACCOUNT["account_number"], phone=ACCOUNT["phone"]))["status"])
    assert others[:5] == ["sent"] * 5 and set(others[5:]) == {"too_many"}
    assert len(services.sms.messages(ACCOUNT["phone"])) == otp_module.DAILY_LIMIT
    services.clock.advance(86400)
    assert (await bot(client, "/api/bot/login/start", sender=sender, account_number=ACCOUNT["account_number"],
                      phone=ACCOUNT["phone"]))["status"] == "sent"


async def test_one_sender_cannot_flood_many_phones(client, services):
    """找回账户 accepts any phone (answers never tell which are customers'): the sender cap stops a flood."""
    sender = "wx-flooder"
    _recover_ready(services, sender, ACCOUNT["id_number"])
    statuses = []
    for i in range(otp_module.SENDER_DAILY_LIMIT + 3):
        statuses.append((await bot(client, "/api/bot/recover/start", sender=sender, phone=f"1370000{i:04d}"))["status"])
    assert statuses == ["sent"] * otp_module.SENDER_DAILY_LIMIT + ["too_many"] * 3
    # another sender is not affected by this one's cap
    _recover_ready(services, "wx-other", ACCOUNT["id_number"])
    assert (await bot(client, "/api/bot/recover/start", sender="wx-other", phone=ACCOUNT["phone"]))["status"] == "sent"


def test_sender_cap_on_login_codes_across_accounts(services):
    for i in range(otp_module.SENDER_DAILY_LIMIT):
        assert services.otp.issue(f"1360000{i:04d}", "login", sender="wx-many").status == "sent"
    assert services.otp.issue(ACCOUNT["phone"], "login", sender="wx-many").status == "too_many"
    assert services.otp.issue(ACCOUNT["phone"], "login", sender="wx-someone-else").status == "sent"


async def test_resending_does_not_buy_fresh_guesses(client, services):
    """Per sender: after 10 wrong codes in an hour, even the right code is refused (and voided)."""
    sender = "wx-guesser"
    _recover_ready(services, sender, ACCOUNT["id_number"])
    assert (await bot(client, "/api/bot/recover/start", sender=sender, phone=ACCOUNT["phone"]))["status"] == "sent"
    seen = []
    for _round in range(2):
        code = last_code(services, ACCOUNT["phone"])
        for _ in range(otp_module.SENDER_MAX_FAILURES // 2):
            seen.append((await bot(client, "/api/bot/recover/verify", sender=sender, code=wrong(code)))["status"])
        services.clock.advance(61)
        assert (await bot(client, "/api/bot/recover/resend", sender=sender))["status"] == "sent"
    assert seen.count("exhausted") == 2
    fresh = last_code(services, ACCOUNT["phone"])
    assert (await bot(client, "/api/bot/recover/verify", sender=sender, code=fresh))["status"] == "exhausted"
    # an hour later the sender may try again with a new code
    services.clock.advance(otp_module.SENDER_FAILURE_WINDOW + 1)
    _recover_ready(services, sender, ACCOUNT["id_number"])
    assert (await bot(client, "/api/bot/recover/start", sender=sender, phone=ACCOUNT["phone"]))["status"] == "sent"
    code = last_code(services, ACCOUNT["phone"])
    assert (await bot(client, "/api/bot/recover/verify", sender=sender, code=code))["status"] == "ok"


async def test_one_address_cannot_spread_codes_over_many_conversations(client, services):
    """Per IP (as the REST channel saw it): fresh conversation ids do not buy fresh codes; another address, the
    local simulator (loopback) and customers without an address (WeChat) are not affected."""
    limit = services.settings.ip_otp_codes_per_hour

    async def recover(sender: str, phone: str, **where) -> str:
        _recover_ready(services, sender, ACCOUNT["id_number"])
        return (await bot(client, "/api/bot/recover/start", sender=sender, phone=phone, **where))["status"]

    statuses = [await recover(f"rest-ip-{i}", f"1370001{i:04d}", client_ip="203.0.113.7") for i in range(limit + 2)]
    assert statuses == ["sent"] * limit + ["too_many"] * 2
    # the same address written differently is the same address
    assert await recover("rest-ip-v6", "13700029999", client_ip="::ffff:203.0.113.7") == "too_many"
    assert await recover("rest-ip-x", "13700020001", client_ip=" 203.0.113.7 ") == "too_many"
    assert await recover("rest-other", "13700020002", client_ip="198.51.100.9") == "sent"
    assert await recover("rest-local", "13700020003", client_ip="127.0.0.1") == "sent"
    assert await recover("wx-openid", "13700020004") == "sent"
    assert (await bot(client, "/api/bot/login/start", sender="rest-login", client_ip="203.0.113.7",
                      account_number=ACCOUNT["account_number"], phone=ACCOUNT["phone"]))["status"] == "too_many"
    services.clock.advance(otp_module.IP_WINDOW + 1)
    assert await recover("rest-ip-later", "13700020005", client_ip="203.0.113.7") == "sent"


async def test_one_address_cannot_spread_guesses_over_many_conversations(client, services):
    """Per IP: wrong codes from many conversations of one address add up; past the cap even a right code is
    refused from there, but the code stays valid for its owner elsewhere (an address may be shared)."""
    limit, where = services.settings.ip_otp_failures_per_hour, {"client_ip": "203.0.113.8"}
    seen, phone = [], ACCOUNT["phone"]  # a customer's phone: only then is a code really sent
    for i in range(limit // 4 + 1):  # 4 wrong guesses each: under the per-code (5) and per-sender (10) limits
        sender = f"rest-guess-{i}"
        _recover_ready(services, sender, ACCOUNT["id_number"])
        services.clock.advance(61)  # the phone's resend minute
        assert (await bot(client, "/api/bot/recover/start", sender=sender, phone=phone, **where))["status"] == "sent"
        code = last_code(services, phone)
        for _ in range(4):
            seen.append((await bot(client, "/api/bot/recover/verify", sender=sender, code=wrong(code),
                                   **where))["status"])
    assert seen[:limit] == ["wrong"] * limit and set(seen[limit:]) == {"exhausted"}
    assert (await bot(client, "/api/bot/recover/verify", sender=sender, code=code, **where))["status"] == "exhausted"
    assert (await bot(client, "/api/bot/recover/verify", sender=sender, code=code,
                      client_ip="198.51.100.10"))["status"] == "ok"


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 10, 10)).save(out, "JPEG")
    return out.getvalue()


async def _upload(client, headers=None):
    form = FormData()
    form.add_field("file", _jpeg(), filename="a.jpg", content_type="image/jpeg")
    return await client.post("/api/media", data=form, headers=headers or {})


async def test_anonymous_uploads_are_capped_per_ip(client, services):
    limit = services.settings.ip_media_per_hour
    for _ in range(limit):
        assert (await _upload(client)).status == 201
    refused = await _upload(client)
    assert refused.status == 429
    body = await refused.json()
    assert body["error"] == "rate_limited" and "稍后" in body["message"]
    # the channels upload for all their customers with the service token: not an anonymous client
    assert (await _upload(client, client.bot)).status == 201
    services.clock.advance(3601)
    assert (await _upload(client)).status == 201


async def test_h5_agree_posts_are_capped_per_ip(client, services):
    limit = services.settings.ip_h5_posts_per_hour
    statuses = [(await client.post("/h5/agreements/not-a-token/agree")).status for _ in range(limit + 1)]
    assert set(statuses[:limit]) == {404} and statuses[limit] == 429


async def test_a_forwarded_for_header_counts_only_behind_a_trusted_proxy(client, services):
    limit = services.settings.ip_media_per_hour
    # no trusted proxy configured: a client cannot dodge the cap by inventing X-Forwarded-For
    for i in range(limit):
        assert (await _upload(client, {"X-Forwarded-For": f"198.51.100.{i % 250}"})).status == 201
    assert (await _upload(client, {"X-Forwarded-For": "198.51.100.251"})).status == 429
    # behind one trusted proxy (HALL_PROXIES_COUNT=1) the address it appended is the client
    services.settings.proxies_count = 1
    assert (await _upload(client, {"X-Forwarded-For": "203.0.113.5, 198.51.100.251"})).status == 201
    assert (await _upload(client, {"X-Forwarded-For": "198.51.100.252"})).status == 201
