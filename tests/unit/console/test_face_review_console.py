"""The face review pages (人脸复核): a reviewer sees the doubtful live check (best frame beside the portraits, the
distance in its band, the challenge, the attack score) and decides; only reviewers and admins may."""
import re

from tests.unit.backoffice.business_steps import pass_face
from tests.unit.backoffice.test_applications_api import log_in
from tests.unit.conftest import ACCOUNT
from tests.unit.console.conftest import login, session_csrf


async def doubtful_bind(services, monkeypatch) -> int:
    monkeypatch.setenv("FACE_ACCEPT_MAX", "0.05")  # the same person lands in the review band
    services.accounts.create(ACCOUNT)
    log_in(services, "rest:s1")
    answer = await pass_face(services, "rest:s1", "80010001", purpose="bind")
    assert answer["status"] == "review", answer
    return answer["review_id"]


async def test_reviewer_sees_the_evidence_and_approves(client, services, monkeypatch):
    review_id = await doubtful_bind(services, monkeypatch)
    await login(client, "reviewer1")
    listing = await (await client.get("/console/face-reviews")).text()
    assert f'href="/console/face-reviews/{review_id}"' in listing and "绑定设备" in listing
    page = await (await client.get(f"/console/face-reviews/{review_id}")).text()
    assert 'alt="活体检测画面"' in page and 'alt="比对照片"' in page
    assert re.search(r'id="review-distance">0\.\d{3}<', page) and "≤0.05 通过" in page
    assert '<dd id="review-challenge">眨眨眼</dd>' in page and 'id="review-attack"' in page
    best = re.search(r'<img src="(/h5/media/[^"]+)" alt="活体检测画面"', page).group(1)
    image = await client.get(best)
    assert image.status == 200 and image.content_type == "image/jpeg"
    csrf = await session_csrf(client, f"/console/face-reviews/{review_id}")
    done = await client.post(f"/console/face-reviews/{review_id}/approve", data={"csrf": csrf})
    page = await done.text()
    assert "已通过" in page and 'id="approve"' not in page
    assert services.accounts.get("80010001").bound_device == "rest:s1"
    assert "已与您的设备绑定" in services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    assert "已与当前设备绑定" in services.conversations.outbox("rest:s1")[-1]["text"]  # the bot had nothing to say


async def test_rejection_needs_a_reason_and_agents_cannot_decide(client, services, monkeypatch):
    review_id = await doubtful_bind(services, monkeypatch)
    await login(client, "agent1")
    assert (await client.get(f"/console/face-reviews/{review_id}")).status == 403
    client.session.cookie_jar.clear()
    await login(client, "reviewer1")
    csrf = await session_csrf(client, f"/console/face-reviews/{review_id}")
    page = await (await client.post(f"/console/face-reviews/{review_id}/reject", data={"csrf": csrf})).text()
    assert "操作未执行" in page and "驳回须填写原因" in page
    page = await (await client.post(f"/console/face-reviews/{review_id}/reject",
                                    data={"csrf": csrf, "reason": "不是同一人"})).text()
    assert "已驳回" in page and services.accounts.get("80010001").bound_device is None
    assert "不是同一人" in services.sms.messages(ACCOUNT["phone"])[-1]["text"]
    assert (await client.post(f"/console/face-reviews/{review_id}/approve", data={})).status == 403  # no CSRF
