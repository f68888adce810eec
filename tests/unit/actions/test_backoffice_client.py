"""The one service-API client (backoffice/channels/client.py) that the actions and the WeChat bridge share,
against the real back-office app: the bridge's calls, refusals, and where the token comes from."""
from __future__ import annotations

import io

import pytest
from PIL import Image

from backoffice.channels.client import BackofficeClient, BackofficeUnavailable, service_token


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


async def test_conversation_state_and_media_as_the_wechat_bridge_uses_them(backoffice):
    client = backoffice.http_client
    assert await client.conversation_state("rest:c1") == "bot"
    backoffice.conversations.request_human("rest:c1", channel="rest", reason="customer_request", account_number=None)
    assert await client.conversation_state("rest:c1") == "waiting"

    media_id = await client.store_media(_png(), "rest:c1", filename="wechat-image")
    data, content_type = backoffice.media.get(media_id, owner="rest:c1")
    assert content_type == "image/png" and data[:8] == b"\x89PNG\r\n\x1a\n"


async def test_a_wrong_token_or_a_refused_upload_is_unavailable(backoffice):
    wrong = BackofficeClient(base_url=backoffice.http_client.base_url, token="not-the-service-token")
    with pytest.raises(BackofficeUnavailable):
        await wrong.call("/api/bot/session", {"sender": "rest:c1"})
    with pytest.raises(BackofficeUnavailable):  # not an image or video: the store refuses it
        await backoffice.http_client.store_media(b"plain text", "rest:c1")


def test_the_token_comes_from_the_environment_then_the_var_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("HALL_SERVICE_TOKEN", raising=False)
    monkeypatch.setenv("HALL_VAR_DIR", str(tmp_path))
    assert service_token() == ""
    (tmp_path / "service_token").write_text("from-file\n")
    assert service_token() == "from-file"
    assert BackofficeClient(base_url="http://127.0.0.1:1").token() == "from-file"
    monkeypatch.setenv("HALL_SERVICE_TOKEN", "from-env")
    assert service_token() == "from-env"
    assert BackofficeClient(base_url="http://127.0.0.1:1", token_source=lambda: "given").token() == "given"
    fixed = BackofficeClient(base_url="http://127.0.0.1:1", token="fixed", token_source=lambda: "given")
    assert fixed.token() == "fixed"
