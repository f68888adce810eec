"""找回账户, 绑定设备/解除绑定 and 上传手写签名 end to end, with real ID card photos, live selfie clips and signatures.

Cards are synthetic (biometrics.testdata) but their portraits are real face photos; selfie clips are rendered
from real face photos (a 3-D head doing the announced actions); OCR, liveness, face matching and signature
checks run for real in the back-office's process pool. The stack runs with HALL_LIVENESS_ACTIONS=blink and
FACE_ACCEPT_MAX=0.25 (tests/e2e/conftest.py): a clip of the photo on the card matches, a clip of another photo
of the same person lands in the review band.
"""
from __future__ import annotations

import re
import urllib.request

import pytest

from backoffice.accounts.seed import DEMO_ACCOUNTS, id_number
from biometrics.testdata import ensure_faces, make_id_back, make_id_front, make_selfie, make_signature
from tests.e2e.conftest import CREATED, latest_code
from tests.support.live import film, send_video, still_video
from tests.support.stack import texts

SIZE = (1600, 1200)


@pytest.fixture(scope="module")
def faces():
    people = ensure_faces()
    return {"owner": people["obama"], "other": people["biden"]}


def owner(account: str) -> dict:
    if account in CREATED:  # a test's own account (new_account)
        made = CREATED[account]
        name, number, phone = made["name"], made["id_number"], made["phone"]
    else:
        row = next(a for a in DEMO_ACCOUNTS if a[0] == account)
        name, number, phone = row[1], id_number(row[2]), row[3]
    return {"name": name, "id_number": number, "phone": phone, "gender": "男" if int(number[16]) % 2 else "女",
            "birth_date": f"{number[6:10]}-{number[10:12]}-{number[12:14]}"}


def card_front(person: dict, face, **kw) -> bytes:
    return make_id_front(name=person["name"], id_number=person["id_number"], gender=person["gender"],
                         birth_date=person["birth_date"], face_path=str(face), size=SIZE, **kw)


def send_image(stack, sender, data: bytes) -> str:
    return texts(stack.say(sender, f'/upload_image{{"media_id":"{stack.upload(data, sender)}"}}'))


def consent_if_asked(stack, sender, reply: str) -> str:
    """The separate consent to face data, asked before a person's first face check: 同意."""
    if "人脸信息处理授权" in reply:
        assert "保存期限" in reply and "/h5/face-consent" in reply, reply
        reply = texts(stack.say(sender, "同意"))
        assert "已记录您的授权" in reply, reply
    assert "/h5/live/" in reply and "眨眨眼" in reply, reply
    return reply


def live(stack, sender, reply: str, photo) -> str:
    """Consent if asked, then film the announced actions with `photo`'s face and send the clip."""
    return texts(film(stack, sender, consent_if_asked(stack, sender, reply), photo))


def login(stack, sender, account):
    phone = owner(account)["phone"]
    stack.say(sender, "投资者")
    stack.say(sender, account)
    stack.say(sender, phone)
    return texts(stack.say(sender, latest_code(stack, phone))) + texts(stack.say(sender, "同意"))


def audit_events(stack, account):
    status, events = stack.api("GET", f"/api/audit?account_number={account}")
    assert status == 200
    return [e["event"] for e in events]


