"""Whether an account may start a business at all, answered before the customer does any step.

The same rules refuse the application when it is opened (applications/service.py checks them again), so the
dialogue and the back-office cannot disagree. Which rule a business has is its registry entry's `eligibility`. Each unmet condition comes with a polite Chinese sentence that
says what the customer can do about it; the bot shows `message` as it is.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Callable

from backoffice.accounts.service import Account
from businesses import get



def yuan(cents: int) -> str:
    return f"{Decimal(cents or 0) / 100:,.2f}元"


def _activate(account: Account) -> list[dict]:
    if account.state == "dormant":
        return []
    if account.state == "closed":
        return [{"code": "closed", "message": "该资金账号已销户，无法激活。"}]
    if account.state == "locked":
        return [{"code": "not_dormant", "message": "您的账户不是休眠账户，无需激活。账户目前处于锁定状态，"
                                                    "如需解锁请回复“账户解锁”。"}]
    return [{"code": "not_dormant", "message": "您的账户不是休眠账户，状态正常，无需激活，可直接登录交易。"}]


def _close(account: Account) -> list[dict]:
    if account.state == "closed":
        return [{"code": "closed", "message": "该资金账号已销户，无需重复办理。"}]
    unmet = []
    if account.has_positions:
        unmet.append({"code": "open_positions", "refusal": "has_assets",
                      "message": "账户仍有未平仓的持仓：请先在交易软件中将全部持仓平仓（或到期了结）。"})
    if account.pending_withdrawals_cents:
        unmet.append({"code": "pending_withdrawals", "refusal": "has_assets",
                      "message": f"账户有在途出金{yuan(account.pending_withdrawals_cents)}尚未到账："
                                 "请等出金到账（一般1个交易日内）后再申请。"})
    if account.balance_cents:
        unmet.append({"code": "balance", "refusal": "has_assets",
                      "message": f"账户仍有资金余额{yuan(account.balance_cents)}：请先通过银期转账将全部资金转回"
                                 "您的银行卡，待余额为零后再申请。"})
    return unmet


def _unlock(account: Account) -> list[dict]:
    if account.state == "locked":
        return []
    return [{"code": "not_locked", "message": "您的账户当前未被锁定，无需解锁。"}]


# rule name (a registry entry's `eligibility`) → rule
RULES: dict[str, Callable[[Account], list[dict]]] = {
    "activate_dormant_account": _activate, "close_account": _close, "unlock_account": _unlock,
}


def unmet(business: str, account: Account) -> list[dict]:
    """The conditions this account does not meet for the business ([] = may start it)."""
    entry = get(business)
    rule = RULES.get(entry.eligibility) if entry and entry.eligibility else None
    return rule(account) if rule else []


def answer(business: str, account: Account) -> dict:
    """What the bot needs: eligible or not, the unmet conditions, and one message to show as it is."""
    missing = unmet(business, account)
    if not missing:
        return {"business": business, "eligible": True, "unmet": [], "message": ""}
    if len(missing) == 1 and missing[0]["code"] in ("closed", "not_dormant", "not_locked"):
        message = missing[0]["message"]
    else:
        name = get(business).name if get(business) else "该业务"
        lines = "\n".join(f"{i}. {m['message']}" for i, m in enumerate(missing, 1))
        message = (f"很抱歉，您的账户暂不满足{name}条件：\n{lines}\n"
                   f"以上事项处理完毕后，即可重新申请{name}。如有疑问请回复“转人工”。")
    return {"business": business, "eligible": False, "unmet": missing, "message": message}


def check(db, business: str, account_number: str) -> dict | None:
    """answer() for an account number (None when there is no such account)."""
    with db.session() as s:
        account = s.get(Account, account_number)
        return answer(business, account) if account is not None else None
