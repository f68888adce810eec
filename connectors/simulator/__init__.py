"""WeChat simulator: a phone-like chat page on the back-office (/simulator) that plays WeChat's part.

The page never talks to Rasa directly. The back-office side builds WeChat XML, signs it (and encrypts it
in safe mode), posts it to the Rasa WeChat webhook and retries after 5 s like WeChat; it also hosts a fake
WeChat server API under /simulator/wechat-api/ so the channel's 客服消息 land here and the page polls them.
With no configuration (`make run`) the channel's defaults point at that fake API. Off in production unless
HALL_ALLOW_DEMO names `simulator`.

微信客服 mode (/simulator/?mode=wecom): the customer's messages go into a fake WeCom (connectors/simulator/
fake_wecom.py, API under /simulator/wecom-api/cgi-bin/), which calls the Rasa WeCom webhook back like WeCom;
the channel pulls them from it and its replies (kf/send_msg) land there for the page to poll.
"""
from __future__ import annotations

import asyncio
import itertools
import logging
import os
import time
from pathlib import Path

import aiohttp
from aiohttp import web
from wechatpy.crypto import WeChatCrypto

from backoffice.channels.endpoints import public_url
from connectors import wechat_wire as wire
from connectors.simulator.fake_wechat import FakeWeChat
from connectors.simulator.fake_wecom import FakeWeCom
from connectors.wechat_menu import MENU
from connectors.wechat_settings import load_wechat_settings
from connectors.wecom_ids import valid_part
from connectors.wecom_settings import DEV_OPEN_KFID, WeComConfigError, load_wecom_settings

log = logging.getLogger("connectors.simulator")
STATIC = Path(__file__).parent / "static"
ACCOUNT = "gh_hall_simulator"  # the official account's own id (ToUserName)
WECHAT_TIMEOUT = 5.0
WECHAT_RETRIES = 3
SIM = web.AppKey("wechat_simulator", object)


class WeChatSide:
    """Sends what WeChat would send to the webhook and reads the passive reply."""

    def __init__(self, settings, webhook_url: str, timeout: float = WECHAT_TIMEOUT, retries: int = WECHAT_RETRIES):
        self.settings, self.webhook_url = settings, webhook_url
        self.crypto = WeChatCrypto(settings.token, settings.aes_key, settings.app_id) if settings.aes_key else None
        self.timeout, self.retries = timeout, retries
        self._ids = itertools.count(int(time.time() * 1000) * 1000)

    def message(self, openid: str, kind: str, **fields) -> dict:
        msg = {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": int(time.time()), "MsgType": kind}
        msg.update({k: v for k, v in fields.items() if v is not None})
        if kind != "event":
            msg["MsgId"] = next(self._ids)
        return msg

    def _request(self, msg: dict) -> tuple[dict, str]:
        timestamp, nonce = str(int(time.time())), os.urandom(5).hex()
        xml = wire.build_xml(msg)
        if self.crypto is None:
            return wire.signed_query(self.settings.token, timestamp=timestamp, nonce=nonce,
                                     openid=msg["FromUserName"]), xml
        body, msg_sig = wire.encrypt_inbound(self.crypto, xml, ACCOUNT, timestamp, nonce)
        return wire.signed_query(self.settings.token, timestamp=timestamp, nonce=nonce, openid=msg["FromUserName"],
                                 encrypted_signature=msg_sig), body

    async def send(self, msg: dict) -> dict:
        """{"status": "passive"|"success"|"timeout"|"error", "reply": dict|None, "attempts": n}"""
        attempts = 0
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            for attempts in range(1, self.retries + 2):
                query, body = self._request(msg)  # a retry is signed afresh, like WeChat's
                try:
                    async with http.post(self.webhook_url, params=query, data=body.encode(),
                                         headers={"Content-Type": "text/xml"}) as resp:
                        text = await resp.text()
                        if resp.status != 200:
                            return {"status": "error", "http_status": resp.status, "reply": None,
                                    "attempts": attempts}
                except asyncio.TimeoutError:
                    continue
                except aiohttp.ClientError as exc:
                    return {"status": "error", "error": exc.__class__.__name__, "reply": None, "attempts": attempts}
                reply = wire.open_reply(self.crypto, text)
                return {"status": "passive" if reply else "success", "reply": reply, "attempts": attempts}
        return {"status": "timeout", "reply": None, "attempts": attempts}


class Simulator:
    def __init__(self):
        self.settings = load_wechat_settings()
        self.fake = FakeWeChat(self.settings.app_id, self.settings.app_secret)
        rasa = (os.environ.get("RASA_URL") or "http://127.0.0.1:%s" % os.environ.get("RASA_PORT", "5005")).rstrip("/")
        self.side = WeChatSide(self.settings, rasa + "/webhooks/wechat/webhook")
        self.wecom = None  # the fake WeCom, when the WeCom channel's settings can be read
        try:
            wecom = load_wecom_settings()
        except WeComConfigError as exc:
            log.warning("simulator without 微信客服 mode: %s", exc)
        else:
            if wecom.enabled:
                self.wecom_settings = wecom
                self.wecom = FakeWeCom(wecom.corp_id, wecom.secret, token=wecom.token, aes_key=wecom.aes_key,
                                       callback_url=rasa + "/webhooks/wecom/webhook")


def _sim(request: web.Request) -> Simulator:
    return request.app[SIM]


async def page(request: web.Request):
    return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})


