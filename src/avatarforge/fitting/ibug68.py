"""The 68-point iBUG / 300-W landmark set (the dlib convention) in terms of the 478-point
MediaPipe face mesh.

Each iBUG point is the mean of one or two mesh points with the same meaning. Order and
meaning (image left = the subject's right side): jaw line 0-16 from the subject's right ear
to the left one, right brow 17-21 (outer to inner), left brow 22-26 (inner to outer), nose
bridge 27-30 (top to tip), nostrils 31-35 (right to left), right eye 36-41 (outer corner,
upper lid, inner corner, lower lid), left eye 42-47 (inner corner first), outer lips 48-59
(right corner, upper lip, left corner, lower lip), inner lips 60-67.
"""

from __future__ import annotations

import numpy as np

__all__ = ["IBUG68_FROM_MP", "IBUG68_GROUPS", "ibug68_from_mediapipe", "inter_ocular"]

#: iBUG index -> MediaPipe face-mesh indices averaged for it.
IBUG68_FROM_MP: tuple[tuple[int, ...], ...] = (
    # jaw line 0-16
    (127,), (234,), (93,), (132, 58), (58, 172), (136,), (150,), (176,), (152,),
    (400,), (379,), (365,), (397, 288), (361,), (323,), (454,), (356,),
    # brows 17-26
    (70,), (63,), (105,), (66,), (107,), (336,), (296,), (334,), (293,), (300,),
    # nose 27-35
    (168, 6), (197, 195), (5,), (4,), (75,), (97,), (2,), (326,), (305,),
    # right eye 36-41, left eye 42-47
    (33,), (160,), (158,), (133,), (153,), (144,),
    (362,), (385,), (387,), (263,), (373,), (380,),
    # outer lips 48-59
    (61,), (39,), (37,), (0,), (267,), (269,), (291,), (405,), (314,), (17,), (84,), (181,),
    # inner lips 60-67
    (78,), (82,), (13,), (312,), (308,), (317,), (14,), (87,),
)

IBUG68_GROUPS = {
    "jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36),
    "eyes": range(36, 48), "mouth": range(48, 68),
}


def ibug68_from_mediapipe(points: np.ndarray) -> np.ndarray:
    """(478, D) MediaPipe points -> (68, D) iBUG points (means of the mapped points)."""
    points = np.asarray(points)
    return np.stack([points[list(ids)].mean(0) for ids in IBUG68_FROM_MP])


def inter_ocular(ibug: np.ndarray) -> float:
    """Outer-eye-corner distance (points 36 and 45), the usual NME normaliser."""
    return float(np.linalg.norm(np.asarray(ibug)[36, :2] - np.asarray(ibug)[45, :2]))