def test_recover_account(stack, sender, faces):
    person = owner("80010001")
    reply = texts(stack.say(sender, "我忘了资金账号"))
    assert "找回账户" in reply and "身份证人像面" in reply
    reply = send_image(stack, sender, make_selfie(str(faces["owner"][1])))  # not an ID card
    assert "不像是居民身份证人像面" in reply and "已识别身份证信息" not in reply
    reply = send_image(stack, sender, card_front(person, faces["owner"][0]))
    assert person["name"] in reply and "110***********0012" in reply and person["id_number"] not in reply
    reply = consent_if_asked(stack, sender, texts(stack.say(sender, "正确")))
    # a photo is never a pass: the customer gets a new check
    reply = send_image(stack, sender, make_selfie(str(faces["owner"][0])))
    assert "照片无法通过" in reply and "/h5/live/" in reply, reply
    reply = texts(film(stack, sender, reply, faces["owner"][0]))
    assert "人脸认证通过" in reply and "手机号" in reply, reply
    assert "138****0001" in texts(stack.say(sender, "13800000001"))
    reply = texts(stack.say(sender, latest_code(stack, "13800000001")))
    assert "80**0001" in reply and "80**0010" in reply and "80010001" not in reply
    sms = stack.sms("13800000001")[-1]["text"]
    assert sms.startswith("【金信期货】") and "80010001" in sms and "80010010" in sms
    assert "account_recovered" in audit_events(stack, "80010001")


def test_recovery_does_not_reveal_who_is_a_customer(stack, sender, faces):
    stranger = {"name": "吴昊", "id_number": id_number("11010819900101991"), "gender": "男",
                "birth_date": "1990-01-01"}
    stack.say(sender, "找回账户")
    send_image(stack, sender, card_front(stranger, faces["owner"][0], seed=3))
    reply = live(stack, sender, texts(stack.say(sender, "正确")), faces["owner"][0])
    assert "人脸认证通过" in reply, reply
    before = len(stack.sms("13800000002"))
    reply = texts(stack.say(sender, "13800000002"))
    assert reply.startswith("如 138****0002 为您的开户预留手机号，验证码已发送至该号码。")
    assert len(stack.sms("13800000002")) == before  # nothing is sent to a phone that is not the owner's
    assert "验证码不正确" in texts(stack.say(sender, "123456"))


def test_rebind_after_changing_phone(stack, sender, faces):
    person = owner("80010005")
    assert "登录" in texts(stack.say(sender, "我换手机了 要绑定设备"))
    reply = login(stack, sender, "80010005")
    assert "登录成功" in reply and "已与其他设备绑定，需解绑原有设备后重新绑定当前设备进行登录" in reply
    assert "138****0005" in texts(stack.say(sender, "解除当前绑定"))
    reply = texts(stack.say(sender, latest_code(stack, person["phone"])))
    assert "已解除" in reply and "与当前设备未绑定，需绑定设备后才能正常使用掌厅功能" in reply
    assert "身份证人像面" in texts(stack.say(sender, "去绑定"))
    assert "国徽面" in send_image(stack, sender, card_front(person, faces["owner"][0], seed=5))
    reply = send_image(stack, sender, make_id_back(valid_until="2040-06-30", size=SIZE))
    assert person["name"] in reply and "2040-06-30" in reply
    reply = live(stack, sender, texts(stack.say(sender, "正确")), faces["owner"][0])
    assert "您的身份信息已校验成功并与本机绑定" in reply and "绑定完成" in reply, reply
    status, account = stack.api("GET", "/api/accounts/80010005")
    assert account["bound_device"] == sender and account["id_on_file"]["valid_until"] == "2040-06-30"
    events = audit_events(stack, "80010005")
    assert {"device_unbound", "id_accepted", "device_bound", "face_consent_given", "face_passed"} <= set(events)
    assert "已与本设备绑定" in texts(stack.say(sender, "绑定设备"))
    # then 解除绑定 as a business of its own: this device, a plain confirmation and a code
    assert "确认解除当前设备与资金账号的绑定吗" in texts(stack.say(sender, "解除绑定"))
    assert "138****0005" in texts(stack.say(sender, "解除当前绑定"))
    assert "解除绑定成功" in texts(stack.say(sender, latest_code(stack, person["phone"])))
    status, account = stack.api("GET", "/api/accounts/80010005")
    assert account["bound_device"] is None


