"""Chat notices of applications (decided, executed) pushed to the customers' channels that can be pushed
(WeChat); REST clients read them from their outbox. Used by the staff API, the console and the outbox worker."""
from __future__ import annotations

from backoffice.channels.delivery import deliver


async def push_notices(svc) -> None:
    """Push freshly queued chat notifications to channels that can be pushed (WeChat)."""
    pending = svc.applications.drain_pushes()
    if not pending:
        return
    for item in pending:
        await deliver({"sender": item["sender"], "channel": item["channel"]}, item["text"])
