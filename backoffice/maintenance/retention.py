"""Retention: how long personal data is kept, and the purge job that deletes what is older.

Periods come from the environment (backoffice/core/config.py, docs/security.md); 0 keeps forever:

  HALL_RETAIN_MEDIA_DAYS          30   uploaded images/videos no record refers to any more
  HALL_RETAIN_SMS_DAYS             7   sandbox SMS (they hold codes and account numbers)
  HALL_RETAIN_OUTBOX_DAYS         30   staff replies kept for REST polling and history
  HALL_RETAIN_CONVERSATIONS_DAYS  90   handoff registry rows back with the bot, idle customer sessions
  HALL_RETAIN_FACE_DAYS           30   live face check clips and frames (media kind "face"), also those a
                                       decided face review shows; the consent notice names this period
  HALL_RETAIN_EVENTS_DAYS         90   the conversation event log (masked Rasa events: funnels, NLU inbox,
                                       conversation review; backoffice/analytics/events.py)
  HALL_PURGE_INTERVAL_SECONDS   3600   how often the back-office runs the purge itself

Media a record still refers to (portrait, ID on file, signature, signed agreement PDF, witness snapshot or
recording, application payload: a business record) is never purged: references are found by scanning every table for values
shaped like a media id, so a new table that keeps media ids is covered without changing this module.
OTP codes and step state live in the KV store with TTLs (Redis expires them; the in-memory store is swept
here). Rasa's conversation transcripts live in Rasa's tracker store: with Redis, TRACKER_TTL_SECONDS
(default 7 days, scripts/rasa_endpoints.py) expires them. Audit events are kept (regulatory record).

`python -m backoffice purge` runs it once; the web app runs it every HALL_PURGE_INTERVAL_SECONDS.
"""
from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from sqlalchemy import JSON, delete, select, update

from backoffice.accounts.login import CustomerSession
from backoffice.analytics.events import ConversationEvent
from backoffice.core.clock import as_utc
from backoffice.core.db import Base
from backoffice.handoff.conversations import Conversation, OutboundMessage
from backoffice.identity.reviews import FaceReview
from backoffice.media.store import MEDIA_ID_RE, MediaObject
from backoffice.otp.sms import SandboxSms
from backoffice.web.common import SERVICES, add_periodic, run

log = logging.getLogger(__name__)


def _media_ids_in(value, found: set[str]) -> None:
    if isinstance(value, str):
        if MEDIA_ID_RE.fullmatch(value):
            found.add(value)
    elif isinstance(value, dict):
        for item in value.values():
            _media_ids_in(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _media_ids_in(item, found)


def referenced_media(db) -> set[str]:
    """Every media id some row still refers to (columns named *media_id* and every JSON column) in every table
    (all registered by the composition root, backoffice/services.py, which imports backoffice.models)."""
    found: set[str] = set()
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            if table.name == MediaObject.__tablename__:
                continue
            cols = [c for c in table.columns if "media_id" in c.name or isinstance(c.type, JSON)]
            if not cols:
                continue
            for row in s.execute(select(*cols)):
                _media_ids_in(list(row), found)
    return found


class Retention:
    def __init__(self, services):
        self.svc = services
        self.settings = services.settings

    def _cutoff(self, days: int):
        return None if days <= 0 else self.svc.clock.utcnow() - timedelta(days=days)

    def purge(self) -> dict:
        report = {"face_reviews": self._face_reviews(), "media": self._media(), **self._rows()}
        sweep = getattr(self.svc.kv, "sweep", None)
        report["kv_keys"] = sweep() if sweep else 0  # Redis expires keys itself
        if any(report.values()):
            self.svc.audit.record("retention_purge", actor="system", **report)
        return report

    def _face_reviews(self) -> int:
        """Decided face reviews let go of their best frame after the face retention (the decision stays)."""
        cutoff = self._cutoff(self.settings.retain_face_days)
        if cutoff is None:
            return 0
        with self.svc.db.session() as s:
            return s.execute(update(FaceReview).where(FaceReview.status != "pending", FaceReview.decided_at < cutoff,
                                                      FaceReview.best_frame_media_id.is_not(None))
                             .values(best_frame_media_id=None).execution_options(synchronize_session=False)).rowcount

    def _media(self) -> int:
        general = self._cutoff(self.settings.retain_media_days)
        face = self._cutoff(self.settings.retain_face_days)
        with self.svc.db.session() as s:
            rows = [(r.id, as_utc(r.created_at), r.kind) for r in s.execute(select(MediaObject)).scalars()]
        old = [media_id for media_id, created, kind in rows
               if (cutoff := face if kind == "face" else general) is not None and created < cutoff]
        if not old:
            return 0
        keep = referenced_media(self.svc.db)
        removed = 0
        for media_id in old:
            if media_id in keep:
                continue
            path = self.svc.media.path_of(media_id)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # the file first: a row without a file reads as "expired", never the reverse
            with self.svc.db.session() as s:
                s.execute(delete(MediaObject).where(MediaObject.id == media_id))
            removed += 1
        return removed

    def _rows(self) -> dict:
        counts = {"sms": 0, "outbox": 0, "conversations": 0, "sessions": 0, "events": 0}
        with self.svc.db.session() as s:
            cutoff = self._cutoff(self.settings.retain_sms_days)
            if cutoff is not None:
                counts["sms"] = s.execute(delete(SandboxSms).where(SandboxSms.sent_at < cutoff)).rowcount
            cutoff = self._cutoff(self.settings.retain_outbox_days)
            if cutoff is not None:
                counts["outbox"] = s.execute(
                    delete(OutboundMessage).where(OutboundMessage.sent_at < cutoff)).rowcount
            cutoff = self._cutoff(self.settings.retain_conversations_days)
            if cutoff is not None:  # only conversations back with the bot: a waiting customer is never dropped
                counts["conversations"] = s.execute(delete(Conversation).where(
                    Conversation.state == "bot", Conversation.since < cutoff)).rowcount
            cutoff = self._cutoff(self.settings.retain_events_days)
            if cutoff is not None:
                counts["events"] = s.execute(delete(ConversationEvent).where(ConversationEvent.at < cutoff)).rowcount
            idle = self.svc.clock.utcnow() - timedelta(seconds=self.settings.session_idle_seconds)
            counts["sessions"] = s.execute(delete(CustomerSession).where(CustomerSession.last_seen < idle)).rowcount
        return counts


# --- periodic run inside the web app --------------------------------------------------------------

async def _purge_round(app) -> None:
    report = await run(Retention(app[SERVICES]).purge)
    if any(report.values()):
        log.info("retention purge: %s", report)


def setup(app) -> None:
    interval = app[SERVICES].settings.purge_interval_seconds
    if interval > 0:  # first run one interval after start: startup stays quick
        add_periodic(app, "retention purge", max(60, interval), _purge_round)
