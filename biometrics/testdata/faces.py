"""Real face photos for tests and benchmarks, taken from files that ship inside packages.

Nothing is downloaded at run time.  ``fetch_faces(DIR)`` is a one-off test-data
setup step (``python -m biometrics.testdata fetch-faces DIR``) that uses pip's
ordinary client to fetch two package archives and copies their sample photos:

* face_recognition 1.3.0 sdist: tests/test_images (Barack Obama x3, Joe Biden)
* scikit-image 0.21.0 wheel: skimage/data/astronaut.png (Eileen Collins)
* matplotlib (installed): mpl-data/sample_data/grace_hopper.jpg

Files are stored as ``<person>__<n>.<ext>`` so tests can pick "same person" and
"other person".

A second, disjoint group of people for the independent liveness set (``fetch_other_faces``): single faces
cut out of the group photos in the @vladmandic/face-api 1.7.15 npm package (``demo/sample1-6.jpg``, fetched
with ``npm pack``) and the insightface 2.1 sdist (``insightface/data/images/t1.jpg``).  They are test data
only: nothing here ships them.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("BIOMETRICS_FACES_DIR", Path(__file__).resolve().parents[2] / "var" / "testdata" / "faces"))
OTHER_DIR = Path(os.environ.get("BIOMETRICS_OTHER_FACES_DIR", DEFAULT_DIR.parent / "faces_other"))
_FACE_API = ("@vladmandic/face-api@1.7.15", [f"package/demo/sample{i}.jpg" for i in range(1, 7)])
_INSIGHTFACE = ("insightface==2.1", "insightface/data/images/t1.jpg")

# (archive member suffix, stored name).  obama_partial_face*.jpg are crops of obama.jpg and
# 32bit.png is obama2.jpg again, so they are not separate photos.
_FR_MEMBERS = {
    "tests/test_images/obama.jpg": "obama__1.jpg",
    "tests/test_images/obama2.jpg": "obama__2.jpg",
    "tests/test_images/obama3.jpg": "obama__3.jpg",
    "tests/test_images/biden.jpg": "biden__1.jpg",
}
_SKIMAGE = ("scikit-image==0.21.0", "skimage/data/astronaut.png", "collins__1.png")


def _pip_download(spec: str, dest: str, binary: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", dest, spec]
    cmd[4:4] = ["--only-binary", ":all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.10"] if binary else ["--no-binary", ":all:"]
    subprocess.run(cmd, check=True)
    files = sorted(Path(dest).iterdir(), key=lambda p: p.stat().st_mtime)
    return files[-1]


def fetch_faces(directory: str | os.PathLike = DEFAULT_DIR, *, cache: str | os.PathLike | None = None) -> dict:
    """Populate ``directory`` with the sample photos; returns :func:`list_faces`."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(cache or out / ".cache")
    cache.mkdir(parents=True, exist_ok=True)

    if not all((out / name).exists() for name in _FR_MEMBERS.values()):
        sdist = next(cache.glob("face_recognition-1.3.0.tar.gz"), None) or _pip_download(
            "face_recognition==1.3.0", str(cache), binary=False)
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                for suffix, name in _FR_MEMBERS.items():
                    if member.name.endswith(suffix):
                        with tar.extractfile(member) as src, open(out / name, "wb") as dst:
                            shutil.copyfileobj(src, dst)

    if not (out / _SKIMAGE[2]).exists():
        try:
            wheel = next(cache.glob("scikit_image-0.21.0-*.whl"), None) or _pip_download(
                _SKIMAGE[0], str(cache), binary=True)
            with zipfile.ZipFile(wheel) as zf:
                (out / _SKIMAGE[2]).write_bytes(zf.read(_SKIMAGE[1]))
        except Exception as exc:  # optional extra identity
            print(f"scikit-image astronaut not available: {exc}", file=sys.stderr)

    if not (out / "hopper__1.jpg").exists():
        import matplotlib

        src = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
        if src.exists():
            shutil.copyfile(src, out / "hopper__1.jpg")
    return list_faces(out)


def list_faces(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, list[Path]]:
    """{person: [photo paths]} for the photos in ``directory``."""
    d = Path(directory)
    people: dict[str, list[Path]] = {}
    if not d.is_dir():
        return people
    for p in sorted(d.iterdir()):
        if p.is_file() and "__" in p.stem and p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            people.setdefault(p.stem.split("__")[0], []).append(p)
    return people


def ensure_faces(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, list[Path]]:
    faces = list_faces(directory)
    if len(faces) < 2:
        faces = fetch_faces(directory)
    return faces


def _npm_pack(spec: str, dest: str) -> Path:
    out = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", dest], check=True,
                         capture_output=True, text=True).stdout.strip().splitlines()
    return Path(dest) / out[-1]


def _group_photos(cache: Path) -> list[tuple[str, bytes]]:
    photos = []
    try:
        tgz = next(cache.glob("vladmandic-face-api-1.7.15.tgz"), None) or _npm_pack(_FACE_API[0], str(cache))
        with tarfile.open(tgz) as tar:
            for name in _FACE_API[1]:
                photos.append((Path(name).stem, tar.extractfile(name).read()))
    except Exception as exc:  # npm missing or offline: the other archive still gives some people
        print(f"face-api samples not available: {exc}", file=sys.stderr)
    sdist = next(cache.glob("insightface-2.1.tar.gz"), None) or _pip_download(_INSIGHTFACE[0], str(cache), binary=False)
    with tarfile.open(sdist) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(_INSIGHTFACE[1]))
        photos.append(("t1", tar.extractfile(member).read()))
    return photos


def fetch_other_faces(directory: str | os.PathLike = OTHER_DIR, *, min_face=110, max_people=12) -> dict:
    """Cut single, near-frontal faces (with head and shoulders) out of group photos into ``directory``."""
    import io

    import face_recognition
    import numpy as np
    from PIL import Image

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    if len(list_faces(out)) >= 4:
        return list_faces(out)
    cache = out / ".cache"
    cache.mkdir(exist_ok=True)
    from .. import landmarks

    kept = 0
    for stem, data in _group_photos(cache):
        rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        boxes = face_recognition.face_locations(rgb, 1)
        for k, (t, r, b, l) in enumerate(sorted(boxes, key=lambda x: x[3])):
            fw = r - l
            if fw < min_face or kept >= max_people:
                continue
            # Skip faces with a neighbour too close to cut them out alone.
            cx, cy = (l + r) / 2, (t + b) / 2
            if any(abs((L + R) / 2 - cx) < 1.3 * fw and abs((T + B) / 2 - cy) < 1.6 * fw
                   for T, R, B, L in boxes if (T, R, B, L) != (t, r, b, l)):
                continue
            x0, x1 = int(max(0, cx - 1.25 * fw)), int(min(rgb.shape[1], cx + 1.25 * fw))
            y0, y1 = int(max(0, cy - 1.5 * fw)), int(min(rgb.shape[0], cy + 2.0 * fw))
            crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
            faces = landmarks.detect(crop)
            if len(faces) != 1 or abs(faces[0].yaw()) > 22 or abs(faces[0].pitch()) > 25 or faces[0].ear() < 0.2:
                continue
            Image.fromarray(crop).save(out / f"{stem}-{k}__1.jpg", quality=95)
            kept += 1
    return list_faces(out)


def temp_dir() -> str:
    return tempfile.mkdtemp(prefix="faces-")
