"""Oversized bodies are refused with 413 and a clear message, before they are read into memory."""
from __future__ import annotations

import json

import aiohttp
from aiohttp import FormData

from backoffice.web.app import MAX_BODY
from backoffice.web.common import MAX_JSON_BYTES


async def test_media_over_the_store_limit(client, services):
    form = FormData()
    form.add_field("file", b"\xff\xd8\xff" + b"0" * services.settings.max_media_bytes, filename="big.jpg")
    resp = await client.post("/api/media", data=form, headers=client.bot)
    assert resp.status == 413
    body = await resp.json()
    assert body["error"] == "too_large" and "10MB" in body["message"]


async def test_body_over_the_app_limit_is_refused_from_its_length(client):
    resp = await client.post("/api/media", data=b"x" * (MAX_BODY + 1),
                             headers={**client.bot, "Content-Type": "multipart/form-data; boundary=zz"})
    assert resp.status == 413 and (await resp.json())["error"] == "too_large"


async def test_chunked_media_upload_is_capped_while_streaming(client, services):
    async def stream():
        yield b"--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.jpg\"\r\n\r\n\xff\xd8\xff"
        for _ in range(services.settings.max_media_bytes // (1 << 20) + 2):
            yield b"0" * (1 << 20)
        yield b"\r\n--zz--\r\n"

    try:
        resp = await client.post("/api/media", data=stream(),
                                 headers={**client.bot, "Content-Type": "multipart/form-data; boundary=zz"})
    except aiohttp.ClientOSError:
        return  # refused while the client was still sending
    assert resp.status == 413


async def test_json_body_limit(client):
    big = {"sender": "s", "account_number": "8" * MAX_JSON_BYTES}
    resp = await client.post("/api/bot/login/start", data=json.dumps(big), headers={**client.bot,
                             "Content-Type": "application/json"})
    assert resp.status == 413
    body = await resp.json()
    assert body["error"] == "too_large" and str(MAX_JSON_BYTES) in body["message"]


async def test_chunked_json_body_limit(client):
    async def chunked():
        yield b'{"sender": "s", "x": "'
        for _ in range(MAX_JSON_BYTES // 4096 + 2):
            yield b"a" * 4096
        yield b'"}'

    try:
        resp = await client.post("/api/bot/login/start", data=chunked(), headers={**client.bot,
                                 "Content-Type": "application/json"})
    except aiohttp.ClientOSError:
        return  # the server answered 413 and closed the connection while the client was still sending
    assert resp.status == 413


async def test_staff_json_body_limit(client):
    resp = await client.post("/api/accounts", data=b"[" * (MAX_BODY + 10), headers={**client.staff,
                             "Content-Type": "application/json"})
    assert resp.status == 413 and (await resp.json())["error"] == "too_large"


async def test_deeply_nested_json_is_a_400_not_a_crash(client):
    resp = await client.post("/api/bot/login/start", data=b"[" * 100_000 + b"]" * 100_000,
                             headers={**client.bot, "Content-Type": "application/json"})
    assert resp.status in (400, 413)


async def test_console_form_over_the_limit(client):
    resp = await client.post("/console/login", data=b"a=" + b"b" * (MAX_BODY + 1),
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 413


async def test_malformed_multipart_is_a_400(client):
    """Found by schemathesis: bad part headers and a missing boundary were 500s."""
    bodies = [
        (b"--zz\r\nContent-Disposition: form-data; name=\"file\"\r\nBad Header\x00: x\r\n\r\nabc\r\n--zz--\r\n",
         "multipart/form-data; boundary=zz"),
        (b"--zz\r\n\r\nabc", "multipart/form-data"),
    ]
    for body, ctype in bodies:
        resp = await client.post("/api/media", data=body, headers={"Content-Type": ctype})
        assert resp.status == 400, await resp.text()


async def test_outbox_after_is_validated(client):
    for after in ("abc", "0.5", "null", str(2**70)):
        resp = await client.get(f"/api/conversations/x/outbox?after={after}", headers=client.staff)
        assert resp.status in (200, 400), after
