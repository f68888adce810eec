"""Image decoding paths: biometrics.imaging.load_image and the media store (sniffing + metadata stripping)
with random bytes and truncated/mutated real JPEG, PNG, WebP and GIF files."""
from __future__ import annotations

import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from backoffice.core.clock import ManualClock
from backoffice.core.crypto import Crypto
from backoffice.core.db import Database
from backoffice.media.image_metadata import has_metadata
from backoffice.media.store import MediaError, MediaStore
from biometrics.errors import BadImage
from biometrics.imaging import load_image


def _seed(fmt: str, **kw) -> bytes:
    img = Image.new("RGB", (48, 40), (120, 60, 30))
    img.paste((10, 200, 10), (5, 5, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825)[1] = "N"
    out = io.BytesIO()
    if fmt == "GIF":
        img.save(out, fmt)
    else:
        img.save(out, fmt, exif=exif, **kw)
    return out.getvalue()


SEEDS = [_seed("JPEG", quality=80), _seed("JPEG", progressive=True), _seed("PNG"), _seed("WEBP"), _seed("GIF")]


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        op = draw(st.integers(0, 4))
        pos = draw(st.integers(0, len(data) - 1)) if data else 0
        if op == 0 and data:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.binary(max_size=32))
        elif op == 2:
            del data[pos:pos + draw(st.integers(1, 64))]
        elif op == 3:
            data = data[:pos]  # truncated upload
        elif op == 4 and len(data) > 4:  # huge dimensions in a header
            data[pos:pos + 4] = b"\xff\xff\xff\x7f"
    return bytes(data)


MAGIC = st.sampled_from([b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"RIFF\0\0\0\0WEBP", b""])
INPUTS = st.one_of(mutated(), st.builds(lambda m, b: m + b, MAGIC, st.binary(max_size=256)), st.binary(max_size=64))


@given(data=INPUTS)
def test_load_image_decodes_or_refuses(fuzzed, data):
    with fuzzed:
        try:
            arr = load_image(data, max_side=256, min_side=8)
        except BadImage as exc:
            assert exc.message_zh
            return
    assert isinstance(arr, np.ndarray) and arr.dtype == np.uint8 and arr.ndim == 3 and arr.shape[2] == 3


_store = None


def store(tmp_path_factory=None):
    global _store
    if _store is None:
        import tempfile
        from pathlib import Path

        from backoffice.core.migrate import upgrade

        root = Path(tempfile.mkdtemp(prefix="fuzz-media-"))
        url = f"sqlite:///{root / 'media.db'}"
        upgrade(url)
        _store = MediaStore(Database(url), Crypto(["fuzz"]), ManualClock(1.8e9), root / "media", 10 * 1024 * 1024)
    return _store


@given(data=INPUTS)
def test_media_store_keeps_no_metadata_whatever_it_accepts(fuzzed, data):
    media = store()
    with fuzzed:
        try:
            info = media.put(data)
        except MediaError as exc:
            assert exc.code in ("empty", "unsupported", "corrupt", "too_large") and str(exc)
            return
    stored, ctype = media.get(info.media_id)
    assert ctype == info.content_type and len(stored) == info.size
    if ctype in ("image/jpeg", "image/png"):
        assert b"Exif\0\0" not in stored
        assert not (ctype == "image/png" and has_metadata(stored))


# --- MP4 metadata blanking (backoffice/media/video_metadata.py) ----------------------------------------------------------

def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


_XYZ = _box(b"udta", _box(b"\xa9xyz", b"\x00\x12\x15\xc7+39.9042+116.4074/"))
MP4_SEEDS = [
    _box(b"ftyp", b"mp42\0\0\0\0mp42isom") + _box(b"mdat", bytes(range(64)))
    + _box(b"moov", _box(b"mvhd", bytes(100)) + _box(b"trak", _box(b"tkhd", bytes(84)) + _XYZ) + _XYZ
           + _box(b"meta", bytes(4) + _box(b"keys", b"ISO6709"))),
    _box(b"ftyp", b"qt  \0\0\0\0qt  ") + _box(b"moov", _box(b"udta", bytes(20))) + b"\0\0\0\x01mdat"
    + (24).to_bytes(8, "big") + bytes(8) + _box(b"uuid", bytes(16) + b"<xmp/>"),
]


@st.composite
def mp4s(draw):
    data = bytearray(draw(st.sampled_from(MP4_SEEDS)))
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(st.integers(0, len(data) - 1))
        op = draw(st.integers(0, 3))
        if op == 0:
            data[pos] = draw(st.integers(0, 255))
        elif op == 1:
            data[pos:pos] = draw(st.binary(max_size=24))
        elif op == 2:
            del data[pos:pos + draw(st.integers(1, 32))]
        else:  # a box type swapped for one that must go, or a size field rewritten
            data[pos:pos + 4] = draw(st.sampled_from([b"udta", b"meta", b"uuid", b"moov", b"trak", b"\0\0\0\x01",
                                                      b"\0\0\0\0", b"\xff\xff\xff\xff"]))
    return bytes(data)


def _reachable(data: bytes, pos: int, end: int, depth: int = 0) -> list[bytes]:
    """Box types a player sees where metadata lives (top level, moov, trak, mdia, minf)."""
    kinds = []
    while pos + 8 <= end:
        size, kind, header = int.from_bytes(data[pos:pos + 4], "big"), data[pos + 4:pos + 8], 8
        if size == 1:
            size, header = int.from_bytes(data[pos + 8:pos + 16], "big"), 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        kinds.append(kind)
        if kind in (b"moov", b"trak", b"mdia", b"minf") and depth < 6:
            kinds += _reachable(data, pos + header, pos + size, depth + 1)
        pos += size
    return kinds


@given(data=st.one_of(mp4s(), st.builds(lambda b: b"\0\0\0\x10ftypmp42" + b, st.binary(max_size=128))))
def test_mp4_metadata_is_blanked_or_the_file_refused(fuzzed, data):
    from backoffice.media.video_metadata import VideoMetadataError, strip_mp4

    with fuzzed:
        try:
            clean = strip_mp4(data)
        except VideoMetadataError:
            return
    assert len(clean) == len(data)
    assert not {b"udta", b"meta", b"uuid"} & set(_reachable(clean, 0, len(clean)))
