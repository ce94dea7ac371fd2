"""Face boxes with the two BlazeFace models bundled in the mediapipe wheel.

Boxes are in ORIGINAL-image pixels (continuous coordinates, x right, y down; see
:mod:`.image_io`), clipped to the image. The detectors see a :func:`.detection_view` of the
image (long side <= ``max_side``) and resize it again to their own input (192 px full range,
128 px short range), so a face narrower than about a tenth of the image's long side is
invisible to them. :func:`detect_faces` therefore also searches overlapping tiles, halving
the tile side from half the image's long side until a face of :data:`SEARCH_FACE_PX` is at
least an eighth of a tile (or the tile reaches :data:`MIN_TILE_SIDE`); a photo whose whole
view found nothing is searched down to :data:`MIN_TILE_SIDE`. These boxes are candidates:
:func:`.face.find_faces` keeps those the landmark model confirms.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jaxtyping import Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.perception import _mediapipe
from avatarforge.perception.image_io import LoadedImage, detection_view

__all__ = [
    "KEYPOINT_NAMES", "NMS_IOU", "MIN_TILE_SIDE", "TILE_MIN_SCORE", "SEARCH_FACE_PX",
    "FaceBox", "ImageLike", "detect_faces", "as_rgb",
]

NMS_IOU = 0.3
"""Boxes overlapping more than this (from the two models, or overlapping tiles) are one face."""
TILE_MIN_SCORE = 0.6
"""Confidence a tile detection needs. Tiles of textured non-faces (coffee, star fields) give
0.5-0.71, real faces seen at a workable scale 0.6-0.96; the phantoms that pass are removed
by :func:`.face.find_faces` (no plausible mesh)."""
SEARCH_FACE_PX = 80
"""Faces at least this wide are searched for in tiles (smaller ones only when the whole
image shows no face)."""
TILE_FACE_FRACTION = 8
"""A tile level is fine enough when a face of :data:`SEARCH_FACE_PX` is 1/8 of the tile."""
MIN_TILE_SIDE = 384
"""Smallest tile searched: a 64 px face is then a third of the tile."""
TILE_OVERLAP = 0.25
"""Fraction of a tile shared with its neighbour, so faces up to a quarter tile fit in one tile."""

KEYPOINT_NAMES = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear", "left_ear")
"""Order of :attr:`FaceBox.keypoints` (mediapipe's); sides are the subject's."""

ImageLike = UInt8[np.ndarray, "H W 3"] | LoadedImage


@dataclass(frozen=True)
class FaceBox:
    """A detected face, in original-image pixels."""

    x0: float
    """Left edge (clipped to the image)."""
    y0: float
    """Top edge."""
    x1: float
    """Right edge."""
    y1: float
    """Bottom edge."""
    score: float
    """Detector confidence in 0..1."""
    keypoints: Float[np.ndarray, "6 2"]
    """(x, y) of the subject's right eye, left eye, nose tip, mouth centre, right ear tragion,
    left ear tragion (:data:`KEYPOINT_NAMES`). The subject's right eye is on the image's left."""

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    @property
    def area(self) -> float:
        return self.width * self.height

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    def contains(self, x: float, y: float) -> bool:
        return bool(self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1)  # a bool, also for numpy scalars


def as_rgb(image: ImageLike) -> tuple[UInt8[np.ndarray, "H W 3"], str]:
    """``(rgb, name for messages)`` of an array or a :class:`.LoadedImage`, validated."""
    if isinstance(image, LoadedImage):
        return image.rgb, str(image.path)
    rgb = np.asarray(image)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise UserInputError(
            f"expected an (H, W, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}: "
            "load photos with load_image()"
        )
    return rgb, "the image"


def _iou(a: FaceBox, b: FaceBox) -> float:
    w = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    h = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    inter = w * h
    return inter / (a.area + b.area - inter) if inter > 0 else 0.0


def _detect_region(
    rgb: np.ndarray, x0: int, y0: int, w: int, h: int, max_side: int
) -> list[tuple[FaceBox, bool]]:
    """Both detectors on the region ``[x0, x0 + w) x [y0, y0 + h)``: boxes in image pixels,
    each with whether the raw box crossed an edge of the region that is not the image's."""
    view, _ = detection_view(np.ascontiguousarray(rgb[y0 : y0 + h, x0 : x0 + w]), max_side)
    height, width = rgb.shape[:2]
    out = []
    for kind in ("detect_full", "detect_short"):
        for det in _mediapipe.run(kind, view).detections or []:
            rel, kps = det.location_data.relative_bounding_box, det.location_data.relative_keypoints
            bx0, by0 = x0 + rel.xmin * w, y0 + rel.ymin * h
            bx1, by1 = bx0 + rel.width * w, by0 + rel.height * h
            cut = (0 < x0 and bx0 < x0) or (0 < y0 and by0 < y0)
            cut = cut or (x0 + w < width and bx1 > x0 + w) or (y0 + h < height and by1 > y0 + h)
            box = FaceBox(
                max(0.0, bx0), max(0.0, by0), min(float(width), bx1), min(float(height), by1),
                float(det.score[0]),
                np.array([[x0 + k.x * w, y0 + k.y * h] for k in kps], dtype=np.float64).reshape(-1, 2),
            )
            if box.width > 0 and box.height > 0:
                out.append((box, cut))
    return out


def _tiles(length: int, side: int) -> list[int]:
    """Start offsets of tiles of ``side`` covering ``[0, length)`` with :data:`TILE_OVERLAP`."""
    if side >= length:
        return [0]
    count = math.ceil((length - side) / (side * (1 - TILE_OVERLAP))) + 1
    return [round(i * (length - side) / (count - 1)) for i in range(count)]


def _merge(boxes: list[FaceBox]) -> list[FaceBox]:
    """Non-maximum suppression at :data:`NMS_IOU` (also: a box mostly inside a more confident
    one is the same face), then largest first."""
    kept: list[FaceBox] = []
    for box in sorted(boxes, key=lambda b: (-b.score, -b.area, b.x0, b.y0)):
        if all(_iou(box, k) <= NMS_IOU and _inside_fraction(box, k) < 0.7 for k in kept):
            kept.append(box)
    return sorted(kept, key=lambda b: (-b.area, -b.score))


def _inside_fraction(a: FaceBox, b: FaceBox) -> float:
    """Fraction of the smaller of ``a`` and ``b`` covered by the other."""
    w = max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))
    h = max(0.0, min(a.y1, b.y1) - max(a.y0, b.y0))
    return w * h / max(min(a.area, b.area), 1e-9)