async def redirect(request: web.Request):
    raise web.HTTPFound("/simulator/")


async def config(request: web.Request):
    sim = _sim(request)
    wecom = {"open_kfid": DEV_OPEN_KFID, "handoff": sim.wecom_settings.handoff} if sim.wecom else None
    return web.json_response({"menu": MENU, "mode": "safe" if sim.settings.safe_mode else "plaintext",
                              "webhook": sim.side.webhook_url, "wecom": wecom})


async def send(request: web.Request):
    sim = _sim(request)
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "bad_json"}, status=400)
    openid = str(body.get("openid") or "")[:64]
    kind = body.get("type")
    if not openid:
        return web.json_response({"error": "openid required"}, status=400)
    if kind == "text":
        msg = sim.side.message(openid, "text", Content=str(body.get("content") or ""))
    elif kind == "image":
        media_id = str(body.get("media_id") or "")
        if media_id not in sim.fake.media:
            return web.json_response({"error": "unknown media_id"}, status=400)
        msg = sim.side.message(openid, "image", MediaId=media_id, PicUrl=f"{public_url()}/simulator/api/media/{media_id}")
    elif kind == "voice":
        msg = sim.side.message(openid, "voice", MediaId=sim.fake.put_media(b"", "audio/amr"), Format="amr",
                               Recognition=body.get("recognition") or None)
    elif kind == "event":
        event = str(body.get("event") or "")
        if event not in ("subscribe", "unsubscribe", "CLICK", "VIEW"):
            return web.json_response({"error": "unknown event"}, status=400)
        msg = sim.side.message(openid, "event", Event=event, EventKey=body.get("key") or None)
    else:
        return web.json_response({"error": "type must be text, image, voice or event"}, status=400)
    result = await sim.side.send(msg)
    return web.json_response(result)


def _fake_for(request: web.Request):
    """The fake the page talks to: WeCom's with ?mode=wecom, WeChat's otherwise."""
    sim = _sim(request)
    if request.query.get("mode") == "wecom":
        if sim.wecom is None:
            raise web.HTTPNotFound()
        return sim.wecom
    return sim.fake


