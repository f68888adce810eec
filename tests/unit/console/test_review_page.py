"""The review page: the ID card as read by OCR beside the account record (masked, match or not, fields to check),
the face score with its bands and the selfie, the signature, signed agreement PDFs and the witness block."""
import re

from biometrics.face import bands as face_bands
from biometrics.testdata import make_id_back, make_id_front
from tests.unit.backoffice.business_steps import inline_biometrics, pass_business_steps, photos
from tests.unit.conftest import ACCOUNT
from tests.unit.console.conftest import login

SIZE = (1600, 1200)


def card(name: str) -> tuple[bytes, bytes]:
    front = make_id_front(name=name, id_number=ACCOUNT["id_number"], gender="男", birth_date="1985-03-12",
                          face_path=None, size=SIZE)
    return front, make_id_back(valid_until="2039-05-01", size=SIZE)


async def read_and_confirm(services, sender: str, name: str) -> dict:
    front, back = card(name)
    identity = services.identity
    read = await identity.read_id_front(sender, services.media.put(front, sender=sender).media_id)
    assert read["status"] == "read", read
    assert (await identity.read_id_back(sender, services.media.put(back, sender=sender).media_id))["status"] == "ok"
    assert identity.confirm_id(sender, "80010001") == {"status": "ok"}
    return services.accounts.get("80010001").id_on_file["ocr"]


def sign_required_agreements(services, sender: str) -> None:
    """Read (≥10 s by the server's clock), agree and sign with the SMS code, as the signing step does."""
    codes = [m["code"] for m in services.agreements.missing("80010001", "reset_password")]
    for code in codes:
        url = services.agreements.reading_link("80010001", sender, code)["url"]
        assert services.agreements.open_reading(url.rsplit("/", 1)[1]) is not None
    services.clock.advance(11)
    for code in codes:
        assert services.agreements.agree("80010001", sender, code)["status"] == "ok"
    assert services.agreements.start_signing("80010001", sender, codes)["status"] == "sent"
    sms = services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    result = services.agreements.confirm_signing("80010001", sender, re.search(r"验证码(\d{6})", sms).group(1))
    assert result["status"] == "ok", result


async def test_ocr_fields_beside_the_record(client, services):
    services.accounts.create(ACCOUNT)
    inline_biometrics(services)
    ocr = await read_and_confirm(services, "s1", "张伟")
    assert ocr["name_masked"] == "张*" and ocr["id_masked"].startswith("110") and "1985" not in ocr["id_masked"]
    assert ocr["name_matches"] is True and ocr["id_matches"] is True and ocr["valid_until"] == "2039-05-01"
    assert "张伟" not in str(services.accounts.get("80010001").id_on_file)  # masked only, beside the record

    await pass_business_steps(services, "s1", "80010001", "reset_password")
    sign_required_agreements(services, "s1")
    view, _ = services.applications.open("reset_password", "80010001", "s1", "rest", {"password_type": "资金密码"},
                                         submit=True)
    assert view["status"] == "pending"
    await login(client, "reviewer1")
    page = await (await client.get(f"/console/applications/{view['id']}")).text()
    ocr_block = page[page.index('id="ocr"'):page.index('id="ocr"') + 2000]
    assert "张*" in ocr_block and "与档案一致" in ocr_block and "与档案不一致" not in ocr_block
    assert "2039-05-01" in ocr_block and ACCOUNT["id_number"] not in page and "张伟" not in page
    accept, review = face_bands()  # the bands in force (measured defaults, docs/biometrics.md)
    assert re.search(r'id="face-score">0\.\d+<', page) and f"≤{accept} 通过；≤{review} 人工复核" in page
    for label in ("活体检测画面（人脸核验）", "身份证人像面（存档）", "身份证国徽面（存档）", "公安留存照片"):
        assert f'alt="{label}"' in page, label
    pdfs = re.findall(r'href="(/console/agreements/\d+/pdf)"', page)
    assert len(pdfs) == 2 and "《密码重置申请书》" in page
    pdf = await client.get(pdfs[0])
    assert pdf.status == 200 and pdf.content_type == "application/pdf"
    assert "该业务无视频见证记录" in page


async def test_ocr_name_differing_from_the_record_is_shown(client, services):
    services.accounts.create(ACCOUNT)
    inline_biometrics(services)
    ocr = await read_and_confirm(services, "s2", "张伟伟")
    assert ocr["name_matches"] is False and ocr["id_matches"] is True and ocr["name_masked"] == "张**"
    await pass_business_steps(services, "s2", "80010001", "unlock_account")
    services.accounts._update("80010001", state="locked")
    view, _ = services.applications.open("unlock_account", "80010001", "s2", "rest", {}, submit=True)
    await login(client, "reviewer1")
    page = await (await client.get(f"/console/applications/{view['id']}")).text()
    assert 'id="ocr-name-match">与档案不一致' in page and 'id="ocr-id-match">与档案一致' in page


async def test_witness_recording_beside_the_application(client, services):
    """休眠账户激活 opens only after a passed video witness; the reviewer sees it with its recording."""
    services.accounts.create({**ACCOUNT, "state": "dormant", "opened_on": "2019-03-01"})
    services.agreements.requirements["activate_dormant_account"] = [{"codes": []}]
    witness = services.witness
    session, _ = witness.open("s3", "80010001", "activate_dormant_account", "rest")
    witness.join(session["id"], "agent1")
    recording = services.media.put(photos()[0], sender="s3").media_id  # any stored media stands for the video
    witness.attach_recording(session["id"], "customer", recording, 1234, "customer:s3")
    witness.decide(session["id"], "agent1", True, notes="本人出镜，意愿真实")
    view, _ = services.applications.open("activate_dormant_account", "80010001", "s3", "rest", {}, submit=True)
    await login(client, "reviewer1")
    page = await (await client.get(f"/console/applications/{view['id']}")).text()
    block = page[page.index('id="witness"'):page.index('id="witness"') + 1500]
    assert 'id="witness-status">' in block and "agent1" in block and "本人出镜，意愿真实" in block
    assert "见证录像（客户端）" in block and re.search(r'<video controls preload="metadata" src="/h5/media/[^"]+"', block)
