"""Strip metadata (EXIF with GPS, XMP, IPTC, comments) from customer images before they are stored.

JPEG and PNG are cleaned losslessly by dropping metadata segments/chunks, so the pixels the biometrics see
are the uploaded ones. When the EXIF orientation is not "upright", dropping it would turn the photo on its
side, so the orientation is applied to the pixels and the image re-encoded (JPEG quality 95). Other image
formats are re-encoded by Pillow without metadata when they carry any.
"""
from __future__ import annotations

import io
import struct

from PIL import Image, ImageOps

# JPEG APPn segments kept: APP0 (JFIF), APP2 only for ICC profiles (colours), APP14 (Adobe colour transform).
_PNG_DROP = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
ORIENTATION = 0x0112


class MetadataError(ValueError):
    """The image structure could not be walked: it cannot be shown to be clean."""


def _orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as img:
            return int(img.getexif().get(ORIENTATION, 1) or 1)
    except Exception:
        return 1


def _reencode(data: bytes, fmt: str) -> bytes:
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            upright = ImageOps.exif_transpose(img)
            out = io.BytesIO()
            if fmt == "JPEG":
                upright = upright.convert("RGB") if upright.mode not in ("RGB", "L", "CMYK") else upright
                upright.save(out, "JPEG", quality=95, icc_profile=img.info.get("icc_profile"))
            elif fmt == "PNG":
                upright.save(out, "PNG", icc_profile=img.info.get("icc_profile"))
            else:
                upright.save(out, fmt, quality=95) if fmt == "WEBP" else upright.save(out, fmt)
            return out.getvalue()
    except Exception as exc:
        raise MetadataError("cannot re-encode the image") from exc


# Segments a decoder needs: SOFn/DHT/DAC (C0-CF), DQT, DNL, DRI, DHP, EXP. Everything else before, between or
# after the scans (APPn other than the three below, COM, unknown markers, data after EOI such as appended
# "motion photo" videos) is dropped.
_JPEG_TABLES = set(range(0xC0, 0xD0)) | {0xDB, 0xDC, 0xDD, 0xDE, 0xDF}


def _keep_app(marker: int, body: bytes) -> bool:
    return ((marker == 0xE0 and body.startswith((b"JFIF\0", b"JFXX\0")))
            or (marker == 0xE2 and body.startswith(b"ICC_PROFILE\0"))
            or (marker == 0xEE and body.startswith(b"Adobe")))


def _strip_jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise MetadataError("not a JPEG")
    out, pos, n = bytearray(b"\xff\xd8"), 2, len(data)
    while True:
        while pos + 1 < n and data[pos] == 0xFF and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 2 > n or data[pos] != 0xFF:
            raise MetadataError("broken JPEG segment structure")
        marker = data[pos + 1]
        if marker == 0xD9:  # EOI: nothing after it is kept
            out += b"\xff\xd9"
            return bytes(out)
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # stand-alone markers
            out += data[pos:pos + 2]
            pos += 2
            continue
        if pos + 4 > n:
            raise MetadataError("broken JPEG segment")
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > n:
            raise MetadataError("broken JPEG segment length")
        segment = data[pos:pos + 2 + length]
        if marker in _JPEG_TABLES or marker == 0xDA or (0xE0 <= marker <= 0xEF and _keep_app(marker, segment[4:])):
            out += segment
        pos += 2 + length
        if marker == 0xDA:  # entropy-coded data up to the next real marker (not stuffing, not RSTn)
            scan = pos
            while True:
                scan = data.find(b"\xff", scan)
                if scan < 0 or scan + 1 >= n:
                    raise MetadataError("JPEG ends inside a scan")
                nxt = data[scan + 1]
                if nxt == 0x00 or 0xD0 <= nxt <= 0xD7 or nxt == 0xFF:
                    scan += 1 if nxt == 0xFF else 2
                    continue
                break
            out += data[pos:scan]
            pos = scan


def _strip_png(data: bytes) -> bytes:
    sig = b"\x89PNG\r\n\x1a\n"
    if not data.startswith(sig):
        raise MetadataError("not a PNG")
    out, pos = bytearray(sig), len(sig)
    while pos < len(data):
        if pos + 12 > len(data):
            raise MetadataError("broken PNG chunk")
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise MetadataError("broken PNG chunk length")
        if kind not in _PNG_DROP:
            out += data[pos:end]
        if kind == b"IEND":
            return bytes(out)
        pos = end
    raise MetadataError("PNG without IEND")


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """The image without metadata, upright. Raises MetadataError when the file cannot be walked."""
    if content_type == "image/jpeg":
        if _orientation(data) != 1:
            return _strip_jpeg(_reencode(data, "JPEG"))
        return _strip_jpeg(data)
    if content_type == "image/png":
        if _orientation(data) != 1:
            return _strip_png(_reencode(data, "PNG"))
        return _strip_png(data)
    if content_type == "image/webp":
        try:
            with Image.open(io.BytesIO(data)) as img:
                carries = bool(img.info.get("exif") or img.info.get("xmp") or img.getexif())
        except Exception as exc:
            raise MetadataError("cannot read the image") from exc
        return _reencode(data, "WEBP") if carries else data
    return data  # GIF and BMP carry no EXIF; audio and video are not images (docs/security.md)


def has_metadata(data: bytes) -> bool:
    """Used by tests and the purge audit: any EXIF/XMP/IPTC/text metadata left in an image?"""
    if any(m in data for m in (b"Exif\0\0", b"http://ns.adobe.com/xap/", b"Photoshop 3.0\0")):
        return True
    try:
        with Image.open(io.BytesIO(data)) as img:
            return bool(img.getexif() or img.info.get("exif") or img.info.get("xmp") or getattr(img, "text", None))
    except Exception:
        return False
