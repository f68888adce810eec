"""Agreements: versioned templates per business, H5 reading with a server-enforced minimum reading time,
signing confirmed by an SMS code, and a signed PDF kept encrypted in the media store with its SHA-256.

Templates and which agreements a business needs: templates.py; the PDF: pdf.py.
Reading links carry only a random nonce (HMAC-signed, expiring); the reading row behind it holds who it is
for, so no account number appears in URLs or access logs.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import uuid
from datetime import date, timedelta

from sqlalchemy import Column, DateTime, Integer, String, select

from backoffice.accounts.service import Account
from backoffice.agreements.pdf import render_pdf
from backoffice.agreements.templates import Template, load_requirements, load_templates
from backoffice.core.clock import as_utc, iso
from backoffice.core.crypto import mask_phone
from backoffice.core.db import Base
from backoffice.core.links import LinkSigner
from backoffice.media.store import MediaObject
from backoffice.otp.sms import compose

log = logging.getLogger(__name__)

LINK_TTL = 30 * 60
MIN_READING_SECONDS = 10
READING_VALID_SECONDS = 2 * 3600  # an agreement read this long ago must be read again before signing
SIGN_PENDING_TTL = 10 * 60


class AgreementReading(Base):
    __tablename__ = "agreement_readings"
    id = Column(Integer, primary_key=True, autoincrement=True)
    nonce = Column(String(32), nullable=False, unique=True)
    account_number = Column(String(16), nullable=False, index=True)
    sender = Column(String(128), nullable=False)
    code = Column(String(64), nullable=False)
    version = Column(String(16), nullable=False)
    issued_at = Column(DateTime(timezone=True), nullable=False)
    opened_at = Column(DateTime(timezone=True))
    agreed_at = Column(DateTime(timezone=True))
    signed_id = Column(Integer)


class SignedAgreement(Base):
    __tablename__ = "signed_agreements"
    id = Column(Integer, primary_key=True, autoincrement=True)
    account_number = Column(String(16), nullable=False, index=True)
    code = Column(String(64), nullable=False)
    version = Column(String(16), nullable=False)
    title = Column(String(64), nullable=False)
    sender = Column(String(128), nullable=False)
    reading_id = Column(Integer)
    signed_at = Column(DateTime(timezone=True), nullable=False)
    pdf_media_id = Column(String(32), nullable=False)
    sha256 = Column(String(64), nullable=False)


class AgreementError(ValueError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.status = code, status


class AgreementService:
    def __init__(self, db, kv, crypto, media, otp, sms, audit, clock, *, public_url: str,
                 templates: dict | None = None, requirements: dict | None = None):
        self.db, self.kv, self.crypto, self.media, self.otp = db, kv, crypto, media, otp
        self.sms, self.audit, self.clock, self.public_url = sms, audit, clock, public_url.rstrip("/")
        self.templates = templates if templates is not None else load_templates()
        self.requirements = requirements if requirements is not None else load_requirements()
        self.signer = LinkSigner(crypto.subkey("links"), clock)  # the same key as svc.links
        for business, rules in self.requirements.items():  # a typo in configuration must fail at start-up
            for rule in rules:
                unknown = [c for c in rule.get("codes", []) if c not in self.templates]
                if unknown:
                    raise ValueError(f"agreement rules for {business} name unknown templates {unknown}")

    # --- what is required -------------------------------------------------------------------
    def template(self, code: str) -> Template:
        tpl = self.templates.get(code)
        if tpl is None:
            raise AgreementError("unknown_agreement", "没有这份协议。", 404)
        return tpl

    def _opened_on(self, account_number: str) -> date:
        with self.db.session() as s:
            row = s.get(Account, account_number)
            if row is None:
                raise AgreementError("no_account", "资金账号不存在。", 404)
            return row.opened_on

    def required_for(self, business: str, account_number: str) -> list[dict]:
        rules = self.requirements.get(business)
        if rules is None:
            raise AgreementError("unknown_business", "未知的业务类型。")
        opened = self._opened_on(account_number)
        for rule in rules:
            before = rule.get("opened_before")
            after = rule.get("opened_on_or_after")
            if before and not opened < date.fromisoformat(before):
                continue
            if after and not opened >= date.fromisoformat(after):
                continue
            return [self.template(c).brief() for c in rule.get("codes", [])]
        return []

    def _signed_versions(self, account_number: str) -> set[tuple[str, str]]:
        with self.db.session() as s:
            q = select(SignedAgreement.code, SignedAgreement.version).where(
                SignedAgreement.account_number == account_number)
            return {(c, v) for c, v in s.execute(q).all()}

    def missing(self, account_number: str, business: str | None = None) -> list[dict]:
        """Required agreements whose current version this account has not signed (business None: "*")."""
        signed = self._signed_versions(account_number)
        required = self.required_for(business or "*", account_number)
        if business is None:  # 补签 also covers agreements signed in a version that has since changed
            codes = {r["code"] for r in required}
            for code, _ in sorted(signed):
                if code in self.templates and code not in codes:
                    required.append(self.templates[code].brief())
                    codes.add(code)
        return [r for r in required if (r["code"], r["version"]) not in signed]

    def list_signed(self, account_number: str) -> list[dict]:
        with self.db.session() as s:
            q = select(SignedAgreement).where(SignedAgreement.account_number == account_number) \
                .order_by(SignedAgreement.id.desc())
            return [self._signed_view(r) for r in s.execute(q).scalars()]

    def _signed_view(self, r: SignedAgreement) -> dict:
        current = self.templates.get(r.code)
        return {"id": r.id, "code": r.code, "title": r.title, "version": r.version, "signed_at": iso(r.signed_at),
                "sha256": r.sha256, "account_number": r.account_number,
                "current": bool(current and current.version == r.version)}

    # --- reading ----------------------------------------------------------------------------
    def reading_link(self, account_number: str, sender: str, code: str) -> dict:
        tpl = self.template(code)
        self._opened_on(account_number)
        nonce = secrets.token_hex(16)
        with self.db.session() as s:
            s.add(AgreementReading(nonce=nonce, account_number=account_number, sender=sender[:128], code=code,
                                   version=tpl.version, issued_at=self.clock.utcnow()))
        token, exp = self.signer.sign_expiring({"t": "agr", "n": nonce}, LINK_TTL)
        return {**tpl.brief(), "url": f"{self.public_url}/h5/agreements/{token}",
                "expires_at": iso(as_utc(self.clock.utcnow()) + timedelta(seconds=exp - self.clock.now())),
                "min_reading_seconds": MIN_READING_SECONDS}

    def open_reading(self, token: str) -> tuple[Template, dict] | None:
        """For the H5 page: the template, and the reading with its first opening recorded by the server."""
        payload = self.signer.verify(token, "agr")
        if payload is None:
            return None
        now = self.clock.utcnow()
        with self.db.session() as s:
            reading = s.execute(select(AgreementReading).where(AgreementReading.nonce == payload.get("n"))
                                .with_for_update()).scalar_one_or_none()
            if reading is None:
                return None
            if reading.opened_at is None:
                reading.opened_at = now
                self.audit.record("agreement_opened", actor=f"customer:{reading.sender}", session=s,
                                  account_number=reading.account_number, agreement=reading.code,
                                  version=reading.version)
            info = {"opened_at": iso(reading.opened_at), "account_number": reading.account_number,
                    "sender": reading.sender, "code": reading.code}
        tpl = self.template(info["code"])
        return tpl, info

    def agree(self, account_number: str, sender: str, code: str) -> dict:
        """Tick "已阅读并同意": only after the page was opened and read for MIN_READING_SECONDS (server time)."""
        tpl = self.template(code)
        now = as_utc(self.clock.utcnow())
        with self.db.session() as s:
            q = (select(AgreementReading)
                 .where(AgreementReading.account_number == account_number, AgreementReading.code == code,
                        AgreementReading.version == tpl.version, AgreementReading.opened_at.isnot(None),
                        AgreementReading.signed_id.is_(None))
                 .order_by(AgreementReading.opened_at))
            readings = [r for r in s.execute(q).scalars()
                        if (now - as_utc(r.opened_at)).total_seconds() <= READING_VALID_SECONDS]
            if not readings:
                return {"status": "not_opened", "code": code,
                        "message": f"请先点击链接阅读《{tpl.title}》，阅读完毕后再回复“同意”。"}
            reading = readings[0]  # the earliest opening counts: re-opening the link must not reset the timer
            read_for = (now - as_utc(reading.opened_at)).total_seconds()
            if read_for < MIN_READING_SECONDS:
                wait = int(MIN_READING_SECONDS - read_for + 0.999)
                return {"status": "too_soon", "code": code, "wait_seconds": wait,
                        "message": f"《{tpl.title}》需至少阅读{MIN_READING_SECONDS}秒，请再阅读{wait}秒后回复“同意”。"}
            if reading.agreed_at is None:
                reading.agreed_at = now
                self.audit.record("agreement_agreed", actor=f"customer:{sender}", session=s,
                                  account_number=account_number, agreement=code, version=tpl.version,
                                  read_seconds=int(read_for))
        return {"status": "ok", "code": code, "title": tpl.title, "version": tpl.version}

    def _agreed_reading(self, s, account_number: str, code: str) -> AgreementReading | None:
        tpl = self.template(code)
        q = (select(AgreementReading)
             .where(AgreementReading.account_number == account_number, AgreementReading.code == code,
                    AgreementReading.version == tpl.version, AgreementReading.agreed_at.isnot(None),
                    AgreementReading.signed_id.is_(None))
             .order_by(AgreementReading.agreed_at.desc()))
        now = as_utc(self.clock.utcnow())
        for r in s.execute(q).scalars():
            if (now - as_utc(r.opened_at)).total_seconds() <= READING_VALID_SECONDS:
                return r
        return None

    # --- signing ----------------------------------------------------------------------------
    def _phone(self, account_number: str) -> str:
        with self.db.session() as s:
            row = s.get(Account, account_number)
            if row is None:
                raise AgreementError("no_account", "资金账号不存在。", 404)
            return self.crypto.decrypt_str(row.phone_enc)

    @staticmethod
    def _purpose(codes: list[str]) -> str:
        return "sign:" + "+".join(sorted(codes))

    def start_signing(self, account_number: str, sender: str, codes) -> dict:
        """Send the signing code for the agreed agreements (one code confirms all of them, as in the app)."""
        codes = sorted(set([codes] if isinstance(codes, str) else codes))
        if not codes:
            raise AgreementError("bad_request", "codes required")
        titles = []
        with self.db.session() as s:
            for code in codes:
                if self._agreed_reading(s, account_number, code) is None:
                    tpl = self.template(code)
                    return {"status": "not_agreed", "code": code,
                            "message": f"请先阅读《{tpl.title}》至少{MIN_READING_SECONDS}秒并回复“同意”。"}
                titles.append(f"《{self.template(code).title}》")
        phone = self._phone(account_number)
        issued = self.otp.issue(phone, self._purpose(codes), sender=sender)
        if issued.status == "wait":
            return {"status": "wait", "wait_seconds": issued.wait_seconds, "phone_masked": mask_phone(phone)}
        if issued.status == "too_many":
            return {"status": "too_many"}
        self.sms.send(phone, compose("otp_sign", titles="".join(titles), code=issued.code))
        self.kv.set(f"sign:pending:{sender}", json.dumps({"a": account_number, "c": codes}), SIGN_PENDING_TTL)
        self.audit.record("otp_sent", actor=f"customer:{sender}", account_number=account_number,
                          purpose=self._purpose(codes))
        return {"status": "sent", "phone_masked": mask_phone(phone), "codes": codes}

    def confirm_signing(self, account_number: str, sender: str, otp_code: str) -> dict:
        raw = self.kv.get(f"sign:pending:{sender}")
        pending = json.loads(raw) if raw else None
        if not pending or pending["a"] != account_number:
            return {"status": "no_pending"}
        codes = pending["c"]
        phone = self._phone(account_number)
        checked = self.otp.verify(phone, self._purpose(codes), otp_code, sender=sender)
        if checked.status != "ok":
            self.audit.record("otp_failed", actor=f"customer:{sender}", account_number=account_number,
                              purpose=self._purpose(codes), result=checked.status)
            return {"status": checked.status, "remaining": checked.remaining}
        self.kv.delete(f"sign:pending:{sender}")
        signed = [self._sign_one(account_number, sender, code, phone) for code in codes]
        return {"status": "ok", "signed": signed}

    def _sign_one(self, account_number: str, sender: str, code: str, phone: str) -> dict:
        tpl = self.template(code)
        now = self.clock.utcnow()
        with self.db.session() as s:
            reading = self._agreed_reading(s, account_number, code)
            if reading is None:
                raise AgreementError("not_agreed", f"《{tpl.title}》尚未阅读同意。", 409)
            reading_info = {"id": reading.id, "opened_at": reading.opened_at, "agreed_at": reading.agreed_at}
            account = s.get(Account, account_number)
            signature_id = account.signature_media_id
        signature = self.media.get(signature_id)[0] if signature_id else None
        pdf = render_pdf(tpl, account_number=account_number, signature_png=signature, signed_at=now,
                         phone_masked=mask_phone(phone), opened_at=reading_info["opened_at"],
                         agreed_at=reading_info["agreed_at"])
        digest = hashlib.sha256(pdf).hexdigest()
        media_id = self._store_pdf(pdf, digest, sender)
        with self.db.session() as s:
            row = SignedAgreement(account_number=account_number, code=code, version=tpl.version, title=tpl.title,
                                  sender=sender[:128], reading_id=reading_info["id"], signed_at=now,
                                  pdf_media_id=media_id, sha256=digest)
            s.add(row)
            s.flush()
            s.get(AgreementReading, reading_info["id"]).signed_id = row.id
            self.audit.record("agreement_signed", actor=f"customer:{sender}", session=s,
                              account_number=account_number, agreement=code, version=tpl.version,
                              signed_id=row.id, sha256=digest)
            view = self._signed_view(row)
        view["pdf_url"] = self.pdf_link(view["id"])
        return view

    def _store_pdf(self, pdf: bytes, digest: str, sender: str) -> str:
        """The media store's own layout and encryption; its put() accepts only what phones upload."""
        media_id = uuid.uuid4().hex
        path = self.media.path_of(media_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(self.crypto.encrypt(pdf))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        with self.db.session() as s:
            s.add(MediaObject(id=media_id, content_type="application/pdf", size=len(pdf), sha256=digest,
                              sender=sender[:128], created_at=self.clock.utcnow()))
        return media_id

    # --- the signed PDFs ------------------------------------------------------------------------
    def pdf(self, signed_id: int) -> tuple[bytes, dict] | None:
        with self.db.session() as s:
            row = s.get(SignedAgreement, signed_id)
            if row is None:
                return None
            view, media_id = self._signed_view(row), row.pdf_media_id
        data, _ = self.media.get(media_id)
        if hashlib.sha256(data).hexdigest() != view["sha256"]:  # tampered or corrupted: never serve it
            raise AgreementError("integrity", "signed PDF does not match its recorded hash", 500)
        return data, view

    def pdf_link(self, signed_id: int) -> str:
        token = self.signer.sign({"t": "agrpdf", "i": signed_id}, LINK_TTL)
        return f"{self.public_url}/h5/agreements/pdf/{token}"

    def pdf_by_token(self, token: str) -> tuple[bytes, dict] | None:
        payload = self.signer.verify(token, "agrpdf")
        if payload is None:
            return None
        return self.pdf(int(payload["i"]))

    def overview(self, account_number: str) -> dict:
        """协议查看与补签: what was signed (with PDF links) and what should be signed now."""
        signed = self.list_signed(account_number)
        for item in signed:
            item["pdf_url"] = self.pdf_link(item["id"])
        return {"signed": signed, "missing": self.missing(account_number)}