async def upload(request: web.Request):
    """The page's image picker: the file goes into the fake WeChat (WeCom) media store, as a phone upload would."""
    fake = _fake_for(request)
    reader = await request.multipart()
    async for part in reader:
        if part.name == "file":
            data = bytes(await part.read(decode=False))
            if not data:
                break
            media_id = fake.put_media(data, part.headers.get("Content-Type", "image/jpeg"))
            return web.json_response({"media_id": media_id}, status=201)
    return web.json_response({"error": "field 'file' is missing"}, status=400)


async def wecom_send(request: web.Request):
    """The customer's message or entering the chat, into the fake WeCom, which then calls the channel back."""
    sim = _sim(request)
    if sim.wecom is None:
        raise web.HTTPNotFound()
    try:
        body = await request.json()
    except ValueError:
        return web.json_response({"error": "bad_json"}, status=400)
    uid, kind = str(body.get("external_userid") or ""), body.get("type")
    if not valid_part(uid):
        return web.json_response({"error": "external_userid required ([0-9a-zA-Z_-], at most 64)"}, status=400)
    if kind == "text":
        content = str(body.get("content") or "").strip()[:2000]
        if not content:
            return web.json_response({"error": "content required"}, status=400)
        sim.wecom.customer_message(DEV_OPEN_KFID, uid, text=content)
    elif kind in ("image", "video"):
        media_id = str(body.get("media_id") or "")
        if media_id not in sim.wecom.media:
            return web.json_response({"error": "unknown media_id"}, status=400)
        sim.wecom.customer_message(DEV_OPEN_KFID, uid, kind, **{kind: {"media_id": media_id}})
    elif kind == "voice":
        sim.wecom.customer_message(DEV_OPEN_KFID, uid, "voice",
                                   voice={"media_id": sim.wecom.put_media(b"", "audio/amr")})
    elif kind == "enter":
        sim.wecom.enter_session(DEV_OPEN_KFID, uid)
    else:
        return web.json_response({"error": "type must be text, image, video, voice or enter"}, status=400)
    attempts = await sim.wecom.callback(DEV_OPEN_KFID)
    ok = attempts and attempts[-1]["status"] == 200
    return web.json_response({"status": "accepted" if ok else "error", "attempts": len(attempts),
                              "http_status": attempts[-1]["status"] if attempts else None,
                              "callback_seconds": round(attempts[0]["elapsed"], 3) if attempts else None})


async def wecom_messages(request: web.Request):
    sim = _sim(request)
    if sim.wecom is None:
        raise web.HTTPNotFound()
    try:
        after = int(request.query.get("after", "0") or 0)
    except ValueError:
        after = 0
    return web.json_response(sim.wecom.messages_for(request.query.get("external_userid", ""), after))


async def messages(request: web.Request):
    try:
        after = int(request.query.get("after", "0") or 0)
    except ValueError:
        after = 0
    return web.json_response(_sim(request).fake.messages_for(request.query.get("openid", ""), after))


async def media(request: web.Request):
    item = _fake_for(request).media.get(request.match_info["media_id"])
    if item is None:
        raise web.HTTPNotFound()
    return web.Response(body=item[0], content_type=item[1])


def setup(app: web.Application) -> None:
    """Mount the simulator on the back-office app. The caller decides whether it may run: the back-office mounts it
    outside production, and in production only with HALL_ALLOW_DEMO=simulator (backoffice/core/config.py)."""
    sim = Simulator()
    app[SIM] = sim
    app.add_routes([
        web.get("/simulator", redirect), web.get("/simulator/", page),
        web.get("/simulator/api/config", config), web.post("/simulator/api/send", send),
        web.post("/simulator/api/upload", upload), web.get("/simulator/api/messages", messages),
        web.get("/simulator/api/media/{media_id}", media),
        web.static("/simulator/static", STATIC),
        *sim.fake.routes("/simulator/wechat-api"),
    ])
    if sim.wecom is not None:
        app.add_routes([web.post("/simulator/api/wecom/send", wecom_send),
                        web.get("/simulator/api/wecom/messages", wecom_messages),
                        *sim.wecom.routes("/simulator/wecom-api/cgi-bin")])
