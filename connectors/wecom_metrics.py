"""Counters of the 微信客服 channel, per process: plain integers, ready to be exported (e.g. as Prometheus
counters named `hall_wecom_<field>_total`)."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class WeComMetrics:
    callbacks: int = 0  # kf_msg_or_event callbacks accepted
    pulls: int = 0  # kf/sync_msg pages fetched
    pulled: int = 0  # messages and events those pages held
    stored: int = 0  # new ones (not seen before by msgid)
    duplicates: int = 0  # already seen (a replayed page, a lost cursor)
    ignored: int = 0  # not the customer's (origin 4 system, 5 a servicer in WeCom) or during a WeCom servicer's session
    refused_ids: int = 0  # ids with whitespace/control characters (no sender id can be made)
    turns: int = 0  # bot turns run
    sent: int = 0  # messages sent (send_msg and send_msg_on_event)
    held_by_limit: int = 0  # messages held back by the 5-in-48 h budget (sent on the customer's next message)
    dropped: int = 0  # messages that could not be sent and are not kept (refused by WeCom for good)
    pull_errors: int = 0  # sync_msg failures after the retries
    api_retries: int = 0  # retried calls (45009, -1, lost connections)

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


METRICS = WeComMetrics()  # this process's counters
