"""Real face photos for tests and benchmarks, taken from public files; nothing is downloaded at run time.

Two sets, both gathered by a one-off set-up step (``python -m biometrics.testdata fetch-faces [DIR]
[--deepface PATH]``) that writes ``DIR/manifest.json`` (source and licence of every photo):

* **registry set** — photos inside package archives fetched with pip's ordinary client:
  face_recognition 1.3.0 sdist tests/test_images (Obama x3, Biden), scikit-image 0.21.0 wheel
  ``astronaut.png`` (Eileen Collins), matplotlib's ``grace_hopper.jpg`` (installed package).  Copied into
  DIR as ``<person>__<n>.<ext>`` (tests pick "same person" / "other person" by that name).
* **deepface set** — deepface's unit-test photos (61 photos, 13 people, taken years apart).  No package
  on PyPI or npm ships them (checked: every deepface sdist/wheel and its forks hold code only), so they are
  read in place from a copy of the deepface repository given with ``--deepface`` (a work tree, a plain
  directory holding ``tests/unit/dataset``, or a git directory without work tree); they are not copied.
  Identities come from the repository's own ``face-recognition-pivot.csv`` (every pair of photos of the
  same person is listed "Yes"): the connected components of the "Yes" pairs.

Identity labels always come from the source (file names, the source's own pair lists), never from looking
at the faces.  Impostor pairs are only formed inside one source: labels from two sources do not say
whether a person appears in both.

A second, disjoint group of people for the independent liveness set (``fetch_other_faces``): single faces
cut out of the group photos in the @vladmandic/face-api 1.7.15 npm package (``demo/sample1-6.jpg``, fetched
with ``npm pack``) and the insightface 2.1 sdist (``insightface/data/images/t1.jpg``).  They are test data
only: nothing here ships them.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("BIOMETRICS_FACES_DIR", Path(__file__).resolve().parents[2] / "var" / "testdata" / "faces"))
MANIFEST = "manifest.json"
OTHER_DIR = Path(os.environ.get("BIOMETRICS_OTHER_FACES_DIR", DEFAULT_DIR.parent / "faces_other"))
_FACE_API = ("@vladmandic/face-api@1.7.15", [f"package/demo/sample{i}.jpg" for i in range(1, 7)])
_INSIGHTFACE = ("insightface==2.1", "insightface/data/images/t1.jpg")

_FR_SOURCE = "pypi:face_recognition==1.3.0 (sdist) tests/test_images/"
_FR_LICENCE = "package MIT (Adam Geitgey); photo rights not stated by the source"
# (archive member suffix, stored name).  obama_partial_face*.jpg are crops of obama.jpg and
# 32bit.png is obama2.jpg again, so they are not separate photos.
_FR_MEMBERS = {
    "tests/test_images/obama.jpg": "obama__1.jpg",
    "tests/test_images/obama2.jpg": "obama__2.jpg",
    "tests/test_images/obama3.jpg": "obama__3.jpg",
    "tests/test_images/biden.jpg": "biden__1.jpg",
}
_SKIMAGE = ("scikit-image==0.21.0", "skimage/data/astronaut.png", "collins__1.png")
_REGISTRY_SOURCES = {
    "obama": (_FR_SOURCE, _FR_LICENCE),
    "biden": (_FR_SOURCE, _FR_LICENCE),
    "collins": ("pypi:scikit-image==0.21.0 (wheel) skimage/data/astronaut.png",
                "public domain (NASA; 'no known copyright restrictions' per skimage.data.astronaut)"),
    "hopper": ("pypi:matplotlib (installed) mpl-data/sample_data/grace_hopper.jpg",
               "public domain (U.S. Navy photograph), shipped as matplotlib sample data"),
}

DEEPFACE_DATASET = "tests/unit/dataset"
DEEPFACE_PAIRS = "face-recognition-pivot.csv"
DEEPFACE_SOURCE = "github:serengil/deepface tests/unit/dataset (repository snapshot; on no package registry)"
DEEPFACE_LICENCE = "repository MIT (Sefik Ilkin Serengil); photos of public figures, photo rights not stated"


@dataclass(frozen=True)
class Photo:
    """One public photo: ``identity`` is namespaced by source (``reg:obama``, ``deepface:img1``)."""

    identity: str
    name: str
    source: str
    licence: str
    location: str  # a file path, or "git:<git dir>:<path in HEAD>"

    @property
    def set(self) -> str:
        return self.identity.split(":", 1)[0]

    def read(self) -> bytes:
        if self.location.startswith("git:"):
            git_dir, path = self.location[4:].rsplit(":", 1)
            return subprocess.run(["git", "--git-dir", git_dir, "show", f"HEAD:{path}"], check=True,
                                  capture_output=True).stdout
        return Path(self.location).read_bytes()


def _pip_download(spec: str, dest: str, binary: bool) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", dest, spec]
    cmd[4:4] = ["--only-binary", ":all:", "--platform", "manylinux2014_x86_64", "--python-version", "3.10"] if binary else ["--no-binary", ":all:"]
    subprocess.run(cmd, check=True)
    files = sorted(Path(dest).iterdir(), key=lambda p: p.stat().st_mtime)
    return files[-1]


def fetch_faces(directory: str | os.PathLike = DEFAULT_DIR, *, cache: str | os.PathLike | None = None,
                deepface: str | os.PathLike | None = None) -> dict:
    """Populate ``directory`` with the registry photos and write the manifest; returns :func:`list_faces`.

    ``deepface``: where the deepface repository (or its ``tests/unit/dataset`` folder) is; its photos are
    recorded in the manifest and read from there.
    """
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

    manifest = _read_manifest(out)
    if deepface is not None:
        root = Path(deepface).resolve()
        deepface_photos(root)  # fails now, not at bench time, when the path holds no dataset
        manifest["deepface"] = str(root)
    photos = _registry_photos(out) + (deepface_photos(Path(manifest["deepface"])) if manifest.get("deepface") else [])
    manifest["photos"] = [asdict(p) for p in photos]
    (out / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=1))
    return list_faces(out)


def _read_manifest(directory: Path) -> dict:
    try:
        return json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}


def list_faces(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, list[Path]]:
    """{person: [photo paths]} for the registry photos in ``directory``."""
    d = Path(directory)
    people: dict[str, list[Path]] = {}
    if not d.is_dir():
        return people
    for p in sorted(d.iterdir()):
        if p.is_file() and "__" in p.stem and p.suffix.lower() in (".jpg", ".jpeg", ".png"):
            people.setdefault(p.stem.split("__")[0], []).append(p)
    return people


def _registry_photos(directory: Path) -> list[Photo]:
    photos = []
    for person, paths in list_faces(directory).items():
        source, licence = _REGISTRY_SOURCES.get(person, ("local file", "unknown"))
        photos += [Photo(f"reg:{person}", p.name, source, licence, str(p)) for p in paths]
    return photos


def _deepface_reader(root: Path):
    """(list of file names, read(name) -> bytes) for a deepface copy at ``root``."""
    for base in (root / DEEPFACE_DATASET, root):
        if (base / DEEPFACE_PAIRS).is_file():
            return sorted(p.name for p in base.iterdir()), lambda n, b=base: (b / n).read_bytes(), str(base)
    git_dir = root / ".git" if (root / ".git").exists() else root
    ls = subprocess.run(["git", "--git-dir", str(git_dir), "ls-tree", "--name-only", f"HEAD:{DEEPFACE_DATASET}"],
                        capture_output=True, text=True)
    if ls.returncode == 0 and DEEPFACE_PAIRS in ls.stdout.split():
        return (ls.stdout.split(), lambda n: subprocess.run(
            ["git", "--git-dir", str(git_dir), "show", f"HEAD:{DEEPFACE_DATASET}/{n}"], check=True,
            capture_output=True).stdout, f"git:{git_dir}:{DEEPFACE_DATASET}")
    raise FileNotFoundError(f"no deepface dataset ({DEEPFACE_DATASET}/{DEEPFACE_PAIRS}) under {root}")


def deepface_identities(pairs_csv: str) -> dict[str, str]:
    """{file: identity} from deepface's pair list: connected components of its "Yes" pairs, each named
    after its lowest-numbered file."""
    parent: dict[str, str] = {}

    def find(x):
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in csv.DictReader(io.StringIO(pairs_csv)):
        a, b = (Path(row["file_x"]).name, Path(row["file_y"]).name)
        ra, rb = find(a), find(b)
        if row["decision"].strip().lower() == "yes":
            parent[ra] = rb
    groups: dict[str, list[str]] = {}
    for f in parent:
        groups.setdefault(find(f), []).append(f)
    key = lambda n: (len(n), n)  # noqa: E731  img2 before img10
    return {f: "deepface:" + Path(min(g, key=key)).stem for g in groups.values() for f in g}


def deepface_photos(root: Path) -> list[Photo]:
    names, read, location = _deepface_reader(Path(root))
    ids = deepface_identities(read(DEEPFACE_PAIRS).decode())
    missing = sorted(set(ids) - set(names))
    if missing:
        raise FileNotFoundError(f"deepface dataset lacks {missing[:5]}")
    return [Photo(ids[n], n, DEEPFACE_SOURCE, DEEPFACE_LICENCE, f"{location}/{n}")
            for n in sorted(ids, key=lambda n: (len(n), n))]


def public_set(directory: str | os.PathLike = DEFAULT_DIR) -> list[Photo]:
    """Every photo in the manifest (registry set, plus the deepface set when it was given)."""
    d = Path(directory)
    manifest = _read_manifest(d)
    if not manifest.get("photos"):
        fetch_faces(d)
        manifest = _read_manifest(d)
    return [Photo(**p) for p in manifest["photos"]]


def ensure_faces(directory: str | os.PathLike = DEFAULT_DIR) -> dict[str, list[Path]]:
    faces = list_faces(directory)
    if len(faces) < 2 or not (Path(directory) / MANIFEST).exists():
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
