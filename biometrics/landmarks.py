"""Dense face landmarks with MediaPipe Face Mesh (Apache-2.0 code and model, shipped inside the wheel).

Replaces dlib's 68-point predictor (iBUG 300-W data, non-commercial licence) in every product path.
``mediapipe.solutions.face_mesh`` loads ``face_detection_short_range.tflite`` and
``face_landmark_with_attention.tflite`` from the installed wheel: nothing is downloaded.

One call gives, per face, 478 points (468 mesh + 10 iris) as pixel ``x, y`` and a relative depth ``z`` in
the same pixel scale (smaller = closer to the camera).  From them:

* eye aspect ratio (EAR, Soukupová & Čech 2016) on the six mesh points of each eye;
* mouth opening (inner-lip gap / inner mouth width);
* head pose from the mesh's own depth: yaw from the left-right symmetric pairs (cheeks, eye corners, mouth
  corners), pitch from forehead-chin pairs.  Angles in degrees, **yaw > 0 = the person turned to their own
  left** in an unmirrored camera image (their nose moves to the image's right), pitch > 0 = looking down.
"""
from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass

import numpy as np

# Mesh indices (MediaPipe canonical face mesh topology).
RIGHT_EYE = (33, 160, 158, 133, 153, 144)  # the person's right eye: image left in an unmirrored frame
LEFT_EYE = (362, 385, 387, 263, 373, 380)
MOUTH_INNER = (13, 14, 78, 308)  # upper, lower, corner, corner
NOSE_TIP = 1
FOREHEAD, CHIN = 10, 152
YAW_PAIRS = ((234, 454), (33, 263), (133, 362), (61, 291), (127, 356))
PITCH_PAIRS = ((10, 152), (151, 199), (9, 200))
# Points that sit on rigid parts of the head (forehead, temples, cheekbones, nose, chin): used by the PAD
# geometry cues; eyelids, lips and the jaw (which moves with the mouth) are left out.
RIGID = (10, 338, 297, 332, 109, 67, 103, 151, 9, 8, 168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 327,
         234, 454, 127, 356, 93, 323, 116, 345, 117, 346, 118, 347, 50, 280, 33, 263, 133, 362, 70, 300,
         105, 334, 107, 336, 55, 285, 129, 358, 48, 278, 64, 294)
NOSE_RIDGE = (1, 4, 5, 195, 197, 19, 94)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377,
             152, 148, 176, 149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)

_local = threading.local()


@dataclass
class Face:
    points: np.ndarray  # (478, 3) float32: x, y in pixels, z relative depth in pixels
    box: tuple  # (top, right, bottom, left) in pixels, from the mesh extent

    @property
    def iod(self) -> float:
        """Inter-ocular distance (outer eye corners), the scale unit of every ratio."""
        p = self.points
        return float(np.linalg.norm(p[33, :2] - p[263, :2])) or 1.0

    def ear(self) -> float:
        return (_ear(self.points[list(RIGHT_EYE), :2]) + _ear(self.points[list(LEFT_EYE), :2])) / 2

    def mouth(self) -> float:
        """Inner-lip gap over the eyes-to-nose-base height: both vertical, so a head turn (which narrows the
        mouth) does not make a closed mouth look open; the jaw does not move either reference point."""
        p = self.points[:, :2]
        u, lo, _a, _b = MOUTH_INNER
        ref = float(np.linalg.norm(p[168] - p[2])) or 1.0
        return float(np.linalg.norm(p[u] - p[lo])) / ref

    def _depth_angle(self, pairs, axis: int) -> float:
        """Median angle (degrees) of the depth difference across symmetric point pairs along ``axis``."""
        p = self.points
        return float(np.median([np.degrees(np.arctan2(p[b, 2] - p[a, 2], p[b, axis] - p[a, axis])) for a, b in pairs]))

    def yaw(self) -> float:
        return self._depth_angle(YAW_PAIRS, 0)

    def pitch(self) -> float:
        return self._depth_angle(PITCH_PAIRS, 1)

    def face_height(self) -> float:
        """Eye line to mouth, over the inter-ocular distance: drops when a flat picture is tilted back."""
        p = self.points[:, :2]
        eyes = (p[33] + p[263]) / 2
        mouth = (p[61] + p[291]) / 2
        return float(np.linalg.norm(mouth - eyes)) / self.iod


def _ear(p: np.ndarray) -> float:
    a = np.linalg.norm(p[1] - p[5]) + np.linalg.norm(p[2] - p[4])
    b = 2.0 * np.linalg.norm(p[0] - p[3])
    return float(a / b) if b else 0.0


def _import_face_mesh():
    """``mediapipe/__init__.py`` also imports its Tasks API, which pulls TensorFlow and JAX (~15 s and several
    hundred MB per worker here).  The legacy face-mesh solution needs neither, so unless something already
    imported mediapipe, register the package without running its ``__init__`` and import only the solution."""
    import importlib.util
    import sys
    import types

    if "mediapipe" not in sys.modules:
        spec = importlib.util.find_spec("mediapipe")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("mediapipe is not installed (requirements-nodeps.txt)")
        pkg = types.ModuleType("mediapipe")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__spec__, pkg.__file__ = spec, spec.origin
        sys.modules["mediapipe"] = pkg
    from mediapipe.python.solutions import face_mesh

    return face_mesh


def _mesh():
    """One FaceMesh graph per thread (per pool worker), created on first use and kept."""
    m = getattr(_local, "mesh", None)
    if m is None:
        os.environ.setdefault("GLOG_minloglevel", "2")
        # mediapipe's generated protobuf code calls an API protobuf 4.x marks deprecated, once per graph
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        face_mesh = _import_face_mesh()

        m = face_mesh.FaceMesh(static_image_mode=True, max_num_faces=2, refine_landmarks=True,
                               min_detection_confidence=0.5)
        _local.mesh = m
    return m


def warm_up() -> None:
    _mesh().process(np.zeros((64, 64, 3), np.uint8))


def detect(rgb: np.ndarray) -> list[Face]:
    """Faces in an RGB uint8 image, largest first (at most two: a second face is all we need to know)."""
    h, w = rgb.shape[:2]
    res = _mesh().process(np.ascontiguousarray(rgb))
    faces = []
    for lm in res.multi_face_landmarks or []:
        pts = np.array([(q.x * w, q.y * h, q.z * w) for q in lm.landmark], np.float32)
        x0, y0 = pts[:, 0].min(), pts[:, 1].min()
        x1, y1 = pts[:, 0].max(), pts[:, 1].max()
        faces.append(Face(pts, (int(y0), int(x1), int(y1), int(x0))))
    faces.sort(key=lambda f: -(f.box[2] - f.box[0]) * (f.box[1] - f.box[3]))
    return faces
