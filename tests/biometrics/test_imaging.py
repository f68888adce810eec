import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from biometrics.errors import BadImage
from biometrics.imaging import load_image


def _png(img):
    b = io.BytesIO()
    img.save(b, format="PNG")
    return b.getvalue()


def _reason(data, **kw):
    with pytest.raises(BadImage) as e:
        load_image(data, **kw)
    assert e.value.code == "bad_image" and e.value.message_zh
    return e.value.reason


def test_bad_inputs():
    assert _reason(b"") == "empty"
    assert _reason(b"%PDF-1.4 not an image at all" * 10) == "not_image"
    jpeg = io.BytesIO()
    Image.new("RGB", (800, 600), (120, 30, 200)).save(jpeg, format="JPEG")
    assert _reason(jpeg.getvalue()[: len(jpeg.getvalue()) // 2]) == "truncated"
    assert _reason(b"\xff\xd8" + b"\0" * (50 * 1024 * 1024)) == "too_large"


def test_decompression_bomb_header():
    # A valid PNG header claiming 20000x20000 pixels with almost no data.
    raw = _png(Image.new("RGB", (1, 1)))
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    bomb = raw[:8] + struct.pack(">I", 13) + chunk + struct.pack(">I", zlib.crc32(chunk)) + raw[33:]
    assert _reason(bomb) == "too_many_pixels"


def test_alpha_gif_exif_and_downscale():
    rgba = Image.new("RGBA", (400, 300), (0, 0, 0, 0))
    arr = load_image(_png(rgba))
    assert arr.shape == (300, 400, 3) and arr.min() == 255  # transparent -> white
    gif = io.BytesIO()
    Image.new("P", (200, 100)).save(gif, format="GIF")
    assert load_image(gif.getvalue()).shape == (100, 200, 3)
    # Stored 300 wide x 200 high with EXIF orientation 6 -> displayed 200 wide x 300 high.
    b = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (300, 200), (10, 200, 10)).save(b, format="JPEG", exif=exif.tobytes())
    assert load_image(b.getvalue()).shape[:2] == (300, 200)
    big = io.BytesIO()
    Image.new("RGB", (3000, 2250), (5, 5, 5)).save(big, format="JPEG")
    out = load_image(big.getvalue(), max_side=1000)
    assert max(out.shape[:2]) == 1000 and out.dtype == np.uint8
