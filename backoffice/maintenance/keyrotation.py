"""Re-encrypt personal data with the newest data key (`python -m backoffice rotate-keys`).

HALL_DATA_KEYS lists keys newest first. Crypto (MultiFernet) already decrypts with any listed key and
encrypts new data with the first, so after a new key is put in front everything keeps working; this command
then rewrites every encrypted column (every column whose name ends in `_enc`, in every table) and every
media file with the newest key. Blind indexes and the OTP/link subkeys derive from the LAST key of the list
(see backoffice/core/crypto.py), so that key stays in the list: docs/security.md describes the procedure.
"""
from __future__ import annotations

import os

from sqlalchemy import select, update

from backoffice.core.db import Base
from backoffice.media.store import MediaObject


def rotate_keys(services) -> dict:
    """Every table counts: all are registered by the composition root (backoffice/services.py imports
    backoffice.models) that built `services`."""
    crypto, db = services.crypto, services.db
    counts = {"values": 0, "media_files": 0, "missing_files": 0}
    for table in Base.metadata.sorted_tables:
        cols = [c for c in table.columns if c.name.endswith("_enc")]
        if not cols:
            continue
        pk = list(table.primary_key.columns)
        with db.session() as s:
            rows = list(s.execute(select(*pk, *cols)))
        for row in rows:
            values = {}
            for col in cols:
                token = row._mapping[col]
                if token is not None:
                    values[col.name] = crypto.rotate(token.encode()).decode()
            if values:
                with db.session() as s:
                    s.execute(update(table).where(*[c == row._mapping[c] for c in pk]).values(**values))
                counts["values"] += len(values)
    with db.session() as s:
        media_ids = list(s.execute(select(MediaObject.id)).scalars())
    for media_id in media_ids:
        path = services.media.path_of(media_id)
        if not path.exists():
            counts["missing_files"] += 1
            continue
        tmp = path.with_suffix(".rot")
        with open(tmp, "wb") as fh:
            fh.write(crypto.rotate(path.read_bytes()))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: a reader sees the old or the new file, both decryptable
        counts["media_files"] += 1
    services.audit.record("data_keys_rotated", actor="system", **counts)
    return counts