def test_signature_gate_with_portrait_on_file(stack, sender, faces):
    put_portrait(stack, "80010006", faces["owner"][0])
    stack.say(sender, "上传手写签名")
    reply = login(stack, sender, "80010006")
    assert "未绑定" in reply
    reply = texts(stack.say(sender, "去绑定"))  # the portrait on file is the reference: no ID upload
    assert "身份证人像面" not in reply
    reply = live(stack, sender, reply, faces["owner"][0])
    assert "已校验成功并与本机绑定" in reply and "系统内未检查到您上传的手写签名，请先上传手写签名" in reply
    assert "横屏" in send_image(stack, sender, make_signature(landscape=False))
    reply = send_image(stack, sender, make_signature(landscape=True, seed=2))
    preview = re.search(r"(http://\S+/h5/media/\S+)", reply).group(1)
    with urllib.request.urlopen(preview, timeout=10) as resp:
        assert resp.headers["Content-Type"] == "image/png" and resp.read().startswith(b"\x89PNG")
    assert "上传成功" in texts(stack.say(sender, "确认使用"))
    status, account = stack.api("GET", "/api/accounts/80010006")
    assert account["signature_on_file"] is True and account["bound_device"] == sender
    assert "signature_uploaded" in audit_events(stack, "80010006")


def put_portrait(stack, account, path):
    with open(path, "rb") as fh:
        req = urllib.request.Request(f"{stack.backoffice_url}/api/accounts/{account}/portrait", data=fh.read(),
                                     method="PUT", headers={"Authorization": f"Bearer {stack.admin_token}"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.status == 200


def bind_face_step(stack, sender, account) -> str:
    """绑定设备 on a fresh account with a portrait on file: login, then 去绑定: the face step is asked."""
    stack.say(sender, "绑定设备")
    reply = login(stack, sender, account["account_number"])
    assert "未绑定" in reply, reply
    return texts(stack.say(sender, "去绑定"))


def bound_device(stack, number):
    status, account = stack.api("GET", f"/api/accounts/{number}")
    assert status == 200
    return account["bound_device"]


def test_a_still_selfie_or_a_held_photo_never_binds_a_live_clip_does(stack, sender, faces, new_account):
    account = new_account()
    put_portrait(stack, account["account_number"], faces["owner"][0])
    reply = consent_if_asked(stack, sender, bind_face_step(stack, sender, account))
    reply = send_image(stack, sender, make_selfie(str(faces["owner"][0])))
    assert "照片无法通过" in reply and "/h5/live/" in reply, reply  # the live check is offered again
    assert bound_device(stack, account["account_number"]) is None
    reply = texts(send_video(stack, sender, still_video(str(faces["owner"][0]))))  # a photo held to the camera
    assert "翻拍" in reply or "未通过" in reply, reply
    assert bound_device(stack, account["account_number"]) is None
    reply = texts(film(stack, sender, reply, faces["owner"][0]))
    assert "已校验成功并与本机绑定" in reply, reply
    assert bound_device(stack, account["account_number"]) == sender


def test_the_fourth_failed_check_of_a_day_is_refused_from_any_sender(stack, sender, faces, new_account):
    account = new_account()
    put_portrait(stack, account["account_number"], faces["owner"][0])
    reply = consent_if_asked(stack, sender, bind_face_step(stack, sender, account))
    for left in (2, 1):
        reply = texts(film(stack, sender, reply, faces["other"][0]))  # someone else's face
        assert f"还可尝试{left}次" in reply and "/h5/live/" in reply, reply
    reply = texts(film(stack, sender, reply, faces["other"][0]))
    assert "24小时内已连续3次未通过" in reply and "转人工" in reply, reply
    # a new conversation (another device, another channel) of the same person: refused before any check
    fresh = sender + "-new"
    reply = bind_face_step(stack, fresh, account)
    assert "24小时内已连续3次未通过" in reply and "/h5/live/" not in reply, reply
    assert bound_device(stack, account["account_number"]) is None
    assert audit_events(stack, account["account_number"]).count("live_check_finished") == 3
