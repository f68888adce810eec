"""Blank personal metadata in MP4/QuickTime videos (a WeChat 小视频, a liveness clip) before they are stored.

Phones write where a video was taken (ISO 6709 '©xyz' in 'udta', com.apple.quicktime.location.ISO6709 in
'meta'), the device make and model and sometimes the owner's name into 'udta' and 'meta' boxes, and XMP into
'uuid' boxes. Each such box is turned in place into a 'free' box of the same size, zero-filled: nothing is
moved, so the sample offsets into 'mdat' (stco/co64) stay right and the video plays exactly as uploaded.

WebM is left as it is: the only WebM we store is what our own witness page records (MediaRecorder writes no
location, device or owner), and walking MediaRecorder's unknown-size clusters would need a full parser.
"""
from __future__ import annotations

BLANK = {b"udta", b"meta", b"uuid"}
# Boxes whose children may hold the above (track-level udta/meta); sample tables and fragments are not walked.
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf"}
MAX_DEPTH = 6


class VideoMetadataError(ValueError):
    """The box structure could not be walked: the file cannot be shown to be clean."""


def _box(buf: bytearray, pos: int, end: int) -> tuple[bytes, int, int]:
    """(type, header length, total size) of the box at pos."""
    if end - pos < 8:
        raise VideoMetadataError("truncated box header")
    size, kind, header = int.from_bytes(buf[pos:pos + 4], "big"), bytes(buf[pos + 4:pos + 8]), 8
    if size == 1:  # 64-bit size follows the type
        if end - pos < 16:
            raise VideoMetadataError("truncated large box header")
        size, header = int.from_bytes(buf[pos + 8:pos + 16], "big"), 16
    elif size == 0:  # the box runs to the end of its parent (the file, at the top level)
        size = end - pos
    if size < header or pos + size > end:
        raise VideoMetadataError("box size out of range")
    return kind, header, size


def _walk(buf: bytearray, pos: int, end: int, depth: int) -> int:
    blanked = 0
    while pos < end:
        kind, header, size = _box(buf, pos, end)
        if kind in BLANK:
            buf[pos + 4:pos + 8] = b"free"
            buf[pos + header:pos + size] = bytes(size - header)
            blanked += 1
        elif kind in CONTAINERS and depth < MAX_DEPTH:
            blanked += _walk(buf, pos + header, pos + size, depth + 1)
        pos += size
    return blanked


def strip_mp4(data: bytes) -> bytes:
    """The same video, same length, with its metadata boxes blanked. Raises VideoMetadataError when the file is
    not a walkable MP4 (truncated or corrupt)."""
    buf = bytearray(data)
    _walk(buf, 0, len(buf), 0)
    return bytes(buf)
