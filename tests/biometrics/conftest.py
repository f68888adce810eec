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
