"""Real face photos for tests and benchmarks, taken from files that ship inside packages.

Nothing is downloaded at run time.  ``fetch_faces(DIR)`` is a one-off test-data
setup step (``python -m biometrics.testdata fetch-faces DIR``) that uses pip's
ordinary client to fetch two package archives and copies their sample photos:

* face_recognition 1.3.0 sdist: tests/test_images (Barack Obama x3, Joe Biden)
* scikit-image 0.21.0 wheel: skimage/data/astronaut.png (Eileen Collins)
* matplotlib (installed): mpl-data/sample_data/grace_hopper.jpg

Files are stored as ``<person>__<n>.<ext>`` so tests can pick "same person" and
"other person".
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


def temp_dir() -> str:
    return tempfile.mkdtemp(prefix="faces-")
