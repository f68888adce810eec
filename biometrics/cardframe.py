"""Where the ID card is in a photo, found from its own geometry.

The number line of a 居民身份证 front (18 digits, printed at a fixed place: ~28.5-80 mm from
the left edge, its middle ~47.3 mm below the top of the 85.6 x 54 mm card) gives the card's
direction (its reading direction, 180° resolved by the recogniser), its scale (mm per pixel)
and, with the printed layout, where the card's edges must be.  The left and top edges are
then looked for in the photo (the strongest straight brightness step parallel to the
predicted edge, near it); when no clear edge is there (a white card on white paper) the
prediction stands.  Text outside the card - an application form the card lies on, a desk
label - is ignored by the reader, and lines that cross the edge are cut at it.

Coordinates: the *frame* is the photo rotated so that the card reads left to right, in photo
pixels; :class:`CardFrame` converts between frame, card millimetres and the photo.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

CARD_W_MM, CARD_H_MM = 85.6, 54.0
# Printed layout of the front (mm from the card's top-left corner), with the tolerance of
# real cards and of photos (print shift, perspective).
DIGITS_X0_MM, DIGITS_X1_MM = 28.7, 80.2
NUMBER_CY_MM = 47.3
TEXT_RIGHT_MM = 55.0  # the name/address column ends here; the portrait is right of it
EDGE_OUT_MM, EDGE_IN_MM = 7.0, 3.5  # search window for an edge, outwards / inwards of its prediction
EDGE_MIN_CONTRAST = 2.2  # edge peak / median of the window profile

# Field areas on the card (mm: x0, y0, x1, y1), for glare / cut-off checks behind targeted requests.
FIELD_AREAS = {
    "name": (15.0, 5.5, 50.0, 12.5),
    "gender": (15.0, 12.5, 22.0, 19.5),
    "ethnicity": (30.0, 12.5, 45.0, 19.5),
    "birth_date": (15.0, 19.5, 50.0, 26.5),
    "address": (15.0, 26.5, 54.0, 43.0),
    "id_number": (27.0, 43.0, 82.0, 51.0),
}


@dataclass
class CardFrame:
    u: np.ndarray  # unit reading direction in the photo
    v: np.ndarray  # unit "down" direction in the photo
    scale: float  # photo pixels per mm
    left: float  # card edges in frame coordinates
    top: float
    edges_found: tuple = ()  # which edges were seen in the photo ("left", "top")

    @property
    def right(self) -> float:
        return self.left + CARD_W_MM * self.scale

    @property
    def bottom(self) -> float:
        return self.top + CARD_H_MM * self.scale

    def to_frame(self, pts: np.ndarray) -> np.ndarray:
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        return np.stack([pts @ self.u, pts @ self.v], 1)

    def to_photo(self, fpts: np.ndarray) -> np.ndarray:
        fpts = np.asarray(fpts, np.float32).reshape(-1, 2)
        return fpts[:, :1] * self.u + fpts[:, 1:] * self.v

    def mm(self, x_mm: float, y_mm: float) -> tuple[float, float]:
        """Frame coordinates of a point given in card millimetres."""
        return self.left + x_mm * self.scale, self.top + y_mm * self.scale

    def to_mm(self, fx: float, fy: float) -> tuple[float, float]:
        return (fx - self.left) / self.scale, (fy - self.top) / self.scale

    def quad_mm(self, x0, y0, x1, y1) -> np.ndarray:
        """Photo quad (tl, tr, br, bl) of a rectangle given in card millimetres."""
        (a, b), (c, d) = self.mm(x0, y0), self.mm(x1, y1)
        return self.to_photo(np.float32([[a, b], [c, b], [c, d], [a, d]]))

    def warp_mm(self, rgb: np.ndarray, x0, y0, x1, y1, px_per_mm: float) -> np.ndarray:
        """The card area (mm rectangle) resampled upright at ``px_per_mm``."""
        w, h = max(2, int((x1 - x0) * px_per_mm)), max(2, int((y1 - y0) * px_per_mm))
        src = self.quad_mm(x0, y0, x1, y1)[[0, 1, 3]]
        M = cv2.getAffineTransform(np.float32([[0, 0], [w, 0], [0, h]]), src.astype(np.float32))
        return cv2.warpAffine(rgb, M, (w, h), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def reading_axes(quad: np.ndarray, tall: bool, flipped: bool) -> tuple[np.ndarray, np.ndarray]:
    """Unit reading direction and "down" direction of a recognised line quad (tl, tr, br, bl).

    ``tall``: the crop was turned 90° counter-clockwise before recognition (its text then runs
    along tl -> bl); ``flipped``: it was then turned 180° as well.
    """
    q = np.asarray(quad, np.float32)
    d = (q[3] - q[0]) if tall else (q[1] - q[0])
    if flipped:
        d = -d
    u = d / (np.linalg.norm(d) or 1.0)
    return u, np.float32([-u[1], u[0]])


def predict(u, v, digits_x0: float, digits_x1: float, number_cy: float) -> CardFrame:
    """The card frame implied by the digit span and middle of the number line (frame coordinates)."""
    scale = (digits_x1 - digits_x0) / (DIGITS_X1_MM - DIGITS_X0_MM)
    return CardFrame(u, v, scale, digits_x0 - DIGITS_X0_MM * scale, number_cy - NUMBER_CY_MM * scale)


def _peak(profile: np.ndarray) -> int | None:
    if profile.size < 5:
        return None
    k = int(np.argmax(profile))
    med = float(np.median(profile)) + 1e-3
    return k if profile[k] / med >= EDGE_MIN_CONTRAST else None


def refine(rgb: np.ndarray, frame: CardFrame, px_per_mm: float = 5.0) -> CardFrame:
    """Move the left and top edges to the brightness steps seen near their predicted places."""
    m0 = EDGE_OUT_MM
    area = frame.warp_mm(rgb, -m0, -m0, CARD_W_MM * 0.7, CARD_H_MM * 0.8, px_per_mm)
    g = cv2.GaussianBlur(cv2.cvtColor(area, cv2.COLOR_RGB2GRAY).astype(np.float32), (0, 0), 1.0)
    gx = np.abs(cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3))
    gy = np.abs(cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3))
    p = px_per_mm
    lo, hi = 0, int((m0 + EDGE_IN_MM) * p)
    # Left edge: over rows 12-40 mm (away from the rounded corners and the portrait).
    rows = slice(int((m0 + 12) * p), int((m0 + 40) * p))
    prof = np.median(gx[rows, lo:hi], axis=0)
    left, top, found = frame.left, frame.top, []
    k = _peak(prof)
    if k is not None:
        left = frame.left + (k / p - m0) * frame.scale
        found.append("left")
    # Top edge: over columns 8-50 mm.
    cols = slice(int((m0 + 8) * p), int((m0 + 50) * p))
    prof = np.median(gy[lo:hi, cols], axis=1)
    k = _peak(prof)
    if k is not None:
        top = frame.top + (k / p - m0) * frame.scale
        found.append("top")
    return CardFrame(frame.u, frame.v, frame.scale, left, top, tuple(found))


def saturated_share(area: np.ndarray) -> float:
    """Share of (nearly) saturated pixels: glare from a lamp or the flash lifts every channel."""
    return float((area.min(axis=2) >= 235).mean()) if area.size else 0.0


def glare(rgb: np.ndarray, frame: CardFrame, field: str) -> float:
    """Share of saturated pixels in a field's area."""
    return saturated_share(frame.warp_mm(rgb, *FIELD_AREAS[field], 4.0))


def field_in_photo(rgb: np.ndarray, frame: CardFrame, field: str) -> bool:
    H, W = rgb.shape[:2]
    q = frame.quad_mm(*FIELD_AREAS[field])
    return bool(all(0 <= x < W and 0 <= y < H for x, y in q))
