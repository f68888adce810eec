"""A local stand-in for WeCom's 微信客服 side: the callback to the channel and the kf API it pulls and sends with.

Serves the simulator page (mounted under /simulator/wecom-api/ on the back-office) and the tests (on their own
port). It keeps WeCom's rules as we understand them from its documentation:
- a customer message or event is appended to the account's message log and announced by an encrypted
  `kf_msg_or_event` callback carrying a sync token (valid 10 minutes); WeCom waits 5 s for the answer and
  retries 3 times;
- kf/sync_msg pages through the log from a cursor (`limit` ≤ 1000, `has_more`, `next_cursor`), serves the
  last 3 days only, and is rate-limited without a sync token (45009);
- kf/send_msg: only while the session state is 0/1 (else 95018), within 48 h of the customer's last message
  (else 95002) and at most 5 messages after it (else 95001), text ≤ 2048 bytes (else 45002); a msgid already
  sent is not sent twice;
- kf/send_msg_on_event: one message per welcome code, valid 20 s;
- kf/service_state/get|trans with WeCom's transitions (0→1/2/3/4, 1→1/2/3/4, 2→2/3/4, 3→3/4; else 95016).
Test controls (customer_message, enter_session, servicer_*, duplicate_last, expire_tokens, fail_next) play
the customer, WeCom's servicers and WeCom's own faults.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import secrets
import threading
import time

import aiohttp
from aiohttp import web

from connectors import wecom_wire

SYNC_TOKEN_SECONDS = 600
HISTORY_SECONDS = 3 * 86400
WINDOW_SECONDS = 48 * 3600
SEND_LIMIT = 5
WELCOME_SECONDS = 20
CALLBACK_TIMEOUT = 5.0
CALLBACK_RETRIES = 3
TEXT_LIMIT = 2048
TRANSITIONS = {0: {1, 2, 3, 4}, 1: {1, 2, 3, 4}, 2: {2, 3, 4}, 3: {3, 4}, 4: set()}


def _cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _seq(cursor: str) -> int | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(raw.removeprefix("seq:")) if raw.startswith("seq:") else None
    except (ValueError, UnicodeDecodeError):
        return None


class FakeWeCom:
    def __init__(self, corp_id: str, secret: str, *, token: str, aes_key: str, callback_url: str | None = None,
                 untokened_interval: float = 1.0):
        self.corp_id, self.secret = corp_id, secret
        self.crypto = wecom_wire.make_crypto(token, aes_key, corp_id)
        self.callback_url = callback_url
        self.untokened_interval = untokened_interval
        self.tokens: set[str] = set()
        self.token_fetches = 0
        self.log: dict[str, list[dict]] = {}  # open_kfid → messages and events, in order
        self.sync_tokens: dict[str, tuple[str, float]] = {}  # token → (open_kfid, expires)
        self.sync_calls: list[dict] = []  # {"open_kfid", "cursor", "token": bool, "returned", "at"}
        self.states: dict[tuple[str, str], int] = {}
        self.servicers: dict[tuple[str, str], str] = {}
        self.windows: dict[tuple[str, str], list] = {}  # (kfid, uid) → [last customer message time, sent since]
        self.sent: list[dict] = []  # what customers received, in order, each with an "id"
        self.send_attempts = 0
        self.refused: list[dict] = []  # {"errcode", "touser", "at"} of refused sends
        self.transitions: list[tuple[str, str, int]] = []
        self.media: dict[str, tuple[bytes, str]] = {}
        self.codes: dict[str, dict] = {}  # welcome/msg codes → {"kfid", "uid", "expires", "used"}
        self.callbacks: list[dict] = []  # {"status", "elapsed", "attempt"} per callback POST
        self._failures: list[tuple[str, int]] = []  # (path, errcode) to answer next, once each
        self._msgids: set[str] = set()
        self._seq = itertools.count(1)
        self._ids = itertools.count(1)
        self._untokened: dict[str, float] = {}
        self._lock = threading.RLock()

    # --- the customer, WeCom's servicers, WeCom's faults (test and simulator controls) ---------------------
    def _append(self, kfid: str, msg: dict) -> dict:
        with self._lock:
            msg = {"msgid": msg.get("msgid") or "fk" + secrets.token_hex(12), "open_kfid": kfid,
                   "send_time": int(time.time()), **msg, "seq": next(self._seq)}
            self.log.setdefault(kfid, []).append(msg)
            return msg

    def customer_message(self, kfid: str, uid: str, msgtype: str = "text", send_time: int | None = None,
                         **content) -> str:
        """A message from the customer (content: text="…", or image/video={"media_id": …}); returns its msgid."""
        with self._lock:
            key = (kfid, uid)
            if self.states.get(key, 0) == 4:
                self.states[key] = 0  # writing again opens a new session
            self.states.setdefault(key, 0)
            at = send_time or int(time.time())
            self.windows[key] = [at, 0]
            body = {"text": {"content": content["text"]}} if msgtype == "text" else {msgtype: content[msgtype]}
            msg = self._append(kfid, {"external_userid": uid, "send_time": at, "origin": 3, "msgtype": msgtype,
                                      **body})
            return msg["msgid"]

    def enter_session(self, kfid: str, uid: str, scene: str = "sim") -> str:
        """The customer opens the chat: an enter_session event with a welcome code (valid 20 s)."""
        code = "wel" + secrets.token_hex(8)
        with self._lock:
            self.codes[code] = {"kfid": kfid, "uid": uid, "expires": time.time() + WELCOME_SECONDS, "used": False}
            self._append(kfid, {"origin": 4, "msgtype": "event", "event": {
                "event_type": "enter_session", "open_kfid": kfid, "external_userid": uid, "scene": scene,
                "welcome_code": code}})
        return code

    def servicer_accepts(self, kfid: str, uid: str, servicer: str = "zhangsan") -> None:
        with self._lock:
            self.states[(kfid, uid)], self.servicers[(kfid, uid)] = 3, servicer
            self._append(kfid, {"origin": 4, "msgtype": "event", "event": {
                "event_type": "session_status_change", "open_kfid": kfid, "external_userid": uid,
                "change_type": 1, "new_servicer_userid": servicer}})

    def servicer_message(self, kfid: str, uid: str, text: str, servicer: str = "zhangsan") -> None:
        with self._lock:
            self._append(kfid, {"external_userid": uid, "origin": 5, "servicer_userid": servicer,
                                "msgtype": "text", "text": {"content": text}})
            self.sent.append({"id": next(self._ids), "touser": uid, "open_kfid": kfid, "msgtype": "text",
                              "text": {"content": text}, "via": "servicer", "at": time.time()})

    def servicer_ends(self, kfid: str, uid: str) -> None:
        with self._lock:
            self.states[(kfid, uid)] = 4
            self.servicers.pop((kfid, uid), None)
            self._append(kfid, {"origin": 4, "msgtype": "event", "event": {
                "event_type": "session_status_change", "open_kfid": kfid, "external_userid": uid,
                "change_type": 3}})

    def duplicate_last(self, kfid: str, count: int = 1) -> None:
        """WeCom serves the last `count` messages again (same msgids), as a replayed page would."""
        with self._lock:
            for msg in list(self.log.get(kfid, []))[-count:]:
                self.log[kfid].append({**msg, "seq": next(self._seq)})

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        """The next `times` calls of `path` (e.g. "kf/sync_msg") answer `errcode`."""
        with self._lock:
            self._failures.extend([(path, errcode)] * times)

    def expire_tokens(self) -> None:
        with self._lock:
            self.tokens.clear()

    def put_media(self, data: bytes, content_type: str = "image/jpeg") -> str:
        media_id = "wm" + secrets.token_urlsafe(16)
        with self._lock:
            self.media[media_id] = (data, content_type)
        return media_id

    def messages_for(self, uid: str, after: int = 0) -> list[dict]:
        with self._lock:
            return [m for m in self.sent if m.get("touser") == uid and m["id"] > after]

    def state_of(self, kfid: str, uid: str) -> int:
        with self._lock:
            return self.states.get((kfid, uid), 0)

    def sync_token(self, kfid: str) -> str:
        token = "ENC" + secrets.token_urlsafe(24)
        with self._lock:
            self.sync_tokens[token] = (kfid, time.time() + SYNC_TOKEN_SECONDS)
        return token

    async def callback(self, kfid: str, url: str | None = None) -> list[dict]:
        """Announce news on `kfid` the way WeCom does: encrypted, 5 s to answer, retried 3 times."""
        xml = wecom_wire.kf_event_xml(self.corp_id, kfid, self.sync_token(kfid))
        attempts: list[dict] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=CALLBACK_TIMEOUT)) as http:
            for attempt in range(1, CALLBACK_RETRIES + 2):
                query, body = wecom_wire.callback_request(self.crypto, xml)  # each retry signed afresh
                started = time.monotonic()
                try:
                    async with http.post(url or self.callback_url, params=query, data=body,
                                         headers={"Content-Type": "text/xml"}) as resp:
                        status, text = resp.status, await resp.text()
                except (asyncio.TimeoutError, aiohttp.ClientError) as exc:
                    status, text = 0, exc.__class__.__name__
                record = {"attempt": attempt, "status": status, "body": text[:64],
                          "elapsed": time.monotonic() - started}
                attempts.append(record)
                with self._lock:
                    self.callbacks.append(record)
                if status == 200:
                    break
        return attempts

    # --- HTTP ----------------------------------------------------------------------------------------------
    def _failure(self, path: str) -> web.Response | None:
        with self._lock:
            for i, (p, code) in enumerate(self._failures):
                if p == path:
                    del self._failures[i]
                    return web.json_response({"errcode": code, "errmsg": "injected"})
        return None

    def _authorised(self, request: web.Request) -> bool:
        return request.query.get("access_token") in self.tokens

    @staticmethod
    def _error(code: int, msg: str = "error") -> web.Response:
        return web.json_response({"errcode": code, "errmsg": msg})

    async def _open(self, request: web.Request, path: str) -> tuple[dict | None, web.Response | None]:
        """(the JSON body of an authorised kf call, None) or (None, the error WeCom answers); an injected
        failure (fail_next) comes first."""
        if not self._authorised(request):
            return None, self._error(40014, "invalid access_token")
        try:
            body = json.loads(await request.read())
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return None, self._error(47001, "data format error")
        failure = self._failure(path)
        return (None, failure) if failure is not None else (body, None)

    async def gettoken(self, request: web.Request):
        q = request.query
        if q.get("corpid") != self.corp_id or q.get("corpsecret") != self.secret:
            return self._error(40001, "invalid credential")
        token = "KF_" + secrets.token_urlsafe(16)
        with self._lock:
            self.tokens.add(token)
            self.token_fetches += 1
        return web.json_response({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    async def sync_msg(self, request: web.Request):
        body, error = await self._open(request, "kf/sync_msg")
        if error is not None:
            return error
        kfid, token, cursor = str(body.get("open_kfid") or ""), body.get("token"), str(body.get("cursor") or "")
        limit = body.get("limit", 1000)
        if not isinstance(limit, int) or not 1 <= limit <= 1000:
            return self._error(40058, "invalid limit")
        now = time.time()
        with self._lock:
            if token:
                owner = self.sync_tokens.get(token)
                if owner is None or owner[0] != kfid or owner[1] < now:
                    return self._error(95007, "invalid msg token")
            else:
                if now - self._untokened.get(kfid, 0) < self.untokened_interval:
                    return self._error(45009, "api freq out of limit")
                self._untokened[kfid] = now
            start = _seq(cursor) if cursor else 0
            if start is None:
                return self._error(95008, "invalid cursor")  # our reading of an unusable cursor
            pending = [m for m in self.log.get(kfid, []) if m["seq"] > start and m["send_time"] >= now - HISTORY_SECONDS]
            page, more = pending[:limit], len(pending) > limit
            next_cursor = _cursor(page[-1]["seq"]) if page else (cursor or _cursor(0))
            self.sync_calls.append({"open_kfid": kfid, "cursor": cursor, "token": bool(token), "returned": len(page),
                                    "at": now})
        return web.json_response({"errcode": 0, "errmsg": "ok", "next_cursor": next_cursor, "has_more": int(more),
                                  "msg_list": [{k: v for k, v in m.items() if k != "seq"} for m in page]})

    def _check_message(self, body: dict) -> int:
        msgtype = body.get("msgtype")
        if msgtype not in ("text", "image", "voice", "video", "file", "link", "miniprogram", "msgmenu", "location"):
            return 40008
        content = body.get(msgtype)
        if not isinstance(content, dict):
            return 47001
        if msgtype == "text" and (not content.get("content") or len(str(content["content"]).encode()) > TEXT_LIMIT):
            return 45002
        if msgtype == "image" and content.get("media_id") not in self.media:
            return 40007
        return 0

    def _record(self, body: dict, uid: str, kfid: str, via: str) -> dict:
        msgid = str(body.get("msgid") or "fs" + secrets.token_hex(8))
        self._msgids.add(msgid)
        msgtype = body["msgtype"]
        item = {"id": next(self._ids), "touser": uid, "open_kfid": kfid, "msgtype": msgtype, msgtype: body[msgtype],
                "msgid": msgid, "via": via, "at": time.time()}
        self.sent.append(item)
        return item

    async def send_msg(self, request: web.Request):
        with self._lock:
            self.send_attempts += 1
        body, error = await self._open(request, "kf/send_msg")
        if error is not None:
            return error
        uid, kfid = str(body.get("touser") or ""), str(body.get("open_kfid") or "")
        with self._lock:
            if body.get("msgid") and body["msgid"] in self._msgids:
                return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": body["msgid"]})
            code = self._check_message(body)
            key = (kfid, uid)
            window = self.windows.get(key)
            if not code and self.states.get(key, 0) not in (0, 1):
                code = 95018
            if not code and (window is None or time.time() - window[0] > WINDOW_SECONDS):
                code = 95002
            if not code and window[1] >= SEND_LIMIT:
                code = 95001
            if code:
                self.refused.append({"errcode": code, "touser": uid, "at": time.time()})
                return self._error(code, "refused")
            window[1] += 1
            item = self._record(body, uid, kfid, "send_msg")
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": item["msgid"]})

    async def send_msg_on_event(self, request: web.Request):
        body, error = await self._open(request, "kf/send_msg_on_event")
        if error is not None:
            return error
        with self._lock:
            entry = self.codes.get(str(body.get("code") or ""))
            if entry is None or entry["used"] or entry["expires"] < time.time():
                return self._error(95013, "invalid code")  # our reading: code unknown, used or expired
            code = self._check_message(body)
            if code:
                return self._error(code)
            entry["used"] = True
            item = self._record(body, entry["uid"], entry["kfid"], "event")
        return web.json_response({"errcode": 0, "errmsg": "ok", "msgid": item["msgid"]})

    async def service_state_get(self, request: web.Request):
        body, error = await self._open(request, "kf/service_state/get")
        if error is not None:
            return error
        key = (str(body.get("open_kfid") or ""), str(body.get("external_userid") or ""))
        with self._lock:
            return web.json_response({"errcode": 0, "errmsg": "ok", "service_state": self.states.get(key, 0),
                                      "servicer_userid": self.servicers.get(key, "")})

    async def service_state_trans(self, request: web.Request):
        body, error = await self._open(request, "kf/service_state/trans")
        if error is not None:
            return error
        kfid, uid = str(body.get("open_kfid") or ""), str(body.get("external_userid") or "")
        new = body.get("service_state")
        with self._lock:
            old = self.states.get((kfid, uid), 0)
            if new not in TRANSITIONS.get(old, set()) or (new == 3 and not body.get("servicer_userid")):
                return self._error(95016, "invalid state transition")
            self.states[(kfid, uid)] = new
            self.transitions.append((kfid, uid, new))
            answer = {"errcode": 0, "errmsg": "ok"}
            if new in (2, 3, 4) and old != new:
                code = "msg" + secrets.token_hex(8)
                self.codes[code] = {"kfid": kfid, "uid": uid, "expires": time.time() + WELCOME_SECONDS, "used": False}
                answer["msg_code"] = code
        return web.json_response(answer)

    async def media_get(self, request: web.Request):
        if not self._authorised(request):
            return self._error(40014, "invalid access_token")
        item = self.media.get(request.query.get("media_id", ""))
        if item is None:
            return self._error(40007, "invalid media_id")
        return web.Response(body=item[0], content_type=item[1])

    async def media_upload(self, request: web.Request):
        if not self._authorised(request):
            return self._error(40014, "invalid access_token")
        reader = await request.multipart()
        async for part in reader:
            if part.name == "media":
                data = bytes(await part.read(decode=False))
                media_id = self.put_media(data, part.headers.get("Content-Type", "application/octet-stream"))
                return web.json_response({"errcode": 0, "errmsg": "ok", "type": request.query.get("type", "image"),
                                          "media_id": media_id, "created_at": str(int(time.time()))})
        return self._error(41005, "media data missing")

    def routes(self, prefix: str = "/cgi-bin") -> list[web.RouteDef]:
        p = prefix.rstrip("/") + "/"
        return [web.get(p + "gettoken", self.gettoken), web.post(p + "kf/sync_msg", self.sync_msg),
                web.post(p + "kf/send_msg", self.send_msg), web.post(p + "kf/send_msg_on_event", self.send_msg_on_event),
                web.post(p + "kf/service_state/get", self.service_state_get),
                web.post(p + "kf/service_state/trans", self.service_state_trans),
                web.get(p + "media/get", self.media_get), web.post(p + "media/upload", self.media_upload)]
