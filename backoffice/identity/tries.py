"""How many face checks a person failed: at most 3 in 24 hours, then a human.

Counted per person, not per conversation: the key is the blind index of the ID number (the account's ID on
record when logged in, the confirmed ID card when not, as in 找回账户), so a new sender, a new channel or a new
login does not start from 0. The window starts at the first failure (a Redis counter with its TTL set then);
nothing resets it early, neither a pass nor another failure. Only analysed checks count: a wrong or missing
action, a presentation attack, a different face, a face that does not match, a reviewer's rejection. A clip
that could not be read (too short, no face, broken file) is asked for again without counting.
"""
from __future__ import annotations

MAX_FAILURES = 3
WINDOW_SECONDS = 24 * 3600
TOO_MANY_MESSAGE = ("人脸认证24小时内已连续{n}次未通过，为保护您的账户安全，今天暂不能再次进行人脸认证。"
                    "您可以回复“转人工”，由工作人员为您核验身份。")


class FaceTries:
    def __init__(self, kv, crypto, accounts, *, max_failures: int = MAX_FAILURES, window: float = WINDOW_SECONDS):
        self.kv, self.crypto, self.accounts = kv, crypto, accounts
        self.max_failures, self.window = max_failures, window

    def subject(self, account_number: str | None, id_number: str | None) -> str | None:
        """The person's key: their ID number's blind index (the account's when logged in)."""
        if account_number:
            identity = self.accounts.identity_of(account_number)
            id_number = identity[1] if identity else None
            if not id_number:
                return f"acct:{account_number}"
        return self.crypto.blind_index(id_number) if id_number else None

    def _key(self, subject: str) -> str:
        return f"face:failures:{subject}"

    def failures(self, subject: str | None) -> int:
        if subject is None:
            return 0
        raw = self.kv.get(self._key(subject))
        return int(raw) if raw else 0

    def blocked(self, subject: str | None) -> bool:
        return self.failures(subject) >= self.max_failures

    def fail(self, subject: str | None) -> int:
        """Count one failure; the tries left (0: blocked until the window ends)."""
        if subject is None:
            return self.max_failures  # no person known: nothing to count against (the caller needs one)
        count = self.kv.incr(self._key(subject), self.window)
        return max(0, self.max_failures - count)

    def left(self, subject: str | None) -> int:
        return max(0, self.max_failures - self.failures(subject))

    def message(self) -> str:
        return TOO_MANY_MESSAGE.format(n=self.max_failures)
