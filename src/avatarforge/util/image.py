"""Small image helpers shared by the stages: the smooth ramp used for blend weights, dot drawing."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

__all__ = ["smoothstep", "draw_points"]


def smoothstep(x: Float[np.ndarray, "*S"], edge0: float = 0.0, edge1: float = 1.0) -> Float[np.ndarray, "*S"]:
    """``3t^2 - 2t^3`` of ``t = (x - edge0) / (edge1 - edge0)`` clipped to [0, 1]: a smooth 0 -> 1 ramp.

    ``edge1 < edge0`` gives the falling ramp. Computed and returned in the dtype of ``x``
    (float32 stays float32; non-float input is promoted as numpy does).
    """
    t = np.asarray(x)
    if (edge0, edge1) != (0.0, 1.0):
        t = (t - edge0) / (edge1 - edge0)
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def draw_points(image: UInt8[np.ndarray, "H W C"], points: Float[np.ndarray, "N 2"], colour: tuple[int, ...],
                radius: int) -> None:
    """Draw filled anti-aliased dots of ``radius`` pixels at ``points`` (x, y pixels, sub-pixel
    positions kept to 1/4 pixel) into ``image`` in place. Non-finite points are skipped."""
    import cv2

    for x, y in np.asarray(points, dtype=np.float64):
        if np.isfinite(x) and np.isfinite(y):
            cv2.circle(image, (int(round(x * 4)), int(round(y * 4))), radius * 4, colour, -1, cv2.LINE_AA, shift=2)
