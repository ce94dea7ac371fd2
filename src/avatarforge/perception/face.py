"""Face detection and 478-point face landmarks with the models bundled in the mediapipe wheel.

Coordinates are ORIGINAL-image pixels, continuous (see :mod:`.image_io`): x right, y down,
``x = mediapipe's normalised x * width`` (pixel column ``j`` spans ``[j, j + 1)``). The third
landmark coordinate ``z`` is mediapipe's relative depth in the same pixel scale: smaller is
closer to the camera, roughly zero at the centre of the head.

Pipeline of :func:`face_landmarks`:

1. :func:`.face_detect.detect_faces` runs BlazeFace full range (faces up to ~5 m) and short
   range (close faces) on a :func:`.detection_view` of the image -- or, failing that, on
   tiles -- and merges their boxes;
2. faces are sorted by box area, largest first; ``face_index`` picks one (default 0);
3. the face mesh runs on a square crop around that box (twice its size) cut from the
   original image and resized to :data:`CROP_SIZE`, so a face gets the same resolution
   whether it is small in a large photo, off-centre or tiny, and the mesh's own detector
   (short-range BlazeFace, which misses faces narrower than about a fifth of its input: the
   astronaut photo padded to 912 px already defeats it) always sees a centred, large face.
   If the crop gives nothing, the mesh runs on the whole image (padded to a square, resized
   to :data:`CROP_SIZE`) as a fallback.
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

__all__ = ["CROP_SIZE", "MIN_FACE_PX", "FaceBox", "FaceLandmarks", "detect_faces", "face_landmarks"]
# FaceBox and detect_faces live in .face_detect and are re-exported here.

CROP_SIZE = 512
"""Side in pixels of the face crop the mesh sees (the face fills about half of it)."""
CROP_MARGIN = 2.0
"""Crop side as a multiple of the detection box's longer side."""
MIN_FACE_PX = 64.0
"""Faces narrower than this (detection box width, original pixels) get a warning."""


@dataclass
class FaceLandmarks:
    """The 478 mediapipe face-mesh landmarks of one face (indices: :mod:`.face_regions`)."""

    points: Float[np.ndarray, "478 3"]
    """(x, y, z): x, y in original-image pixels (x right, y down); z relative depth in the
    same pixel scale, smaller = closer to the camera."""
    box: FaceBox
    """The detection box of this face."""
    image_size: tuple[int, int]
    """``(width, height)`` of the image the points refer to."""
    n_faces_found: int
    """How many faces the detectors found in the image."""
    face_index: int = 0
    """Which face this is, counting from the largest (0)."""
    warnings: list[str] = field(default_factory=list)
    """Things the user should know (several faces, a tiny face), one line each."""

    @property
    def xy(self) -> Float[np.ndarray, "478 2"]:
        return self.points[:, :2]


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
    :data:`CROP_SIZE` (black where the square leaves the image); the landmarks of the face in
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
    f = CROP_SIZE / side
    u0, v0 = min(CROP_SIZE - 1, round((sx0 - x0) * f)), min(CROP_SIZE - 1, round((sy0 - y0) * f))
    rw = max(1, min(CROP_SIZE - u0, round((sx1 - sx0) * f)))
    rh = max(1, min(CROP_SIZE - v0, round((sy1 - sy0) * f)))
    canvas = np.zeros((CROP_SIZE, CROP_SIZE, 3), np.uint8)
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    canvas[v0 : v0 + rh, u0 : u0 + rw] = cv2.resize(rgb[sy0:sy1, sx0:sx1], (rw, rh), interpolation=interp)
    kx, ky = (sx1 - sx0) / rw, (sy1 - sy0) / rh  # original pixels per canvas pixel
    result = _mediapipe.run("mesh", canvas)
    sets = _landmark_sets(result, sx0 - u0 * kx, sy0 - v0 * ky, CROP_SIZE * kx, CROP_SIZE * ky)
    return _pick(sets, box)


def _mesh_on_crop(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """The mesh on a square around ``box``, :data:`CROP_MARGIN` times its size."""
    side = max(1, math.ceil(CROP_MARGIN * max(box.width, box.height)))
    cx, cy = box.center
    return _mesh_in_square(rgb, math.floor(cx - side / 2), math.floor(cy - side / 2), side, box)


def _mesh_on_whole(rgb: np.ndarray, box: FaceBox) -> np.ndarray | None:
    """The mesh on the whole image (padded to a square), for when the crop gives nothing."""
    return _mesh_in_square(rgb, 0, 0, max(rgb.shape[:2]), box)


def face_landmarks(
    image: ImageLike, face_index: int | None = None, *, min_face_px: float = MIN_FACE_PX
) -> FaceLandmarks:
    """The 478 landmarks of one face: the largest, or ``face_index`` (0 = largest).

    Raises:
        UserInputError: no face is found, ``face_index`` is out of range, or a face was found
            but the mesh could not be fitted to it.
    """
    rgb, name = as_rgb(image)
    height, width = rgb.shape[:2]
    boxes = detect_faces(rgb)
    n = len(boxes)
    if n == 0:
        raise UserInputError(
            f"no face found in {name}: use a photo where the face is visible, upright and "
            f"at least ~{min_face_px:.0f} px wide"
        )
    index = 0 if face_index is None else int(face_index)
    if not 0 <= index < n:
        faces = "1 face was" if n == 1 else f"{n} faces were"
        raise UserInputError(f"face index {index} is out of range: {faces} found in {name}; use 0 to {n - 1}")
    box = boxes[index]
    warnings = []
    if n > 1 and face_index is None:
        warnings.append(f"{n} faces found in {name}, using the largest; pick another with --face-index")
    if box.width < min_face_px:
        warnings.append(
            f"the face in {name} is only {box.width:.0f} px wide (< {min_face_px:.0f}): landmarks may be "
            "inaccurate; use a closer or higher-resolution photo"
        )
    points = _mesh_on_crop(rgb, box)
    if points is None:
        points = _mesh_on_whole(rgb, box)
    if points is None:
        raise UserInputError(
            f"a face was found in {name} but its landmarks could not be placed: use a sharper, "
            "well-lit photo with the face unobstructed"
        )
    return FaceLandmarks(points, box, (width, height), n, index, warnings)
