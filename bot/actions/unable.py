""""I don't have it" at a step: the customer cannot give what the step asks, and says so.

「资金账号我忘了」 at the account step wants 找回账户; 「手机号换了」 at a phone step needs a human (the reserved phone
can only be changed with staff); 「身份证没带」 at an ID step wants 「稍后再办」 with what was done kept. Each kind is
recognised by a pattern on the step's own topic, so a wrong answer (a typo in a number) is never taken for one.
"""
from __future__ import annotations

import re

from bot.actions import normalise

FORGOT = r"(忘|不记得|记不清|记不住|不知道|不晓得|想不起|找不到|没印象)"
ACCOUNT = re.compile(rf"({FORGOT}.{{0,6}}(资金)?(账号|帐号|账户|号码))|((资金)?(账号|帐号|账户).{{0,6}}{FORGOT})")
PHONE = re.compile(r"((换|丢|停|销|不用|没用|欠费|没有|不在|改).{0,6}(手机|号码|号))|((手机|号码|手机号).{0,6}"
                   r"(换|丢|停|销|不用|没用|欠费|没有了|不在|改))")
ID_CARD = re.compile(r"((没带|没有带|不在身边|没在身边|找不到|丢|没有|补办|过期).{0,6}身份证)|(身份证.{0,6}"
                     r"(没带|不在身边|没在身边|找不到|丢|没有|补办|过期))")
LATER = re.compile(r"(稍后|以后|下次|改天|回头|晚点|等会|等一会|明天)(再)?(办|弄|说|处理)|先不办了")

# which steps each situation can arise at
PHONE_STEPS = {"phone_number", "recover_phone", "otp_code", "recover_code", "business_code", "unbind_code",
               "sign_code"}
ID_STEPS = {"id_front", "id_back", "id_confirmed"}


def situation(slot: str | None, text: str) -> str | None:
    """"forgot_account", "phone_changed", "no_id_card", "later" or None."""
    typed = normalise.width(text)
    if LATER.search(typed):
        return "later"
    if slot == "account_number" and ACCOUNT.search(typed):
        return "forgot_account"
    if slot in PHONE_STEPS and PHONE.search(typed):
        return "phone_changed"
    if slot in ID_STEPS and ID_CARD.search(typed):
        return "no_id_card"
    return None
