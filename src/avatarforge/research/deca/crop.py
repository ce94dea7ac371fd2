"""DECA's input crop: a square around the 68-landmark box (side = mean(w, h) x 1.1 x 1.25),
similarity-warped to 224x224, RGB in [0, 1]."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

__all__ = ["DecaCrop", "landmark_box", "deca_crop", "CROP_SIZE"]

CROP_SIZE = 224


@dataclass
class DecaCrop:
    """A DECA input and the map back to the photo."""

    image: Float[np.ndarray, "224 224 3"]
    """float32 RGB in [0, 1]."""
    matrix: Float[np.ndarray, "3 3"]
    """Similarity photo pixels (x right, y down) -> crop pixels (homogeneous)."""
    center: Float[np.ndarray, "2"]
    """Square centre in photo pixels."""
    size: float
    """Square side in photo pixels."""


def landmark_box(points: Float[np.ndarray, "N 2"]) -> tuple[np.ndarray, float]:
    """(centre, side) of DECA's square for 68 landmarks (``kpt68``): side = mean(w, h) x 1.1 x 1.25."""
    p = np.asarray(points, np.float64)[:, :2]
    left, top = p.min(0)
    right, bottom = p.max(0)
    old = (right - left + bottom - top) / 2 * 1.1
    center = np.array([right - (right - left) / 2.0, bottom - (bottom - top) / 2.0])
    return center, float(int(old * 1.25))


def deca_crop(rgb: np.ndarray, points68: Float[np.ndarray, "68 2"], size: int = CROP_SIZE) -> DecaCrop:
    """Warp the photo so that the landmark square's corners (top-left, bottom-left, top-right)
    land on (0, 0), (0, size-1), (size-1, 0), bilinear, zeros outside."""
    import cv2

    center, side = landmark_box(points68)
    h = side / 2
    src = np.array([[center[0] - h, center[1] - h], [center[0] - h, center[1] + h], [center[0] + h, center[1] - h]])
    dst = np.array([[0, 0], [0, size - 1], [size - 1, 0]], np.float64)
    # A square onto a square: the similarity is exact (scale + translation).
    s = (size - 1) / side
    m = np.array([[s, 0.0, dst[0, 0] - s * src[0, 0]], [0.0, s, dst[0, 1] - s * src[0, 1]], [0.0, 0.0, 1.0]])
    img = np.asarray(rgb, np.float32) / (255.0 if np.asarray(rgb).dtype == np.uint8 else 1.0)
    out = cv2.warpAffine(img, m[:2], (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    return DecaCrop(np.clip(out, 0, 1), m, center, side)
