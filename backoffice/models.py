"""Imports every table so metadata sees the whole schema: for Alembic (migrations/env.py), tests and the
composition root (services.py) only; no context imports it."""
from backoffice.accounts.credentials import PasswordCredential  # noqa: F401
from backoffice.accounts.login import CustomerSession, PrivacyConsent  # noqa: F401
from backoffice.accounts.service import Account  # noqa: F401
from backoffice.analytics.events import ConversationEvent  # noqa: F401
from backoffice.analytics.nlu_inbox import NluLabel  # noqa: F401
from backoffice.analytics.review import ConversationTag  # noqa: F401
from backoffice.agreements.service import AgreementReading, SignedAgreement  # noqa: F401
from backoffice.applications.service import Application, ApplicationEffect, ApplicationEvent  # noqa: F401
from backoffice.console.staff import StaffUser  # noqa: F401
from backoffice.core.audit import AuditEvent  # noqa: F401
from backoffice.core.db import Base  # noqa: F401
from backoffice.handoff.conversations import Conversation, OutboundMessage  # noqa: F401
from backoffice.identity.consent import FaceConsent  # noqa: F401
from backoffice.identity.reviews import FaceReview  # noqa: F401
from backoffice.media.store import MediaObject  # noqa: F401
from backoffice.otp.sms import SandboxSms  # noqa: F401
from backoffice.witness.service import WitnessSession  # noqa: F401
