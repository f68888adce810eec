"""Per-IP code limits through the whole path: the REST channel behind a trusted proxy reads the customer's
address, Rasa hands it to the actions in the message metadata, the actions pass it to the back-office, whose
OTP service caps the codes sent per address; the tracker never keeps the address."""
from __future__ import annotations

import os

from tests.e2e.conftest import IP_CODES_PER_HOUR
from tests.support.stack import http, texts


def log_in_until_code(stack, sender: str, account: dict, headers: dict | None = None) -> str:
    for message in ("我要登录", "投资者", account["account_number"]):
        stack.say(sender, message, headers=headers)
    return texts(stack.say(sender, account["phone"], headers=headers))


def test_one_address_gets_a_limited_number_of_codes_and_is_told_why(stack, new_account):
    proxy = {"X-Forwarded-For": "203.0.113.70"}  # what the trusted reverse proxy appends
    accounts = [new_account() for _ in range(IP_CODES_PER_HOUR + 1)]
    run = os.urandom(3).hex()
    answers = [log_in_until_code(stack, f"e2e-ip-{run}-{i}", account, proxy) for i, account in enumerate(accounts)]
    for account, answer in zip(accounts[:IP_CODES_PER_HOUR], answers):
        assert account["phone"][:3] + "****" + account["phone"][-4:] in answer, answer
        assert len(stack.sms(account["phone"])) == 1
    assert "验证码发送次数已达上限" in answers[-1] and "转人工" in answers[-1], answers[-1]
    assert stack.sms(accounts[-1]["phone"]) == []
    # the customer's own claim in the metadata changes nothing: the channel overwrites it
    status, body = http("POST", f"{stack.rasa_url()}/webhooks/rest/webhook",
                        {"sender": f"e2e-ip-{run}-claim", "message": "我要登录",
                         "metadata": {"client_ip": "198.51.100.1"}}, headers=proxy)
    assert status == 200
    assert "验证码发送次数已达上限" in log_in_until_code(stack, f"e2e-ip-{run}-claim", accounts[-1], proxy)
    # another address is not affected (loopback, the other e2e tests, is exempt)
    assert "****" in log_in_until_code(stack, f"e2e-ip-{run}-other", accounts[-1], {"X-Forwarded-For": "198.51.100.9"})
    # the address was for those turns only: the stored conversation does not hold it
    status, tracker = http("GET", f"{stack.rasa_url()}/conversations/rest:e2e-ip-{run}-0/tracker")
    assert status == 200
    assert "203.0.113.70" not in str(tracker) and "client_ip" not in str(tracker)
