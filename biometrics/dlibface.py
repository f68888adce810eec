"""dlib face detection and 128-d descriptors, loading only the models the product may use commercially.

``face_recognition.api`` loads all four dlib models when it is imported, including
``shape_predictor_68_face_landmarks.dat`` (iBUG 300-W data: non-commercial).  The product needs three of them,
so it calls dlib directly with the same calls face_recognition makes (results are identical):

* HOG frontal face detector (compiled into dlib, Boost Software License);
* ``shape_predictor_5_face_landmarks.dat`` to align the face (dlib-models, public domain);
* ``dlib_face_recognition_resnet_model_v1.dat``, the descriptor (dlib-models, public domain).

The files come from the ``face_recognition_models`` wheel; nothing is downloaded.
"""
from __future__ import annotations

import functools

import numpy as np


@functools.lru_cache(maxsize=None)
def _models():
    import dlib
    import face_recognition_models as frm

    return (dlib.get_frontal_face_detector(),
            dlib.shape_predictor(frm.pose_predictor_five_point_model_location()),
            dlib.face_recognition_model_v1(frm.face_recognition_model_location()))


def warm_up() -> None:
    _models()


def face_locations(img: np.ndarray, number_of_times_to_upsample: int = 1, model: str = "hog") -> list[tuple]:
    """Face boxes (top, right, bottom, left), clipped to the image (HOG detector only)."""
    if model != "hog":
        raise ValueError("only the HOG detector is used (the CNN one is far too slow on CPU)")
    h, w = img.shape[:2]
    return [(max(r.top(), 0), min(r.right(), w), min(r.bottom(), h), max(r.left(), 0))
            for r in _models()[0](img, number_of_times_to_upsample)]


def face_encodings(img: np.ndarray, known_face_locations, num_jitters: int = 1, model: str = "small") -> list[np.ndarray]:
    """128-d descriptors of the faces at ``known_face_locations`` (aligned with the 5-point model)."""
    import dlib

    if model != "small":
        raise ValueError("only the 5-point alignment model is licensed for this product")
    _det, pose, encoder = _models()
    out = []
    for t, r, b, l in known_face_locations:
        shape = pose(img, dlib.rectangle(l, t, r, b))
        out.append(np.array(encoder.compute_face_descriptor(img, shape, num_jitters)))
    return out
