"""Wires the bounded contexts together from settings."""
from __future__ import annotations

import os
from dataclasses import dataclass

from backoffice import models  # noqa: F401  (every table registered: retention and key rotation scan them all)
from backoffice.accounts.devices import DeviceService
from backoffice.accounts.login import LoginService
from backoffice.accounts.recovery import RecoveryService
from backoffice.accounts.service import AccountService
from backoffice.agreements.service import AgreementService
from backoffice.analytics.funnels import Funnels
from backoffice.analytics.nlu_inbox import NluInbox
from backoffice.analytics.review import ConversationReview
from backoffice.applications.service import ApplicationService
from backoffice.applications.verification import Verification
from backoffice.core.audit import AuditLog
from backoffice.core.clock import SystemClock
from backoffice.core.config import Settings
from backoffice.core.crypto import Crypto
from backoffice.core.db import Database
from backoffice.core.kvstore import make_kv
from backoffice.core.links import LinkSigner
from backoffice.handoff.conversations import ConversationRegistry
from backoffice.identity.consent import FaceConsentService
from backoffice.identity.live import LiveCheckService
from backoffice.identity.reviews import FaceReviewService
from backoffice.identity.service import IdentityService
from backoffice.identity.tries import FaceTries
from backoffice.media.store import MediaStore
from backoffice.otp.business_codes import BusinessCodeService
from backoffice.otp.service import OtpService
from backoffice.otp.sms import make_gateway
from backoffice.witness.service import WitnessService


@dataclass
class Services:
    settings: Settings
    clock: object
    db: Database
    kv: object
    crypto: Crypto
    audit: AuditLog
    accounts: AccountService
    otp: OtpService
    sms: object
    media: MediaStore
    conversations: ConversationRegistry
    login: LoginService
    links: LinkSigner | None = None
    identity: IdentityService | None = None
    devices: DeviceService | None = None
    recovery: RecoveryService | None = None
    agreements: AgreementService | None = None
    applications: ApplicationService | None = None
    business_codes: BusinessCodeService | None = None
    verification: Verification | None = None
    witness: WitnessService | None = None
    consent: FaceConsentService | None = None
    reviews: FaceReviewService | None = None
    live: LiveCheckService | None = None
    funnels: Funnels | None = None
    nlu_inbox: NluInbox | None = None
    review: ConversationReview | None = None

    def close(self) -> None:
        self.db.dispose()


def build_services(settings: Settings, *, clock=None, kv=None) -> Services:
    clock = clock or SystemClock()
    db = Database(settings.database_url)
    kv = kv or make_kv(settings.redis_url, clock, prefix=os.environ.get("HALL_KV_PREFIX", "hall:"))
    crypto = Crypto(settings.data_keys)
    audit = AuditLog(db, clock)
    accounts = AccountService(db, crypto, audit, clock)
    otp = OtpService(kv, crypto, clock, ttl=settings.otp_ttl_seconds, resend_after=settings.otp_resend_seconds,
                     max_attempts=settings.otp_max_attempts, secret=crypto.subkey("otp"),
                     ip_hourly_codes=settings.ip_otp_codes_per_hour,
                     ip_hourly_failures=settings.ip_otp_failures_per_hour, ip_exempt=settings.ip_exempt)
    sms = make_gateway(settings.sms_gateway, db, clock, provider=settings.sms_provider)
    media = MediaStore(db, crypto, clock, settings.media_dir, settings.max_media_bytes)
    conversations = ConversationRegistry(db, audit, clock)
    login = LoginService(db, kv, accounts, otp, sms, audit, clock, idle_seconds=settings.session_idle_seconds,
                         max_failures=settings.login_max_failures, lock_seconds=settings.login_lock_seconds,
                         ip_exempt=settings.ip_exempt)
    svc = Services(settings, clock, db, kv, crypto, audit, accounts, otp, sms, media, conversations, login)
    svc.links = LinkSigner(crypto.subkey("links"), clock)
    svc.identity = IdentityService(accounts, media, kv, crypto, audit, clock)
    svc.consent = FaceConsentService(db, audit, clock, retention_days=settings.retain_face_days,
                                     public_url=settings.public_url)
    svc.reviews = FaceReviewService(db, accounts, sms, audit, clock)
    svc.live = LiveCheckService(svc.identity, FaceTries(kv, crypto, accounts), svc.consent, svc.reviews, media, kv,
                                svc.links, audit, clock, settings.public_url)
    svc.devices = DeviceService(accounts, login, svc.identity, otp, sms, audit)
    svc.recovery = RecoveryService(accounts, svc.identity, otp, sms, kv, crypto, audit)
    svc.agreements = AgreementService(db, kv, crypto, media, otp, sms, audit, clock, public_url=settings.public_url)
    svc.business_codes = BusinessCodeService(kv, clock, login=login, accounts=accounts, otp=otp, sms=sms,
                                            audit=audit)
    svc.verification = Verification(svc)  # business → required steps, checked when an application opens
    svc.applications = ApplicationService(db, crypto, sms, audit, clock, agreements=svc.agreements,
                                          verification=svc.verification)
    svc.witness = WitnessService(db, crypto, audit, clock, svc.links, settings.public_url)
    svc.funnels = Funnels(db, clock)  # analytics over the conversation event log and the applications
    svc.nlu_inbox = NluInbox(db, audit, clock, settings.nlu_low_confidence)  # misunderstood messages to label
    svc.review = ConversationReview(db, audit, clock, svc.funnels)  # conversation search, transcripts, tags
    return svc
