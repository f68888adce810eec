"""Piecewise-affine rendering with depth order (painter's algorithm), shared by the synthetic renderers.

``render(src, src_pts, dst_pts, tris, depth, out)`` draws every triangle of ``src`` (source corners
``src_pts[tri]``) at ``dst_pts[tri]`` over ``out``, far triangles first, so that a nose turning away hides the
cheek behind it.  Implemented as one triangle-id raster (cv2.fillConvexPoly) plus one cv2.remap, so a
frame with a couple of thousand triangles costs a few milliseconds.
"""
from __future__ import annotations

import cv2
import numpy as np


def triangulate(points: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay

    return Delaunay(points[:, :2]).simplices.astype(np.int32)


def render(src: np.ndarray, src_pts: np.ndarray, dst_pts: np.ndarray, tris: np.ndarray, depth: np.ndarray | None,
           out: np.ndarray, mask_out: np.ndarray | None = None) -> np.ndarray:
    """Warp ``src`` (H, W, C float32/uint8) triangle by triangle onto ``out`` (same channels).

    ``depth``: one value per point (larger = farther); triangles are drawn far to near.  Pixels no
    triangle covers keep ``out``.  ``mask_out`` (H, W float32), if given, receives 1 where drawn.
    """
    H, W = out.shape[:2]
    ids = np.full((H, W), -1, np.int32)
    order = np.arange(len(tris))
    if depth is not None:
        order = np.argsort(-depth[tris].mean(1))
    d = dst_pts[:, :2].astype(np.float64)
    s = src_pts[:, :2].astype(np.float64)
    inv = np.zeros((len(tris), 2, 3), np.float64)
    valid = np.zeros(len(tris), bool)
    for k in order:
        t = tris[k]
        dd = d[t]
        area = (dd[1, 0] - dd[0, 0]) * (dd[2, 1] - dd[0, 1]) - (dd[2, 0] - dd[0, 0]) * (dd[1, 1] - dd[0, 1])
        if abs(area) < 1e-6:
            continue
        inv[k] = cv2.getAffineTransform(dd.astype(np.float32), s[t].astype(np.float32))
        valid[k] = True
        cv2.fillConvexPoly(ids, np.round(dd * 16).astype(np.int32), int(k), lineType=cv2.LINE_8, shift=4)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    hit = ids >= 0
    k = ids[hit]
    A = inv[k]
    px, py = xx[hit], yy[hit]
    mx = np.full((H, W), -1.0, np.float32)
    my = np.full((H, W), -1.0, np.float32)
    mx[hit] = A[:, 0, 0] * px + A[:, 0, 1] * py + A[:, 0, 2]
    my[hit] = A[:, 1, 0] * px + A[:, 1, 1] * py + A[:, 1, 2]
    warped = cv2.remap(src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    m = hit.astype(np.float32)
    m = cv2.GaussianBlur(m, (3, 3), 0.7)  # soften the silhouette edge
    if mask_out is not None:
        mask_out[...] = m
    mm = m[..., None] if out.ndim == 3 else m
    return (out.astype(np.float32) * (1 - mm) + warped.astype(np.float32) * mm).astype(out.dtype)
