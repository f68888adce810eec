"""Image decoding paths: biometrics.imaging.load_image and the media store (sniffing + metadata stripping)
with random bytes and truncated/mutated real JPEG, PNG, WebP and GIF files."""
from __future__ import annotations

import io

import numpy as np
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from backoffice.clock import ManualClock
from backoffice.crypto import Crypto
from backoffice.db import Database
from backoffice.image_metadata import has_metadata
from backoffice.media import MediaError, MediaStore
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

        from backoffice.migrate import upgrade

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