def _tile_boxes(rgb: np.ndarray, side: int, max_side: int) -> list[FaceBox]:
    height, width = rgb.shape[:2]
    return [
        box
        for ty in _tiles(height, side)
        for tx in _tiles(width, side)
        for box, cut in _detect_region(rgb, tx, ty, min(side, width), min(side, height), max_side)
        if not cut and box.score >= TILE_MIN_SCORE
    ]


def detect_faces(image: ImageLike, max_side: int = 1280) -> list[FaceBox]:
    """Candidate faces in an image, largest box first, boxes in original pixels.

    Runs both bundled BlazeFace models (full range: faces up to ~5 m away; short range: close
    faces) on a view downscaled to ``max_side`` and on tiles (see the module docstring),
    and keeps, among boxes overlapping by more than :data:`NMS_IOU` (or one mostly inside
    the other), the most confident one. Boxes cut by a tile's inner edge are dropped there
    (the overlapping tile holds the whole face), and so are tile boxes scoring below
    :data:`TILE_MIN_SCORE`. :func:`.face.find_faces` confirms them with the landmark model
    and orders them largest first.
    """
    rgb, _ = as_rgb(image)
    height, width = rgb.shape[:2]
    boxes = [b for b, _ in _detect_region(rgb, 0, 0, width, height, max_side)]
    side = max(width, height) // 2
    while side >= MIN_TILE_SIDE:
        if boxes and side < TILE_FACE_FRACTION * SEARCH_FACE_PX:
            break  # fine enough for faces of SEARCH_FACE_PX; smaller ones only if nothing else
        boxes += _tile_boxes(rgb, side, max_side)
        side //= 2
    return _merge(boxes)
