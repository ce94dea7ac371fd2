"""Portrait input: an RGBA character image with a transparent background, framed like the
training data (head in the centre, eyes slightly above the middle).

An image without a transparent background (a photo) is matted with MediaPipe's bundled
selfie segmentation; ``matte=False`` refuses it instead. When a face is found, the image is
cropped to a square around it so the face width is :data:`FACE_FRACTION` of the side; when
none is found (e.g. drawn characters the detector misses), the image is padded to a square
with transparency and resized, so it should already be framed that way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from jaxtyping import UInt8

from avatarforge.errors import UserInputError
from avatarforge.util.colour import float_to_uint8

__all__ = ["PortraitImage", "load_portrait", "prepare_portrait", "read_rgba", "matte_person", "FACE_FRACTION", "EYE_ROW"]

FACE_FRACTION = 0.37
"""Face width (MediaPipe face oval) over the image side: 0.34-0.40 measured on training renders."""
EYE_ROW = 0.47
"""Height of the eye line from the top, as a fraction of the side."""
MIN_TRANSPARENT = 0.05
"""An image counts as having a transparent background when this fraction of its pixels has alpha < 16."""


@dataclass
class PortraitImage:
    rgba: UInt8[np.ndarray, "S S 4"]
    """The framed portrait, straight alpha."""
    matted: bool
    """Whether the alpha came from segmentation."""
    framed_by_face: bool
    """Whether a detected face set the crop (else padded and resized)."""
    notes: list[str] = field(default_factory=list)


def matte_person(rgb: UInt8[np.ndarray, "H W 3"]) -> UInt8[np.ndarray, "H W"]:
    """Person alpha from MediaPipe selfie segmentation (soft edges, 0-255)."""
    from avatarforge.perception.segmentation import person_mask

    m = person_mask(rgb)
    if m is None:
        raise UserInputError("the person could not be separated from the background: give an RGBA image with a transparent background")
    # Sharpen the soft mask a little (its 0.5 level is the boundary).
    a = np.clip((m - 0.5) * 4 + 0.5, 0, 1)
    return float_to_uint8(a)


def read_rgba(path: str | os.PathLike) -> tuple[np.ndarray, bool]:
    """The image as RGBA (EXIF orientation applied) and whether the file had an alpha channel."""
    from PIL import Image, ImageOps

    from avatarforge.perception.image_io import load_image

    load_image(path, alpha="drop")  # the project's checks: missing, corrupt, huge, unsupported
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
        return np.asarray(im.convert("RGBA")).copy(), has_alpha


def _face_box(rgb: np.ndarray):
    from avatarforge.perception.face import face_landmarks

    try:
        lm = face_landmarks(rgb)
    except UserInputError:
        return None
    from avatarforge.perception import landmark_groups as lg

    p = lm.points
    oval = p[lg.FACE_OVAL]
    eyes = p[[33, 133, 263, 362]]
    return float(oval[:, 0].max() - oval[:, 0].min()), float(eyes[:, 0].mean()), float(eyes[:, 1].mean())


def _crop(rgba: np.ndarray, cx: float, top: float, side: float, size: int) -> np.ndarray:
    """The square [cx - side/2, cx + side/2) x [top, top + side) resized to ``size`` (transparent outside)."""
    s = size / side
    m = np.array([[s, 0, -(cx - side / 2) * s], [0, s, -top * s]], np.float32)
    pre = rgba.astype(np.float32)
    pre[..., :3] *= pre[..., 3:] / 255
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out = cv2.warpAffine(pre, m, (size, size), flags=interp, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    a = out[..., 3:]
    out[..., :3] = np.where(a > 0, out[..., :3] * 255 / np.maximum(a, 1e-6), 0)
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def prepare_portrait(rgba: UInt8[np.ndarray, "H W 4"], size: int = 256, *, matte: bool = True,
                     has_alpha: bool = True, name: str = "the image") -> PortraitImage:
    """Matte (if needed) and frame an RGBA image; see the module docstring."""
    if rgba.ndim != 3 or rgba.shape[2] != 4:
        raise UserInputError(f"{name}: expected an RGBA image, got shape {rgba.shape}")
    notes: list[str] = []
    transparent = has_alpha and float((rgba[..., 3] < 16).mean()) >= MIN_TRANSPARENT
    matted = False
    if not transparent:
        if not matte:
            raise UserInputError(f"{name} has no transparent background: give an RGBA PNG with the background removed, or allow matting")
        rgba = rgba.copy()
        rgba[..., 3] = matte_person(np.ascontiguousarray(rgba[..., :3]))
        if float((rgba[..., 3] > 128).mean()) < 0.02:
            raise UserInputError(f"no person found in {name}: give a portrait photo or an RGBA image with a transparent background")
        matted = True
        notes.append("background removed with MediaPipe selfie segmentation")
    from avatarforge.portrait.image import composite

    box = _face_box(composite(rgba))
    if box is not None:
        face_w, ex, ey = box
        side = face_w / FACE_FRACTION
        out = _crop(rgba, ex, ey - EYE_ROW * side, side, size)
    else:
        h, w = rgba.shape[:2]
        side = max(h, w)
        out = _crop(rgba, w / 2, (h - side) / 2, side, size)
        notes.append("no face detected: the image was padded to a square and resized (frame the head in the centre yourself)")
    return PortraitImage(rgba=out, matted=matted, framed_by_face=box is not None, notes=notes)


def load_portrait(path: str | os.PathLike, size: int = 256, *, matte: bool = True) -> PortraitImage:
    """Read, matte and frame a portrait file (PNG/JPEG/...)."""
    path = Path(path)
    rgba, has_alpha = read_rgba(path)
    return prepare_portrait(rgba, size, matte=matte, has_alpha=has_alpha, name=str(path))
