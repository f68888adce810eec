"""connectors.turns: a failed or silent bot turn becomes 系统繁忙 (against a real HTTP health endpoint)."""
from __future__ import annotations

from types import SimpleNamespace

from aiohttp import web

from connectors.turns import BUSY_TEXT, actions_reachable, bot_turn


async def health_server():
    app = web.Application()
    app.router.add_get("/health", lambda _r: web.json_response({"status": "ok"}))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/webhook"


def agent(url):
    return SimpleNamespace(action_endpoint=SimpleNamespace(url=url))


async def test_a_failing_turn_answers_busy():
    async def broken(_message):
        raise ConnectionError("tracker store down")

    replies = await bot_turn(broken, "123456", "s1", "rest", None, agent(None))
    assert replies == [{"recipient_id": "s1", "text": BUSY_TEXT}]


async def test_silence_is_busy_only_when_the_action_server_is_unreachable():
    async def silent(_message):
        return None

    async def talks(message):
        await message.output_channel.send_text_message(message.sender_id, "您好")

    runner, url = await health_server()
    try:
        assert await actions_reachable(url)
        assert await bot_turn(silent, "hi", "s2", "rest", None, agent(url)) == []  # e.g. an agent holds it
        assert (await bot_turn(talks, "hi", "s2", "rest", None, agent(url)))[0]["text"] == "您好"
    finally:
        await runner.cleanup()
    assert not await actions_reachable(url)  # the server is gone now
    assert await bot_turn(silent, "hi", "s2", "rest", None, agent(url)) == [{"recipient_id": "s2",
                                                                               "text": BUSY_TEXT}]
    # a turn that said something is passed through even then
    assert (await bot_turn(talks, "hi", "s2", "rest", None, agent(url)))[0]["text"] == "您好"


async def test_a_failed_custom_action_keeps_what_came_before_and_answers_busy():
    """Rasa swallows a failed action (logs it, carries on, often with a misleading fallback)."""
    import logging

    async def action_fails(message):
        await message.output_channel.send_text_message(message.sender_id, "好的，为您办理账户解锁")
        logging.getLogger("rasa.core.processor").error(
            "Encountered an exception while running action 'unlock_account_form'.Bot will continue, but the "
            "actions events are lost.")
        await message.output_channel.send_text_message(message.sender_id, "抱歉，我没有理解您的意思。")

    replies = await bot_turn(action_fails, "解锁", "s3", "rest", None, agent(None))
    assert [r["text"] for r in replies] == ["好的，为您办理账户解锁", BUSY_TEXT]



def test_rest_metadata_carries_the_peer_address_never_the_clients_claim():
    from connectors.rest import client_metadata

    claimed = {"client_ip": "1.2.3.4", "app_version": "5.2"}
    assert client_metadata(claimed, "203.0.113.7") == {"app_version": "5.2", "client_ip": "203.0.113.7"}
    assert claimed["client_ip"] == "1.2.3.4"  # the channel's own dict is not changed
    assert client_metadata("not a dict", "203.0.113.7") == {"client_ip": "203.0.113.7"}
    assert client_metadata(claimed, "") == {"app_version": "5.2"}
