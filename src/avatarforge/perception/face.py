"""Face detection and 478-point face landmarks with the models bundled in the mediapipe wheel.

Coordinates are ORIGINAL-image pixels, continuous (see :mod:`.image_io`): x right, y down,
``x = mediapipe's normalised x * width`` (pixel column ``j`` spans ``[j, j + 1)``). The third
landmark coordinate ``z`` is mediapipe's relative depth in the same pixel scale: smaller is
closer to the camera, roughly zero at the centre of the head.

Pipeline of :func:`find_faces` (and so of :func:`face_landmarks`):

1. :func:`.face_detect.detect_faces` runs BlazeFace full range and short range on the whole
   image and on overlapping tiles (several scales, so that faces of 80 px and more in a
   group photo are seen at a size the detectors handle) and merges the boxes (NMS);
2. for each box, the landmark model alone (:class:`._mediapipe._LandmarkModel`, no detector)
   runs on a crop built as mediapipe's face-mesh graph builds it: a square around the box,
   :data:`ROI_SCALES` [0] = 1.5 times its longer side, rotated so that the detector's eye
   keypoints are horizontal, resampled to :data:`CROP_SIZE`; the points are mapped back
   with the inverse affine. Three more passes crop around the previous points (the ROI the
   graph would track with) and are averaged, which centres the face and steadies the
   points. If the model's face-presence gate rejects the crop, wider and narrower crops are
   tried, then the full-range detector on a crop around the box (a better box and eye
   keypoints), then the face-mesh graph on a crop (the former method);
3. a box whose crops never give a plausible mesh (presence gate passed, mesh centred in
   the box, of the box's size) is a phantom and is dropped; faces whose meshes overlap are
   one face;
4. faces are ordered by size, largest first: :func:`face_size`, the mesh's 3D width x
   height, which does not shrink as the head turns (ties: leftmost, then topmost), so
   ``face_index`` 0 is the largest face and the order is the same on every run; the
   ``faces`` command shows this order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
from jaxtyping import Float

from avatarforge.errors import UserInputError
from avatarforge.perception import _mediapipe
from avatarforge.perception.face_detect import FaceBox, ImageLike, as_rgb, detect_faces

__all__ = [
    "CROP_SIZE", "MIN_FACE_PX", "MIN_LANDMARK_PX", "MAX_YAW_DEG", "ROI_SCALES",
    "FaceBox", "FaceLandmarks", "FoundFace", "detect_faces", "face_landmarks", "face_size", "find_faces",
    "yaw_from_points", "mesh_on_whole_image", "track_face_landmarks", "follow_face_landmarks",
]
# FaceBox and detect_faces live in .face_detect and are re-exported here.

CROP_SIZE = 256
"""Side in pixels of the rotated face crop the landmark model sees (it resizes to 192)."""
ROI_SCALES = (1.5, 1.8, 1.25, 2.2)
"""Crop sides tried, as multiples of the detection box's longer side: mediapipe's own 1.5
first, then wider and narrower."""
MESH_CROP_MARGIN = 2.0
"""Crop side (multiple of the box) of the last fallback, the face-mesh graph on a crop."""
MIN_FACE_PX = 80.0
"""Faces narrower than this (detection box width, original pixels) get a warning."""
MIN_LANDMARK_PX = 20.0
"""Below this width a face the landmark model rejects is reported as too small."""
MAX_YAW_DEG = 60.0
"""Beyond this turn (estimated from the detector's keypoints) a face the landmark model
rejects is reported as too turned."""
MESH_CROP_SIZE = 512
"""Side of the (axis-aligned) crop the face-mesh graph fallback sees."""


@dataclass
class FaceLandmarks:
    """The 478 mediapipe face-mesh landmarks of one face (indices: :mod:`.landmark_groups`)."""

    points: Float[np.ndarray, "478 3"]
    """(x, y, z): x, y in original-image pixels (x right, y down); z relative depth in the
    same pixel scale, smaller = closer to the camera."""
    box: FaceBox
    """The detection box of this face."""
    image_size: tuple[int, int]
    """``(width, height)`` of the image the points refer to."""
    n_faces_found: int
    """How many faces were found in the image (faces with a plausible mesh)."""
    face_index: int = 0
    """Which face this is, counting from the largest (0)."""
    warnings: list[str] = field(default_factory=list)
    """Things the user should know (several faces, a tiny face), one line each."""
    yaw_deg: float = 0.0
    """Head turn estimated from the 3D landmarks (see :func:`yaw_from_points`)."""

    @property
    def xy(self) -> Float[np.ndarray, "478 2"]:
        return self.points[:, :2]


@dataclass
class FoundFace:
    """One face of :func:`find_faces`."""

    index: int
    """Position in the documented order: 0 = largest face (see :func:`find_faces`)."""
    box: FaceBox
    """The detection box (original pixels) and the detector's keypoints."""
    points: Float[np.ndarray, "478 3"]
    """The 478 landmarks, as :attr:`FaceLandmarks.points`."""
    yaw_deg: float
    """Estimated head turn, degrees (:func:`yaw_from_points`)."""

    @property
    def size_px(self) -> float:
        """Box width in pixels (the size the 80 px rule refers to)."""
        return self.box.width


@dataclass
class _Rejected:
    """A confident detection that got no plausible mesh (for the error message)."""

    box: FaceBox
    yaw_deg: float | None


# -- the rotated crop ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Roi:
    """A square region of interest: centre, side and the angle of the face's eye line."""

    cx: float
    cy: float
    side: float
    angle: float
    """Radians; the crop is rotated by ``-angle`` so the eye line becomes horizontal."""

    def affine(self) -> np.ndarray:
        """2x3 map from original continuous pixels to crop continuous pixels."""
        s = CROP_SIZE / self.side
        c, n = math.cos(self.angle), math.sin(self.angle)
        r = s * np.array([[c, n], [-n, c]])
        return np.column_stack([r, CROP_SIZE / 2 - r @ [self.cx, self.cy]])


def _roi_from_box(box: FaceBox, scale: float) -> _Roi:
    """mediapipe's detection -> ROI: box centre, ``scale`` x the longer side, eye-line angle."""
    (rx, ry), (lx, ly) = box.keypoints[0], box.keypoints[1]
    cx, cy = box.center
    return _Roi(cx, cy, scale * max(box.width, box.height), math.atan2(ly - ry, lx - rx))


def _roi_from_points(points: np.ndarray, scale: float = 1.5) -> _Roi:
    """mediapipe's landmarks -> ROI (the one its graph tracks with): eye corners 33/263 give
    the angle, the landmarks' box in that rotated frame the centre and size."""
    angle = math.atan2(points[263, 1] - points[33, 1], points[263, 0] - points[33, 0])
    c, n = math.cos(angle), math.sin(angle)
    r = np.array([[c, n], [-n, c]])
    q = points[:, :2] @ r.T
    lo, hi = q.min(0), q.max(0)
    cx, cy = r.T @ ((lo + hi) / 2)
    return _Roi(float(cx), float(cy), scale * float(max(hi - lo)), angle)


def _warp(rgb: np.ndarray, roi: _Roi) -> np.ndarray:
    """The ROI resampled to CROP_SIZE x CROP_SIZE (black outside the image). When shrinking,
    the ROI's bounding region is first area-averaged to the crop's scale (no aliasing)."""
    height, width = rgb.shape[:2]
    m = roi.affine()
    half = roi.side * math.sqrt(0.5) + 2
    x0, y0 = max(0, math.floor(roi.cx - half)), max(0, math.floor(roi.cy - half))
    x1, y1 = min(width, math.ceil(roi.cx + half)), min(height, math.ceil(roi.cy + half))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    sub = rgb[y0:y1, x0:x1]
    s = CROP_SIZE / roi.side
    # sub continuous coords q -> original p = q * k + (x0, y0)
    k = np.array([1.0, 1.0])
    if s < 0.7:
        w2, h2 = max(1, round((x1 - x0) * s)), max(1, round((y1 - y0) * s))
        sub = cv2.resize(sub, (w2, h2), interpolation=cv2.INTER_AREA)
        k = np.array([(x1 - x0) / w2, (y1 - y0) / h2])
    a = m[:, :2] * k  # crop = A p + b = A (q * k + o) + b
    b = m[:, 2] + m[:, :2] @ [x0, y0]
    # warpAffine works on pixel indices (centre = index): shift by the half pixel each side.
    b = b + a @ [0.5, 0.5] - 0.5
    return cv2.warpAffine(np.ascontiguousarray(sub), np.column_stack([a, b]), (CROP_SIZE, CROP_SIZE),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def _landmarks_in_roi(rgb: np.ndarray, roi: _Roi) -> np.ndarray | None:
    """The landmark model on the rotated crop ``roi``: (478, 3) in original pixels, or None
    when its face-presence gate says the crop shows no face."""
    result = _mediapipe.run("landmarks", _warp(rgb, roi))
    if result is None:
        return None
    norm = np.array([[p.x, p.y, p.z] for p in result.landmark], dtype=np.float64)
    m = roi.affine()
    crop_xy = norm[:, :2] * CROP_SIZE
    xy = (crop_xy - m[:, 2]) @ np.linalg.inv(m[:, :2]).T
    z = norm[:, 2] * roi.side  # normalised by the crop's width
    return np.column_stack([xy, z])


def _plausible(points: np.ndarray | None, box: FaceBox) -> bool:
    """A mesh belongs to ``box``: centred inside it and of about its size."""
    if points is None or not np.isfinite(points).all():
        return False
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    cx, cy = (lo + hi) / 2
    ratio = (hi[0] - lo[0]) / max(box.width, 1e-6)
    return bool(box.contains(cx, cy) and 0.5 <= ratio <= 2.5)


REFINE_PASSES = 3
"""Passes on the ROI of the previous pass's points (the graph's tracking ROI), averaged: one
pass jitters by ~0.5 % of the face with the starting box, three average to ~0.15 %."""


def _refined(rgb: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Mean of :data:`REFINE_PASSES` passes, each on the ROI the previous points give."""
    passes = []
    for _ in range(REFINE_PASSES):
        again = _landmarks_in_roi(rgb, _roi_from_points(points))
        if again is None:
            break
        passes.append(points := again)
    return np.mean(passes, axis=0) if passes else points


def _box_again(rgb: np.ndarray, box: FaceBox) -> FaceBox | None:
    """The full-range detector on a square crop around ``box`` (the face ~40 % of it): a box
    and eye keypoints from a view where the face is large."""
    side = max(1, math.ceil(2.5 * max(box.width, box.height)))
    cx, cy = box.center
    x0, y0 = max(0, math.floor(cx - side / 2)), max(0, math.floor(cy - side / 2))
    x1, y1 = min(rgb.shape[1], x0 + side), min(rgb.shape[0], y0 + side)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    best = None
    for det in _mediapipe.run("detect_full", crop).detections or []:
        rel, kps = det.location_data.relative_bounding_box, det.location_data.relative_keypoints
        w, h = x1 - x0, y1 - y0
        cand = FaceBox(x0 + rel.xmin * w, y0 + rel.ymin * h, x0 + (rel.xmin + rel.width) * w,
                       y0 + (rel.ymin + rel.height) * h, float(det.score[0]),
                       np.array([[x0 + k.x * w, y0 + k.y * h] for k in kps], dtype=np.float64))
        if box.contains(*cand.center) and (best is None or cand.score > best.score):
            best = cand
    return best


def _mesh_for_box(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """Landmarks for one detection box, trying crops in turn (see the module docstring)."""
    for scale in ROI_SCALES:
        points = _landmarks_in_roi(rgb, _roi_from_box(box, scale))
        if _plausible(points, box):
            points = _refined(rgb, points)
            if _plausible(points, box):
                return points
    again = _box_again(rgb, box)
    if again is not None:
        for scale in ROI_SCALES[:2]:
            points = _landmarks_in_roi(rgb, _roi_from_box(again, scale))
            if _plausible(points, box):
                return _refined(rgb, points)
    points = mesh_on_crop(rgb, box)
    return points if _plausible(points, box) else None


# -- yaw ------------------------------------------------------------------------------------

_SYMMETRIC_PAIRS = ((33, 263), (133, 362), (234, 454), (61, 291), (127, 356), (132, 361), (70, 300))
"""(subject's right, subject's left) mesh points used for the face's left-right axis."""


def yaw_from_points(points: Float[np.ndarray, "478 3"]) -> float:
    """Head turn about the vertical axis in degrees from the mesh's 3D points: 0 = facing the
    camera, positive = the face turned towards the image's right (the subject's left), as
    ``pose.head.y`` of a fitted model. The face's left-right axis is the mean of symmetric
    point pairs, its down axis forehead (10) -> chin (152); their cross product is the face's
    normal. Weak perspective (mediapipe's z), so a rough estimate (~5-10 degrees)."""
    p = np.asarray(points, dtype=np.float64)
    a = np.mean([p[left] - p[right] for right, left in _SYMMETRIC_PAIRS], axis=0)
    a /= np.linalg.norm(a)
    u = p[152] - p[10]
    u -= a * (u @ a)
    u /= np.linalg.norm(u)
    n = -np.cross(a, u)  # towards the camera
    return float(np.degrees(math.atan2(n[0], -n[2])))


def _keypoint_yaw(box: FaceBox) -> float:
    """Rough turn from the detector's keypoints: where the nose tip sits between the two ear
    tragions along the eye line (0.5 = frontal)."""
    kp = box.keypoints
    axis = kp[1] - kp[0]
    norm = float(np.linalg.norm(axis))
    if norm < 1e-6:
        return 0.0
    axis = axis / norm
    e_r, e_l, nose = kp[4] @ axis, kp[5] @ axis, kp[2] @ axis
    if e_l - e_r < 1e-6:
        return 90.0
    r = (nose - e_r) / (e_l - e_r)
    return float(np.degrees(math.asin(float(np.clip(2 * r - 1, -1, 1)))))


# -- the face-mesh graph fallback -------------------------------------------------------------


def _landmark_sets(result, x0: float, y0: float, width: float, height: float) -> list[np.ndarray]:
    """mediapipe face-mesh results over a region -> (478, 3) arrays in original pixels."""
    out = []
    for face in result.multi_face_landmarks or []:
        norm = np.array([[p.x, p.y, p.z] for p in face.landmark], dtype=np.float64)
        # Normalised by the region's width and height; z uses the width's scale.
        out.append(np.column_stack([x0 + norm[:, 0] * width, y0 + norm[:, 1] * height, norm[:, 2] * width]))
    return out


def _pick(sets: list[np.ndarray], box: FaceBox) -> np.ndarray | None:
    """The landmark set centred inside ``box`` and nearest its centre."""
    cx, cy = box.center
    inside = [p for p in sets if box.contains(*p[:, :2].mean(axis=0))]
    return min(inside, key=lambda p: math.dist(p[:, :2].mean(axis=0), (cx, cy)), default=None)


def _mesh_in_square(rgb: np.ndarray, x0: int, y0: int, side: int, box: FaceBox) -> np.ndarray | None:
    """Run the mesh on the square ``[x0, x0 + side) x [y0, y0 + side)`` of ``rgb`` resized to
    :data:`MESH_CROP_SIZE` (black where the square leaves the image); the landmarks of the face in
    ``box``, in original pixels.

    Only the part inside the image is resized (area-averaged when shrinking), so a crop of a
    huge photo never allocates ``side x side`` pixels. Mapping back uses that part's exact
    per-axis scale. Square, so that x, y and z (which mediapipe normalises by the input
    width) share one scale up to rounding.
    """
    height, width = rgb.shape[:2]
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x0 + side, width), min(y0 + side, height)
    if sx1 <= sx0 or sy1 <= sy0:
        return None
    f = MESH_CROP_SIZE / side
    u0, v0 = min(MESH_CROP_SIZE - 1, round((sx0 - x0) * f)), min(MESH_CROP_SIZE - 1, round((sy0 - y0) * f))
    rw = max(1, min(MESH_CROP_SIZE - u0, round((sx1 - sx0) * f)))
    rh = max(1, min(MESH_CROP_SIZE - v0, round((sy1 - sy0) * f)))
    canvas = np.zeros((MESH_CROP_SIZE, MESH_CROP_SIZE, 3), np.uint8)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    canvas[v0 : v0 + rh, u0 : u0 + rw] = cv2.resize(rgb[sy0:sy1, sx0:sx1], (rw, rh), interpolation=interp)
    kx, ky = (sx1 - sx0) / rw, (sy1 - sy0) / rh  # original pixels per canvas pixel
    result = _mediapipe.run("mesh", canvas)
    sets = _landmark_sets(result, sx0 - u0 * kx, sy0 - v0 * ky, MESH_CROP_SIZE * kx, MESH_CROP_SIZE * ky)
    return _pick(sets, box)


def mesh_on_crop(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """The mesh on a square around ``box``, :data:`MESH_CROP_MARGIN` times its size."""
    side = max(1, math.ceil(MESH_CROP_MARGIN * max(box.width, box.height)))
    cx, cy = box.center
    return _mesh_in_square(rgb, math.floor(cx - side / 2), math.floor(cy - side / 2), side, box)


def mesh_on_whole_image(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """The mesh on the whole image (padded to a square), for when the crop gives nothing."""
    return _mesh_in_square(rgb, 0, 0, max(rgb.shape[:2]), box)


MESH_IOU = 0.4
"""Faces whose meshes' boxes overlap more than this are one face (the larger box is kept)."""
REJECT_MIN_SCORE = 0.75
"""A detection this confident that gets no mesh is reported as a face that could not be
landmarked (less confident ones are phantoms and are dropped silently)."""


def _mesh_box(points: np.ndarray) -> tuple[float, float, float, float]:
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def _box_iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if inter > 0 else 0.0


def face_size(points: np.ndarray) -> float:
    """Size of a face in pixels, independent of its turn: the geometric mean of its 3D width
    (cheek 234 to cheek 454) and height (forehead 10 to chin 152) in the mesh's (x, y, z),
    whose z shares the pixel scale."""
    p = np.asarray(points, dtype=np.float64)
    return float(np.sqrt(np.linalg.norm(p[454] - p[234]) * np.linalg.norm(p[152] - p[10])))


def _order_key(points: np.ndarray) -> tuple[float, float, float]:
    """Largest face first by :func:`face_size` (the detector's box size depends on the scale
    it was found at, and a box or 2D extent shrinks as the head turns); ties (to 0.1 px):
    leftmost, then topmost."""
    x0, y0, _, _ = _mesh_box(points)
    return (-round(face_size(points), 1), round(x0, 1), round(y0, 1))


def _find(rgb: np.ndarray) -> tuple[list[FoundFace], list[_Rejected]]:
    found: list[tuple[FaceBox, np.ndarray]] = []
    rejected: list[_Rejected] = []
    for box in sorted(detect_faces(rgb), key=lambda b: -b.score):  # the most confident win the de-duplication
        points = _mesh_for_box(rgb, box)
        if points is None:
            if box.score >= REJECT_MIN_SCORE:
                rejected.append(_Rejected(box, _keypoint_yaw(box)))
            continue
        mb = _mesh_box(points)
        if any(_box_iou(mb, _mesh_box(p)) > MESH_IOU for _, p in found):
            continue
        found.append((box, points))
    found.sort(key=lambda bp: _order_key(bp[1]))
    faces = [FoundFace(i, box, points, yaw_from_points(points)) for i, (box, points) in enumerate(found)]
    # A rejected box overlapping a found face is the same face seen at another scale.
    rejected = [r for r in rejected
                if all(_box_iou((r.box.x0, r.box.y0, r.box.x1, r.box.y1), _mesh_box(f.points)) < 0.1 for f in faces)]
    return faces, rejected


def find_faces(image: ImageLike) -> list[FoundFace]:
    """Every face in the image with its 478 landmarks, largest first (:func:`face_size`;
    ties: leftmost, then topmost): :attr:`FoundFace.index` is the ``--face-index`` of ``face``,
    ``create`` and ``batch``. Faces the landmark model rejects are not listed."""
    rgb, _ = as_rgb(image)
    return _find(rgb)[0]


def _why_not(rejected: list[_Rejected], name: str) -> str:
    r = max(rejected, key=lambda r: r.box.score)
    where = f"at ({r.box.x0:.0f}, {r.box.y0:.0f}), {r.box.width:.0f} px wide"
    if r.box.width < MIN_LANDMARK_PX:
        why = (f"is too small for the landmark model (< {MIN_LANDMARK_PX:.0f} px): use a closer or "
               "higher-resolution photo")
    elif r.yaw_deg is not None and abs(r.yaw_deg) > MAX_YAW_DEG:
        why = (f"is turned too far (about {abs(r.yaw_deg):.0f} degrees) for the landmark model: use a photo "
               "where the face is turned less than ~45 degrees")
    else:
        why = "could not be landmarked: use a sharper, well-lit photo with the face unobstructed and upright"
    return f"a face was found in {name} ({where}) but {why}"


def face_landmarks(
    image: ImageLike, face_index: int | None = None, *, min_face_px: float = MIN_FACE_PX
) -> FaceLandmarks:
    """The 478 landmarks of one face: the largest, or ``face_index`` (0 = largest, the order
    of :func:`find_faces`).

    Raises:
        UserInputError: no face is found, ``face_index`` is out of range, or a face was found
            but the landmark model could not place its mesh (too small, too turned, ...).
    """
    rgb, name = as_rgb(image)
    height, width = rgb.shape[:2]
    faces, rejected = _find(rgb)
    n = len(faces)
    if n == 0:
        if rejected:
            raise UserInputError(_why_not(rejected, name))
        raise UserInputError(
            f"no face found in {name}: use a photo where the face is visible, upright and "
            f"at least ~{min_face_px:.0f} px wide"
        )
    index = 0 if face_index is None else int(face_index)
    if not 0 <= index < n:
        faces_txt = "1 face was" if n == 1 else f"{n} faces were"
        raise UserInputError(
            f"face index {index} is out of range: {faces_txt} found in {name}; use 0 to {n - 1} "
            "(`avatarforge faces PHOTO` lists them)"
        )
    face = faces[index]
    warnings = []
    if n > 1 and face_index is None:
        warnings.append(f"{n} faces found in {name}, using the largest; pick another with --face-index "
                        "(`avatarforge faces PHOTO` lists them)")
    if face.box.width < min_face_px:
        warnings.append(
            f"the face in {name} is only {face.box.width:.0f} px wide (< {min_face_px:.0f}): landmarks may be "
            "inaccurate; use a closer or higher-resolution photo"
        )
    return FaceLandmarks(face.points, face.box, (width, height), n, index, warnings, face.yaw_deg)


# -- video tracking -------------------------------------------------------------------------

TRACK_SIZE_RATIO = (0.7, 1.4)
"""A tracked mesh whose box is outside this ratio of the previous frame's is a lost track."""


def track_face_landmarks(image: ImageLike, previous: Float[np.ndarray, "478 3"]) -> np.ndarray | None:
    """The 478 landmarks of a video frame from the previous frame's: the landmark model once
    on the ROI those points give, as mediapipe's face-mesh graph tracks in video mode (no
    detector, one pass: ~5x cheaper than :func:`face_landmarks`). None when the track is
    lost (the presence gate rejects the crop, or the mesh is not centred inside the previous
    one's box or is of another size): the caller detects again with :func:`face_landmarks`."""
    rgb, _ = as_rgb(image)
    points = _landmarks_in_roi(rgb, _roi_from_points(previous))
    if points is None or not np.isfinite(points).all():
        return None
    x0, y0, x1, y1 = _mesh_box(previous)
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    cx, cy = (lo + hi) / 2
    ratio = (hi[0] - lo[0]) / max(x1 - x0, 1e-6)
    ok = x0 <= cx <= x1 and y0 <= cy <= y1 and TRACK_SIZE_RATIO[0] <= ratio <= TRACK_SIZE_RATIO[1]
    return points if ok else None


def follow_face_landmarks(image: ImageLike, previous: Float[np.ndarray, "478 3"] | None) -> np.ndarray | None:
    """The 478 landmarks of the next video frame: tracked from the ``previous`` frame's points
    (:func:`track_face_landmarks`) while the track holds, else detected afresh
    (:func:`face_landmarks`, the largest face); None when the frame shows no usable face."""
    points = None if previous is None else track_face_landmarks(image, previous)
    if points is None:
        try:
            points = face_landmarks(image).points
        except UserInputError:
            return None
    return points
