"""A local stand-in for the WeChat server API: token, 客服消息 send, temporary media get/upload.

Serves the simulator page (mounted under /simulator/wechat-api/ on the back-office) and the tests (on
their own port). Tokens can be expired on demand to exercise the channel's 40001 refresh.
"""
from __future__ import annotations

import itertools
import json
import secrets
import threading
import time

from aiohttp import web


class FakeWeChat:
    def __init__(self, app_id: str, app_secret: str):
        self.app_id, self.app_secret = app_id, app_secret
        self.tokens: set[str] = set()
        self.token_fetches = 0
        self.sent: list[dict] = []  # 客服消息, in order, each with an "id"
        self.send_attempts = 0
        self.media: dict[str, tuple[bytes, str]] = {}
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    # --- test/simulator controls ---
    def expire_tokens(self) -> None:
        """Every issued token becomes invalid: the next API call gets 40001."""
        with self._lock:
            self.tokens.clear()

    def put_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        media_id = "fake-" + secrets.token_urlsafe(12)
        with self._lock:
            self.media[media_id] = (data, content_type)
        return media_id

    def messages_for(self, openid: str, after: int = 0) -> list[dict]:
        with self._lock:
            return [m for m in self.sent if m.get("touser") == openid and m["id"] > after]

    # --- HTTP ---
    def _valid(self, request: web.Request) -> bool:
        return request.query.get("access_token") in self.tokens

    async def token(self, request: web.Request):
        q = request.query
        if q.get("appid") != self.app_id or q.get("secret") != self.app_secret:
            return web.json_response({"errcode": 40125, "errmsg": "invalid appsecret"})
        token = "ACCESS_" + secrets.token_urlsafe(16)
        with self._lock:
            self.tokens.add(token)
            self.token_fetches += 1
        return web.json_response({"access_token": token, "expires_in": 7200})

    async def custom_send(self, request: web.Request):
        with self._lock:
            self.send_attempts += 1
        if not self._valid(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.json_response({"errcode": 47001, "errmsg": "data format error"})
        if not body.get("touser") or body.get("msgtype") not in ("text", "image", "news", "voice", "video"):
            return web.json_response({"errcode": 40008, "errmsg": "invalid message type"})
        with self._lock:
            self.sent.append({**body, "id": next(self._ids), "at": time.time()})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def media_get(self, request: web.Request):
        if not self._valid(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        item = self.media.get(request.query.get("media_id", ""))
        if item is None:
            return web.json_response({"errcode": 40007, "errmsg": "invalid media_id"})
        return web.Response(body=item[0], content_type=item[1])

    async def media_upload(self, request: web.Request):
        if not self._valid(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        reader = await request.multipart()
        async for part in reader:
            if part.name == "media":
                data = bytes(await part.read(decode=False))
                ctype = part.headers.get("Content-Type", "application/octet-stream")
                media_id = self.put_media(data, ctype)
                return web.json_response({"type": request.query.get("type", "image"), "media_id": media_id,
                                          "created_at": int(time.time())})
        return web.json_response({"errcode": 41005, "errmsg": "media data missing"})

    async def menu_create(self, request: web.Request):
        if not self._valid(request):
            return web.json_response({"errcode": 40001, "errmsg": "invalid credential"})
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    def routes(self, prefix: str = "") -> list[web.RouteDef]:
        p = prefix.rstrip("/") + "/cgi-bin/"
        return [web.get(p + "token", self.token), web.post(p + "message/custom/send", self.custom_send),
                web.get(p + "media/get", self.media_get), web.post(p + "media/upload", self.media_upload),
                web.post(p + "menu/create", self.menu_create)]
