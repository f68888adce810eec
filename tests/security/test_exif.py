"""EXIF (GPS above all), XMP and comments are stripped from every stored image; orientation is kept."""
from __future__ import annotations

import io

import pytest
from aiohttp import FormData
from PIL import Image

from backoffice.media.image_metadata import has_metadata
from backoffice.media.store import MediaError

GPS_IFD = 0x8825


def gps_jpeg(orientation: int = 1, size=(64, 32)) -> bytes:
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((30, 30, 200), (0, 0, size[0] // 4, size[1] // 4))  # a corner marker to check the rotation
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Phone X"  # Model
    exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1], gps[2] = "N", (39.0, 54.0, 27.0)  # Beijing, 39°54'27"N 116°23'50"E
    gps[3], gps[4] = "E", (116.0, 23.0, 50.0)
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif, quality=92, comment=b"taken at home")
    data = out.getvalue()
    assert b"Exif\0\0" in data and has_metadata(data)
    return data


def stored_bytes(services, media_id: str) -> bytes:
    return services.media.get(media_id)[0]


def _gps(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


async def test_uploaded_jpeg_loses_its_gps_exif(client, services):
    original = gps_jpeg()
    assert _gps(original)
    form = FormData()
    form.add_field("file", original, filename="selfie.jpg", content_type="image/jpeg")
    resp = await client.post("/api/media", data=form)
    assert resp.status == 201
    stored = stored_bytes(services, (await resp.json())["media_id"])
    assert not has_metadata(stored) and _gps(stored) == {}
    assert b"Exif" not in stored and b"PhoneMaker" not in stored and b"taken at home" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (64, 32) and img.format == "JPEG"
    # upright photos keep their exact pixels: only metadata segments went away
    with Image.open(io.BytesIO(original)) as a, Image.open(io.BytesIO(stored)) as b:
        assert a.tobytes() == b.tobytes()
    # and what is on disk is encrypted: neither GPS nor JPEG structure in clear
    path = services.media.path_of((await resp.json())["media_id"])
    assert b"Exif" not in path.read_bytes() and b"\xff\xd8\xff" not in path.read_bytes()


def test_orientation_is_applied_before_the_tag_goes(services):
    info = services.media.put(gps_jpeg(orientation=6))  # 6 = rotate 90° clockwise to display
    stored = stored_bytes(services, info.media_id)
    assert not has_metadata(stored)
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (32, 64)  # portrait, as the phone displayed it
        assert img.getexif().get(0x0112) is None
        r, g, b = img.convert("RGB").getpixel((img.width - 3, 2))  # the marker corner moved to the top right
        assert b > 150 and r < 100


def test_png_text_and_exif_chunks_are_dropped(services):
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("GPS", "39.9075,116.3972")
    meta.add_itxt("Comment", "家里拍的")
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD)[1] = "N"
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (1, 2, 3)).save(out, "PNG", pnginfo=meta, exif=exif)
    assert has_metadata(out.getvalue())
    stored = stored_bytes(services, services.media.put(out.getvalue()).media_id)
    assert not has_metadata(stored) and b"39.9075" not in stored
    with Image.open(io.BytesIO(stored)) as img:
        assert img.size == (40, 40) and img.getpixel((5, 5)) == (1, 2, 3)


def test_webp_with_exif_is_reencoded_without_it(services):
    exif = Image.Exif()
    exif.get_ifd(GPS_IFD)[1] = "N"
    exif[0x010F] = "PhoneMaker"
    out = io.BytesIO()
    Image.new("RGB", (40, 40), (9, 9, 9)).save(out, "WEBP", exif=exif)
    stored = stored_bytes(services, services.media.put(out.getvalue()).media_id)
    assert not has_metadata(stored) and b"PhoneMaker" not in stored


