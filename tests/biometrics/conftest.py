import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")


@pytest.fixture(scope="session")
def faces():
    from biometrics.testdata import ensure_faces

    try:
        people = ensure_faces()
    except Exception as exc:  # no PyPI access and no cached photos: a failure, never a silent skip
        pytest.fail(f"face photos unavailable: {exc}")
    if len(people) < 2:
        pytest.fail("need photos of at least two people (python -m biometrics.testdata fetch-faces)")
    return people


@pytest.fixture(scope="session")
def same_other(faces):
    """(selfie photo, reference photo of the same person, photo of another person)."""
    multi = [p for p, v in faces.items() if len(v) >= 2]
    person = multi[0] if multi else next(iter(faces))
    other = next(p for p in faces if p != person)
    refs = faces[person]
    return refs[0], refs[1 % len(refs)], faces[other][0]


# ------------------------------------------------------------------------------ liveness clips (set A)

FPS = 10.0  # the H5 page sends 8-12 fps; fewer frames keep the suite fast


def liveclips():
    from biometrics.testdata import liveclips as mod  # imported late: conftest loads before sys.path is set

    return mod


@pytest.fixture(scope="session")
def person(faces):
    return (faces.get("biden") or next(iter(faces.values())))[0]


@pytest.fixture(scope="session")
def clip_a(person):
    """turn_left, blink, open_mouth - checked as H5 frames with the prompt schedule."""
    return liveclips().make_clip("live", person, ["turn_left", "blink", "open_mouth"], seed=101, fps=FPS)


@pytest.fixture(scope="session")
def clip_b(person):
    """turn_right, nod - checked as an MP4 video."""
    return liveclips().make_clip("live", person, ["turn_right", "nod"], seed=202, fps=FPS)


@pytest.fixture(scope="session")
def frames_a(clip_a):
    return liveclips().encode_jpegs(clip_a.frames)


@pytest.fixture(scope="session")
def video_b(clip_b):
    return liveclips().encode_video(clip_b.frames, clip_b.fps)


