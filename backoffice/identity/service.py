"""Shared identity steps: ID card, the face references and passes, and the handwritten signature.

Results are kept server-side per sender (in the KV store, with a TTL), so the bot only carries markers
and later steps (binding a device, recovering an account, signing) can check that the earlier ones
really passed for this sender. A face step passes only through a live check (backoffice/identity/live.py)
or a reviewer's approval of one (reviews.py), which call record_pass; a still image never does.
The biometrics run in the process pool, never on the event loop.
"""
from __future__ import annotations

import asyncio
import json
import sys
from datetime import date

from backoffice.core import tracing
from backoffice.core.crypto import mask_id_number, mask_name
from backoffice.media.store import MediaError

STEP_TTL = 20 * 60


def _pending() -> int | None:
    """Jobs already in the biometrics pool (queued or running) when one more is submitted."""
    pool = sys.modules.get("biometrics.pool")  # only if the pool was loaded: reading it never starts it
    return pool.pending() if pool is not None else None


class IdentityService:
    def __init__(self, accounts, media, kv, crypto, audit, clock, runner=None):
        self.accounts, self.media, self.kv, self.crypto = accounts, media, kv, crypto
        self.audit, self.clock = audit, clock
        self._runner = runner

    async def _run(self, func, *args):
        if self._runner is None:
            from biometrics import pool  # heavy: OCR/face engines, loaded on first use

            self._runner = pool.run
        if not tracing.enabled():
            return await self._runner(func, *args)
        # the pool job as the customer waits for it: queueing behind other jobs plus the run itself
        job = getattr(func, "__name__", "job")
        with tracing.span(f"biometrics {job}", {"biometrics.job": job, "biometrics.pending_before": _pending()}):
            return await self._runner(func, *args)

    async def run_biometrics(self, func, *args):
        """A biometrics job in the process pool (errors.Busy / errors.Timeout when it cannot run now)."""
        return await self._run(func, *args)

    async def load_own(self, media_id: str, sender: str) -> bytes | None:
        """A file this conversation uploaded (None: unknown, expired or someone else's)."""
        return await self._load(media_id, owner=sender)

    async def store_face(self, data: bytes, sender: str) -> str:
        """A face image of this conversation (a live check's best frame), under the face retention."""
        return (await asyncio.to_thread(self.media.put, data, sender=sender, kind="face")).media_id

    async def _load(self, media_id: str, owner: str | None = None) -> bytes | None:
        """A stored file; with `owner`, only one that conversation uploaded (customers' own photos)."""
        try:
            data, _ctype = await asyncio.to_thread(self.media.get, media_id, owner=owner)
            return data
        except MediaError:
            return None

    # --- pending ID per sender -------------------------------------------------------------
    def _id_key(self, sender: str) -> str:
        return f"id:pending:{sender}"

    def pending_id(self, sender: str) -> dict | None:
        raw = self.kv.get(self._id_key(sender))
        return json.loads(raw) if raw else None

    def _save_pending(self, sender: str, record: dict) -> None:
        self.kv.set(self._id_key(sender), json.dumps(record), STEP_TTL)

    def clear(self, sender: str) -> None:
        self.kv.delete(self._id_key(sender))

    async def read_id_front(self, sender: str, media_id: str) -> dict:
        from biometrics import errors, idcard  # heavy: OCR/face engines, loaded on first use

        data = await self._load(media_id, owner=sender)
        if data is None:
            return {"status": "rejected", "error": "not_found", "message": "图片已失效，请重新发送身份证人像面照片。"}
        try:
            result = await self._run(idcard.read_front, data)
        except (errors.Busy, errors.Timeout):
            return {"status": "busy", "message": "识别服务繁忙，请稍后重新发送照片。"}
        if not result.ok:
            self.audit.record("id_rejected", actor=f"customer:{sender}", side="front", error=result.error)
            return {"status": "rejected", "error": result.error, "message": result.message}
        portrait_id = None
        if result.portrait_png:
            portrait_id = (await asyncio.to_thread(self.media.put, result.portrait_png, sender=sender)).media_id
        self._save_pending(sender, {
            "front": media_id, "portrait": portrait_id, "confirmed": False,
            "id_enc": self.crypto.encrypt_str(result.id_number), "name_enc": self.crypto.encrypt_str(result.name),
            "needs_review": list(result.needs_review or []), "back": None, "valid_until": None,
        })
        return {"status": "read", "name": result.name, "name_masked": mask_name(result.name),
                "id_masked": mask_id_number(result.id_number), "needs_review": list(result.needs_review or [])}

    async def read_id_back(self, sender: str, media_id: str) -> dict:
        from biometrics import errors, idcard  # heavy: OCR/face engines, loaded on first use

        pending = self.pending_id(sender)
        if not pending:
            return {"status": "no_pending", "message": "请先上传身份证人像面照片。"}
        data = await self._load(media_id, owner=sender)
        if data is None:
            return {"status": "rejected", "error": "not_found", "message": "图片已失效，请重新发送身份证国徽面照片。"}
        try:
            result = await self._run(idcard.read_back, data)
        except (errors.Busy, errors.Timeout):
            return {"status": "busy", "message": "识别服务繁忙，请稍后重新发送照片。"}
        if not result.ok:
            self.audit.record("id_rejected", actor=f"customer:{sender}", side="back", error=result.error)
            return {"status": "rejected", "error": result.error, "message": result.message}
        if result.expired:
            self.audit.record("id_rejected", actor=f"customer:{sender}", side="back", error="expired")
            return {"status": "rejected", "error": "expired",
                    "message": f"您的身份证已于{result.valid_until}过期，请更换有效身份证后再办理。"}
        pending.update(back=media_id, valid_until=result.valid_until)
        self._save_pending(sender, pending)
        id_number = self.crypto.decrypt_str(pending["id_enc"])
        return {"status": "ok", "valid_until": result.valid_until, "name": self.crypto.decrypt_str(pending["name_enc"]),
                "id_masked": mask_id_number(id_number)}

    def confirm_id(self, sender: str, account_number: str | None) -> dict:
        """The customer confirmed the recognised ID. For a logged-in business it must be the account's owner's."""
        pending = self.pending_id(sender)
        if not pending:
            return {"status": "no_pending"}
        id_number = self.crypto.decrypt_str(pending["id_enc"])
        if account_number:
            accounts = self.accounts.find_by_id_number(id_number)
            if account_number not in accounts:
                self.audit.record("id_mismatch", actor=f"customer:{sender}", account_number=account_number)
                self.clear(sender)
                return {"status": "mismatch"}
            self.accounts.set_id_on_file(account_number, {
                "front_media_id": pending["front"], "back_media_id": pending.get("back"),
                "portrait_media_id": pending.get("portrait"), "valid_until": pending.get("valid_until"),
                "accepted_at": self.clock.utcnow().isoformat(),
                "ocr": self._ocr_summary(pending, id_number, account_number),
            })
            self.audit.record("id_accepted", actor=f"customer:{sender}", account_number=account_number)
        pending["confirmed"] = True
        self._save_pending(sender, pending)
        return {"status": "ok"}

    def _ocr_summary(self, pending: dict, id_number: str, account_number: str) -> dict:
        """What the reviewer sees of the card read: masked fields, the fields OCR was unsure of, and whether
        they match the account record (compared here, so no plaintext is stored beside the record)."""
        name = self.crypto.decrypt_str(pending["name_enc"])
        on_record = self.accounts.identity_of(account_number) or ("", "")
        return {"name_masked": mask_name(name), "id_masked": mask_id_number(id_number),
                "valid_until": pending.get("valid_until"), "needs_review": list(pending.get("needs_review") or []),
                "name_matches": name == on_record[0], "id_matches": id_number.upper() == on_record[1].upper()}

    def confirmed_id_number(self, sender: str) -> str | None:
        pending = self.pending_id(sender)
        if not pending or not pending.get("confirmed"):
            return None
        return self.crypto.decrypt_str(pending["id_enc"])

    def id_on_file_valid(self, account_number: str, today: date | None = None) -> bool:
        view = self.accounts.get(account_number)
        record = (view.id_on_file if view else None) or {}
        until = record.get("valid_until")
        if not record.get("front_media_id") or not until:
            return False
        if until == "长期":
            return True
        try:
            return date.fromisoformat(until) >= (today or self.clock.utcnow().date())
        except ValueError:
            return False

    # --- face -------------------------------------------------------------------------------
    def references(self, sender: str, account_number: str | None) -> list[str]:
        """Media ids of the portraits a face is compared with: the ID card this conversation confirmed, then the
        account's ID on file and the authority's portrait."""
        refs = []
        pending = self.pending_id(sender)
        if pending and pending.get("confirmed") and pending.get("portrait"):
            refs.append(pending["portrait"])
        if account_number:
            view_refs = self.accounts.portrait_refs(account_number)
            refs.extend(r for r in view_refs if r not in refs)
        return refs

    def has_face_reference(self, sender: str, account_number: str | None) -> bool:
        return bool(self.references(sender, account_number))

    def _face_key(self, sender: str, purpose: str) -> str:
        return f"face:ok:{sender}:{purpose}"

    def record_pass(self, sender: str, purpose: str, account_number: str | None, record: dict,
                    ttl: float = STEP_TTL) -> None:
        """A face step passed (a live check matched, or a reviewer approved one) for this conversation."""
        self.kv.set(self._face_key(sender, purpose), json.dumps({**record, "account": account_number}), ttl)
        self.audit.record("face_passed", actor=f"customer:{sender}", account_number=account_number, purpose=purpose,
                          distance=record.get("distance"), reviewed=bool(record.get("review_id")))

    async def compare_with_references(self, sender: str, account_number: str | None, image: bytes) -> dict:
        """A face image (a live check's best frame, a video witness snapshot) against the references; no tries
        are counted and nothing is recorded: the caller keeps the result with its own evidence."""
        from biometrics import errors, face  # heavy: OCR/face engines, loaded on first use

        refs = await asyncio.to_thread(self.references, sender, account_number)
        if not refs:
            return {"ok": False, "error": "no_reference", "message": "没有可比对的证件头像或留存照片。"}
        references = [b for b in [await self._load(r) for r in refs] if b]
        try:
            result = await self._run(face.compare, image, references)
        except (errors.Busy, errors.Timeout):
            return {"ok": False, "error": "busy", "message": "人脸识别服务繁忙，请稍后再试。"}
        return {"ok": bool(result.ok), "decision": result.decision, "error": result.error,
                "distance": None if result.distance is None else round(float(result.distance), 4),
                "accept_max": result.accept_max, "review_max": result.review_max, "message": result.message}

    def face_passed(self, sender: str, purpose: str, account_number: str | None) -> dict | None:
        """The pass of this conversation's face step for this account (accepted or approved), if any."""
        raw = self.kv.get(self._face_key(sender, purpose))
        record = json.loads(raw) if raw else None
        if record and record.get("account") == account_number and record.get("decision") == "accept":
            return record
        return None

    def consume_face(self, sender: str, purpose: str) -> None:
        self.kv.delete(self._face_key(sender, purpose))

    # --- signature --------------------------------------------------------------------------
    async def check_signature(self, sender: str, media_id: str) -> dict:
        from biometrics import errors, signature  # heavy: OCR/face engines, loaded on first use

        data = await self._load(media_id, owner=sender)
        if data is None:
            return {"status": "rejected", "error": "not_found", "message": "图片已失效，请重新发送签名照片。"}
        try:
            result = await self._run(signature.check, data)
        except (errors.Busy, errors.Timeout):
            return {"status": "busy", "message": "识别服务繁忙，请稍后重新发送照片。"}
        if not result.ok or not result.png:
            return {"status": "rejected", "problems": list(result.problems), "message": result.message}
        preview = (await asyncio.to_thread(self.media.put, result.png, sender=sender)).media_id
        self.kv.set(f"signature:pending:{sender}", preview, STEP_TTL)
        return {"status": "ok", "preview_media_id": preview}

    def confirm_signature(self, sender: str, account_number: str) -> dict:
        preview = self.kv.get(f"signature:pending:{sender}")
        if not preview:
            return {"status": "no_pending"}
        self.accounts.set_signature(account_number, preview)
        self.kv.delete(f"signature:pending:{sender}")
        self.audit.record("signature_uploaded", actor=f"customer:{sender}", account_number=account_number)
        return {"status": "ok"}