def test_a_jpeg_whose_structure_cannot_be_walked_is_refused(services):
    broken = gps_jpeg()[:40]  # cut inside the EXIF segment
    with pytest.raises(MediaError) as err:
        services.media.put(broken)
    assert err.value.code == "corrupt" and "损坏" in str(err.value)


def test_metadata_hidden_in_odd_places_is_dropped(services):
    """Found by fuzzing: EXIF under a marker a decoder skips; also data appended after the image (motion photos)."""
    original = gps_jpeg()
    start = original.index(b"\xff\xe1")
    hidden = original[:start] + b"\xff\x00" + original[start + 2:] + b"appended video with GPS"
    stored = stored_bytes(services, services.media.put(hidden).media_id)
    assert b"Exif" not in stored and b"appended" not in stored and stored.endswith(b"\xff\xd9")
    with Image.open(io.BytesIO(stored)) as img:
        img.load()
        assert img.size == (64, 32)


# --- videos: a phone's MP4 carries where it was recorded ---------------------------------------------------------

LOCATION = b"+39.9042+116.4074+044.000/"


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def _with_phone_metadata(mp4: bytes) -> bytes:
    """The video with what an iPhone adds: ©xyz and make/model in moov/udta, an ISO 6709 location in moov/meta,
    an XMP uuid box at the top. OpenCV writes moov after mdat, so growing moov moves no sample."""
    pos, out = 0, b""
    while pos < len(mp4):
        size, kind = int.from_bytes(mp4[pos:pos + 4], "big"), mp4[pos + 4:pos + 8]
        box = mp4[pos:pos + size]
        if kind == b"moov":
            udta = _box(b"udta", _box(b"\xa9xyz", len(LOCATION).to_bytes(2, "big") + b"\x15\xc7" + LOCATION)
                        + _box(b"\xa9mak", b"\x00\x05\x15\xc7Apple") + _box(b"\xa9mod", b"\x00\x09\x15\xc7iPhone 15"))
            meta = _box(b"meta", b"\x00" * 4 + _box(b"keys", b"com.apple.quicktime.location.ISO6709" + LOCATION))
            box = _box(b"moov", box[8:] + udta + meta)
        out += box
        pos += size
    return out + _box(b"uuid", bytes.fromhex("be7acfcb97a942e89c71999491e3afac") + b"<x:xmpmeta>Zhang Wei</x:xmpmeta>")


@pytest.fixture(scope="module")
def phone_video():
    from biometrics.testdata import ensure_faces, make_liveness_video

    person = next(iter(ensure_faces().values()))[0]
    plain = make_liveness_video(person, "blink", seed=1)
    return plain, _with_phone_metadata(plain)


def _frames(video: bytes) -> int:
    from biometrics.liveness import read_frames

    return len(read_frames(video)[0])


def test_an_mp4_loses_its_location_device_and_xmp_and_still_plays(services, phone_video):
    plain, tagged = phone_video
    assert LOCATION in tagged and _frames(tagged) == _frames(plain) > 10
    info = services.media.put(tagged, sender="s1")
    stored = stored_bytes(services, info.media_id)
    assert info.content_type == "video/mp4" and len(stored) == len(tagged)
    for secret in (LOCATION, b"iPhone", b"Apple", b"ISO6709", b"Zhang Wei", b"udta", b"\xa9xyz"):
        assert secret not in stored, secret
    assert _frames(stored) == _frames(plain)  # nothing moved: every frame decodes as before
    # the media itself is untouched: only the blanked boxes differ
    changed = [i for i in range(len(stored)) if stored[i] != tagged[i]]
    assert changed and min(changed) > tagged.index(b"moov")


def test_an_mp4_whose_boxes_cannot_be_walked_is_refused(services, phone_video):
    plain, _ = phone_video
    with pytest.raises(MediaError) as err:
        services.media.put(plain[: len(plain) - 100] + b"\x00\x00\x10\x00free", sender="s1")  # a box past the end
    assert err.value.code == "corrupt" and "视频" in str(err.value)
