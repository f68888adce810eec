"""Write the endpoints file Rasa runs with: in-memory stores by default, Redis stores when REDIS_URL is set;
the tracker store masks PII either way (connectors/tracker_masking.py); every event also goes, masked, to the
back-office database's event log (connectors/event_log.py; HALL_EVENT_LOG=0 leaves it out); the action endpoint carries the action
server's token (bot/action_server.py), so the file is written with mode 600.

Rasa's Redis tracker/lock stores take host/port/db/password rather than a URL, hence this small step.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.action_server import HEADER, action_token  # noqa: E402


def render(redis_url: str | None, action_url: str, action_token: str, event_log: bool = True) -> dict:
    # only Rasa may call the action server (bot/action_server.py checks this header)
    config: dict = {"action_endpoint": {"url": action_url, "headers": {HEADER: action_token}}}
    if redis_url:
        url = urlparse(redis_url)
        common = {"url": url.hostname or "127.0.0.1", "port": url.port or 6379,
                  "db": int((url.path or "/0").strip("/") or 0)}
        if url.password:
            common["password"] = url.password
        # The masking store: phone numbers, ID numbers and names never persist in clear (connectors/tracker_masking.py).
        config["tracker_store"] = {"type": "connectors.tracker_masking.MaskingRedisTrackerStore", **common, "key_prefix": os.environ.get("RASA_KEY_PREFIX", "hall"),
                                   "record_exp": int(os.environ.get("TRACKER_TTL_SECONDS", 7 * 24 * 3600))}
        # our lock store: Rasa's RedisLockStore is not safe across processes (connectors/redis_lock.py)
        config["lock_store"] = {"type": "connectors.redis_lock.AtomicRedisLockStore", **common, "key_prefix": os.environ.get("RASA_KEY_PREFIX", "hall")}
    else:
        config["tracker_store"] = {"type": "connectors.tracker_masking.MaskingInMemoryTrackerStore"}
    if event_log:
        # every event, masked, into the back-office database's event log (analytics, NLU inbox, review); the
        # broker takes the database from DATABASE_URL as the back-office does (connectors/event_log.py)
        config["event_broker"] = {"type": "connectors.event_log.MaskingSQLEventBroker"}
    return config


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "var" / "endpoints.runtime.yml"
    action_url = os.environ.get("ACTION_ENDPOINT_URL") or "http://127.0.0.1:%s/webhook" % os.environ.get(
        "ACTION_PORT", "5055")
    out.parent.mkdir(parents=True, exist_ok=True)
    # HALL_EVENT_LOG=0 runs without the event log (the benchmark's reference run measures its cost)
    event_log = os.environ.get("HALL_EVENT_LOG", "1") != "0"
    text = yaml.safe_dump(render(os.environ.get("REDIS_URL"), action_url, action_token(), event_log),
                          sort_keys=False)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the action server's token
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(out, 0o600)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
