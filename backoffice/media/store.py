"""Media store: customer images and videos, encrypted at rest, addressed by random ids."""
from __future__ import annotations

import hashlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Column, DateTime, Integer, String

from backoffice.core.db import Base
from backoffice.media.image_metadata import MetadataError, strip_metadata
from backoffice.media.video_metadata import VideoMetadataError, strip_mp4

MEDIA_ID_RE = re.compile(r"^[0-9a-f]{32}$")

# Magic numbers of what a phone sends; anything else is refused before it is stored.
SIGNATURES = [
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
    (b"\x1aE\xdf\xa3", "video/webm"),
    (b"AMR", "audio/amr"),
]


def sniff(data: bytes) -> str | None:
    for magic, ctype in SIGNATURES:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


class MediaError(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class MediaInfo:
    media_id: str
    content_type: str
    size: int
    sha256: str


class MediaObject(Base):
    __tablename__ = "media_objects"
    id = Column(String(32), primary_key=True)
    content_type = Column(String(64), nullable=False)
    size = Column(Integer, nullable=False)
    sha256 = Column(String(64), nullable=False)
    sender = Column(String(128), index=True)
    created_at = Column(DateTime(timezone=True), nullable=False)
    # "face": a live check's clip or best frame (kept HALL_RETAIN_FACE_DAYS unless a business record holds it)
    kind = Column(String(16))


class MediaStore:
    def __init__(self, db, crypto, clock, root: Path, max_bytes: int):
        self.db, self.crypto, self.clock = db, crypto, clock
        self.root = Path(root)
        self.max_bytes = max_bytes
        self.root.mkdir(parents=True, exist_ok=True)

    def path_of(self, media_id: str) -> Path:
        """Where a media file lives (encrypted): for the maintenance jobs that rewrite or delete files."""
        if not isinstance(media_id, str) or not MEDIA_ID_RE.fullmatch(media_id):  # fullmatch: "$" allows a "\n"
            raise MediaError("bad_id", "invalid media id")
        return self.root / media_id[:2] / f"{media_id}.bin"

    def put(self, data: bytes, *, sender: str | None = None, max_bytes: int | None = None,
            kind: str | None = None) -> MediaInfo:
        """max_bytes: a larger cap for callers storing long media (video witness recordings); kind: see
        MediaObject.kind."""
        if not data:
            raise MediaError("empty", "文件为空，请重新发送。")
        limit = max_bytes or self.max_bytes
        if len(data) > limit:
            raise MediaError("too_large", f"文件过大（上限{limit // (1024 * 1024)}MB），请压缩后重新发送。")
        ctype = sniff(data)
        if ctype is None:
            raise MediaError("unsupported", "无法识别该文件格式，请发送 JPG/PNG 图片或 MP4 视频。")
        if ctype.startswith("image/"):
            # EXIF (GPS, device), XMP and comments never reach the disk; orientation is kept by rotating pixels.
            try:
                data = strip_metadata(data, ctype)
            except MetadataError:
                raise MediaError("corrupt", "图片文件已损坏，请重新拍摄后发送。") from None
        elif ctype == "video/mp4":
            # the place it was recorded (©xyz), device and owner boxes are blanked in place
            try:
                data = strip_mp4(data)
            except VideoMetadataError:
                raise MediaError("corrupt", "视频文件不完整或已损坏，请重新录制后发送。") from None
        media_id = uuid.uuid4().hex
        path = self.path_of(media_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(self.crypto.encrypt(data))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # atomic: a reader never sees half a file
        info = MediaInfo(media_id, ctype, len(data), hashlib.sha256(data).hexdigest())
        with self.db.session() as s:
            s.add(MediaObject(id=media_id, content_type=ctype, size=len(data), sha256=info.sha256,
                              sender=sender, created_at=self.clock.utcnow(), kind=kind))
        return info

    def mark(self, media_id: str, kind: str) -> None:
        """An uploaded file turned out to be of a kind with its own retention (a live-check video)."""
        with self.db.session() as s:
            row = s.get(MediaObject, media_id)
            if row is not None:
                row.kind = kind

    def info(self, media_id: str) -> MediaInfo | None:
        self.path_of(media_id)
        with self.db.session() as s:
            row = s.get(MediaObject, media_id)
            return MediaInfo(row.id, row.content_type, row.size, row.sha256) if row else None

    def get(self, media_id: str, *, owner: str | None = None) -> tuple[bytes, str]:
        """The file and its type. With `owner`: only if that conversation uploaded it; a media id sent from
        another conversation answers exactly like an expired one (nothing tells the sender it exists)."""
        path = self.path_of(media_id)
        with self.db.session() as s:
            row = s.get(MediaObject, media_id)
            ctype, uploader = (row.content_type, row.sender) if row else (None, None)
        if ctype is None or not path.exists() or (owner is not None and uploader != owner):
            raise MediaError("not_found", "文件不存在或已过期，请重新发送。")
        return self.crypto.decrypt(path.read_bytes()), ctype
