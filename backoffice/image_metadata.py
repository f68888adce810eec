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


def _strip_jpeg(data: bytes) -> bytes:
    if data[:2] != b"\xff\xd8":
        raise MetadataError("not a JPEG")
    out, pos = bytearray(b"\xff\xd8"), 2
    while True:
        while pos < len(data) and data[pos] == 0xFF and pos + 1 < len(data) and data[pos + 1] == 0xFF:
            pos += 1  # fill bytes
        if pos + 4 > len(data) or data[pos] != 0xFF:
            raise MetadataError("broken JPEG segment structure")
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data and the trailer
            out += data[pos:]
            return bytes(out)
        if marker in (0x01, *range(0xD0, 0xD8)):  # stand-alone markers
            out += data[pos:pos + 2]
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise MetadataError("broken JPEG segment length")
        segment = data[pos:pos + 2 + length]
        body = segment[4:]
        keep = True
        if marker == 0xFE:  # COM
            keep = False
        elif 0xE0 <= marker <= 0xEF:
            keep = ((marker == 0xE0 and body.startswith((b"JFIF\0", b"JFXX\0")))
                    or (marker == 0xE2 and body.startswith(b"ICC_PROFILE\0"))
                    or (marker == 0xEE and body.startswith(b"Adobe")))
        if keep:
            out += segment
        pos += 2 + length


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
