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

__all__ = [
    "IBUG68_FROM_MP", "IBUG68_GROUPS", "JAW", "ibug68_from_mediapipe", "inter_ocular",
    "contour_lines", "far_side", "march", "marched_jaw", "DETECTED_SHARE", "fuse_with_detected",
    "NEAR_DEPTH_M", "NEAR_MIN_YAW_DEG", "contour_lines_behind", "push_out",
]

#: iBUG index -> MediaPipe face-mesh indices averaged for it. Chosen to follow the 300-W
#: convention as an independent 68-point detector (dlib's predictor) places it: for each iBUG
#: point, the mesh point or the midpoint of a mesh edge nearest (mean over faces, normalised by
#: the eye-corner distance) to dlib's point on 19 near-frontal faces of 9 public photos, with the
#: eye corners 36/45 and the chin 8 kept on their mesh points (33, 263, 152). The former
#: hand-picked table was 4.5 % NME from dlib on those faces, this one 3.1 % (3.25 % leave-one-
#: photo-out); reproduce with ``benchmarks/ibug68_convention.py``.
IBUG68_FROM_MP: tuple[tuple[int, ...], ...] = (
    # jaw line 0-16
    (34, 127), (137, 227), (137, 177), (215,), (138, 172), (135, 150), (149,), (148, 176), (152,),
    (377, 400), (378,), (365,), (367, 397), (435,), (361, 366), (323, 454), (356,),
    # brows 17-26
    (46, 70), (63, 105), (66, 105), (66, 107), (55, 107), (285, 336), (296, 336), (296, 334), (283, 293), (300,),
    # nose 27-35
    (6, 168), (197,), (5, 195), (4,), (98, 99), (97,), (2, 164), (326,), (327, 328),
    # right eye 36-41, left eye 42-47
    (33,), (159, 160), (158,), (112, 155), (22, 145), (24, 144),
    (382,), (384, 385), (386, 387), (263,), (254, 373), (252, 374),
    # outer lips 48-59
    (57, 185), (39, 40), (37, 72), (0, 11), (267, 302), (270, 303), (291,), (321, 405), (314,), (17,), (84,), (91, 181),
    # inner lips 60-67
    (62, 96), (82,), (13,), (312,), (292, 325), (317,), (14,), (87,),
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


# -- the jaw contour of a turned head: landmark marching -------------------------------------

JAW = tuple(range(17))
"""iBUG jaw-line points (0 = by the subject's right ear, 8 = chin, 16 = by the left ear)."""
LINE_BAND_M = 0.005
"""Half-height (metres) of the horizontal slice a contour point's line is cut from."""
MARCH_MIN_YAW_DEG = 5.0
"""Below this turn both sides keep their anatomical points (the face's outline there is the
anatomical contour to within the line's spacing)."""


def contour_lines(rest: np.ndarray, candidate_ids: np.ndarray, anchors: np.ndarray) -> list[np.ndarray]:
    """For each contour point (``anchors``, (K, 3) positions on the REST mesh, avatarforge
    axes: +Y up, face towards +Z, +X = the subject's left): the candidate vertices on its
    horizontal line, from the point inwards towards the front of the face (the 3DDFA / HPEN
    "parallel lines"): the slice ``|y - y_k| < LINE_BAND_M`` on the same side, between 30 %
    and 100 % (+5 mm) of the point's distance from the mid-plane and no more than 1 cm
    behind it. When the head turns this side away, the point slides along this line to the
    occluding silhouette (:func:`march`). Points within 1 cm of the mid-plane get an empty line.
    """
    def inwards(hv, a, ax, side):
        return (hv[:, 0] * side >= 0.3 * ax) & (hv[:, 0] * side <= ax + 0.005) & (hv[:, 2] >= a[2] - 0.01)

    return _lines(rest, candidate_ids, anchors, inwards)


def _lines(rest: np.ndarray, candidate_ids: np.ndarray, anchors: np.ndarray, region) -> list[np.ndarray]:
    """Per anchor, the candidates in ``region(hv, anchor, |x|, side)`` (a mask over the
    candidates' rest positions ``hv``) within ``LINE_BAND_M`` of its height, the band widened
    up to 4x while fewer than 3 are found; anchors within 1 cm of the mid-plane get none."""
    hv = rest[candidate_ids]
    lines = []
    for a in np.asarray(anchors, dtype=np.float64):
        ax = abs(a[0])
        if ax < 0.01:
            lines.append(np.zeros(0, dtype=np.int64))
            continue
        mask = region(hv, a, ax, np.sign(a[0]))
        band = LINE_BAND_M
        sel = mask & (np.abs(hv[:, 1] - a[1]) < band)
        while sel.sum() < 3 and band < 4 * LINE_BAND_M:
            band *= 1.5
            sel = mask & (np.abs(hv[:, 1] - a[1]) < band)
        lines.append(np.asarray(candidate_ids)[sel].astype(np.int64))
    return lines


NEAR_DEPTH_M = 0.01
"""How far behind a near-side jaw point (metres, rest pose) its candidates reach (:func:`contour_lines_behind`).
Chosen on the tuning photos of ``benchmarks/bench_faces.py`` among 1-4 cm (1 cm: near-side jaw
4.4/5.3/5.7/9.0 % of the eye-corner distance from dlib's per |yaw| bin 0-15/15-30/30-45/45-90,
was 5.0/6.2/7.1/12.3 %); deeper lines reach the ear and the neck (4 cm: 7.6-20 %)."""


NEAR_MIN_YAW_DEG = 10.0
"""Below this turn (estimated from the jaw points' depth, :func:`far_side`) the near side keeps
its anatomical points: the frontal outline is 300-W's contour there. On the tuning photos 10
degrees costs 0.02 % of NME in the 0-15 degree bin against pushing from 5 degrees, and keeps the
near-frontal faces (e.g. the astronaut at 5.6 degrees) on the contour the detector draws."""


def contour_lines_behind(rest: np.ndarray, candidate_ids: np.ndarray, anchors: np.ndarray,
                         depth: float = NEAR_DEPTH_M) -> list[np.ndarray]:
    """For each contour point (``anchors``, (K, 3) on the REST mesh, axes as
    :func:`contour_lines`): the candidate vertices just behind it, on the same side and
    height: ``|y - y_k| < LINE_BAND_M`` (widened as in :func:`contour_lines` when sparse), at
    least as far out as the point (5 mm slack) and between ``depth`` behind it and 5 mm in
    front. When the head turns this side TOWARDS the camera, the visible jaw line (300-W's
    near-side contour: the mandible's outline against the neck and the ear) is the surface
    just behind the frontal outline (:func:`push_out`). Points within 1 cm of the mid-plane
    get an empty line."""
    def behind(hv, a, ax, side):
        return (hv[:, 0] * side >= ax - 0.005) & (hv[:, 2] <= a[2] + 0.005) & (hv[:, 2] >= a[2] - depth)

    return _lines(rest, candidate_ids, anchors, behind)


def push_out(contour_uv: np.ndarray, k: int, candidates_uv: np.ndarray) -> np.ndarray:
    """Contour point ``k`` of the image polyline ``contour_uv`` ((N, 2), 0 < k < N-1) moved
    out along the polyline's normal there (away from the polyline's centroid) as far as the
    furthest of ``candidates_uv`` ((M, 2)) that lies within half a neighbour spacing of it
    along the tangent; never inwards, and never along the contour (the spacing of the
    points stays the detector's). Returns the new (2,) point."""
    p = np.asarray(contour_uv, dtype=np.float64)
    t = p[k + 1] - p[k - 1]
    half = float(np.linalg.norm(t)) / 2
    if half < 1e-9:
        return p[k].copy()
    t = t / (2 * half)
    n = np.array([-t[1], t[0]])
    if n @ (p[k] - p.mean(0)) < 0:
        n = -n
    q = np.asarray(candidates_uv, dtype=np.float64) - p[k]
    ok = np.abs(q @ t) < half
    if not ok.any():
        return p[k].copy()
    return p[k] + max(0.0, float((q[ok] @ n).max())) * n


def far_side(depth: np.ndarray, x_rest: np.ndarray, min_yaw_deg: float = MARCH_MIN_YAW_DEG) -> int:
    """Which side of the face is turned away from the camera: +1 the subject's left (+X),
    -1 the right, 0 neither (turn below ``min_yaw_deg``). ``depth``: camera-space depth of
    contour points, ``x_rest``: their rest-pose x (the side and how far out)."""
    left, right = x_rest > 0.01, x_rest < -0.01
    if not left.any() or not right.any():
        return 0
    sep = float(x_rest[left].mean() - x_rest[right].mean())
    sin_yaw = float(depth[left].mean() - depth[right].mean()) / max(sep, 1e-9)
    if abs(sin_yaw) < np.sin(np.radians(min_yaw_deg)):
        return 0
    return 1 if sin_yaw > 0 else -1


def march(line_uv: np.ndarray, outward: np.ndarray) -> int:
    """Index of the line vertex on the occluding silhouette: the one projected furthest
    along ``outward`` (the image direction away from the face, for this side)."""
    return int(np.argmax(np.asarray(line_uv, dtype=np.float64) @ np.asarray(outward, dtype=np.float64)))


def marched_jaw(points_uv: np.ndarray, depth: np.ndarray, x_rest: np.ndarray, lines: list[np.ndarray],
                vertices_uv: np.ndarray, near_lines: list[np.ndarray] | None = None,
                near_min_yaw_deg: float = NEAR_MIN_YAW_DEG) -> tuple[np.ndarray, int]:
    """The iBUG-68 points (``points_uv``, (68, 2) projected anatomical points) with the jaw on
    the far side moved to the silhouette, the 300-W convention for turned heads. ``depth`` and
    ``x_rest``: per jaw point (17), camera depth and rest x; ``lines``: per jaw point, vertex
    ids (:func:`contour_lines`); ``vertices_uv``: the projected vertices (indexed by those
    ids). With ``near_lines`` (:func:`contour_lines_behind`) and a turn of at least
    ``near_min_yaw_deg``, the near side's jaw points (but its end, 0 or 16) are also pushed
    out to the visible jaw line (:func:`push_out`, along the normal of the far-side-marched
    jaw). Returns the points and the far side (:func:`far_side`)."""
    out = np.array(points_uv, dtype=np.float64, copy=True)
    side = far_side(np.asarray(depth), np.asarray(x_rest))
    if side == 0:
        return out, 0
    left_dir = out[16] - out[0]  # image direction of the subject's left
    left_dir /= max(float(np.linalg.norm(left_dir)), 1e-9)
    for k, ids in zip(JAW, lines):
        if len(ids) and np.sign(x_rest[k]) == side:
            out[k] = vertices_uv[ids[march(vertices_uv[ids], side * left_dir)]]
    if near_lines is not None and far_side(np.asarray(depth), np.asarray(x_rest), near_min_yaw_deg) != 0:
        jaw = out[list(JAW)].copy()
        for k, ids in zip(JAW[1:-1], near_lines[1:-1]):
            if len(ids) and np.sign(x_rest[k]) == -side:
                out[k] = push_out(jaw, k, vertices_uv[ids])
    return out, side


# -- the exported points: the fitted model fused with the detector where that is closer ------

DETECTED_SHARE: dict[str, float] = {"jaw": 0.0, "brows": 1.0, "nose": 0.5, "eyes": 0.75, "mouth": 1.0}
"""Share of the detected point (MediaPipe's 478 mapped by :data:`IBUG68_FROM_MP`) in each
exported iBUG-68 point, per :data:`IBUG68_GROUPS` group; the rest is the fitted model's.
The fitted surface smooths the features towards the model's shape (its brows sat 4-5 % of the
eye-corner distance from dlib's, the detector's 3 %), so the features lean on the detector;
the jaw stays the model's: on a turned head MediaPipe's far-side oval is the hidden 3D contour,
the model's marched jaw the visible silhouette. Chosen by grid search (steps of 0.25) on the
tuning photos of ``benchmarks/bench_faces.py`` (``TUNING_PHOTOS``), checked on the others."""


def fuse_with_detected(model_uv: np.ndarray, detected_uv: np.ndarray,
                       share: dict[str, float] | None = None) -> np.ndarray:
    """The exported (68, 2) iBUG-68 points: per group, ``share`` (default
    :data:`DETECTED_SHARE`) of the detector's mapped point (``detected_uv``: (478, 2) or
    (468, 2) MediaPipe points) plus the rest of the fitted model's (``model_uv``: (68, 2),
    already marched)."""
    share = DETECTED_SHARE if share is None else share
    det = ibug68_from_mediapipe(np.asarray(detected_uv, dtype=np.float64)[:, :2])
    out = np.array(model_uv, dtype=np.float64, copy=True)
    for group, ids in IBUG68_GROUPS.items():
        w = float(share.get(group, 0.0))
        ids = list(ids)
        out[ids] = (1.0 - w) * out[ids] + w * det[ids]
    return out
