"""Photo intake shared by every command that reads photos.

:func:`load_image` opens a JPEG, PNG, WebP, BMP or TIFF file, decodes it fully (a truncated
file is an error, never a grey-padded image), applies the EXIF orientation and converts any
pixel format to 8-bit RGB (see :mod:`.image_modes`). Every failure a user can cause -- a
missing, empty, non-image, truncated or oversized file, a directory -- raises
:class:`~avatarforge.errors.UserInputError` with one line naming the file and what to do.

Pixel coordinates, here and in the rest of :mod:`avatarforge.perception`, are continuous:
x to the right, y down, pixel column ``j`` covers ``[j, j + 1)`` so its centre is at
``j + 0.5`` (the convention of :mod:`avatarforge.render`). :func:`detection_view` makes a
downscaled copy for detectors; :func:`view_to_original` / :func:`original_to_view` map
points between the two.
"""

from __future__ import annotations

import os
import threading
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from jaxtyping import Float, UInt8
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from avatarforge.errors import UserInputError
from avatarforge.perception.image_modes import AlphaPolicy, to_rgb8

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_FORMATS",
    "LoadedImage",
    "load_image",
    "detection_view",
    "view_to_original",
    "original_to_view",
]

DEFAULT_MAX_PIXELS = 100_000_000
"""Largest image (width x height) :func:`load_image` decodes: a guard against decompression bombs."""

SUPPORTED_FORMATS = ("JPEG", "MPO", "PNG", "WEBP", "BMP", "TIFF")
"""Pillow format names accepted (MPO is the multi-picture JPEG many phone cameras write)."""

_FORMATS_HINT = "a JPEG, PNG, WebP, BMP or TIFF photo"
_UNSUPPORTED_SUFFIX_HINT = {".heic": "HEIC", ".heif": "HEIF", ".avif": "AVIF"}
_ORIENTATION_TAG = 0x0112
_PILLOW_GLOBALS_LOCK = threading.Lock()


@dataclass
class LoadedImage:
    """A photo decoded to 8-bit RGB, upright."""

    rgb: UInt8[np.ndarray, "H W 3"]
    """Pixels, row 0 at the top, channels R, G, B, after the EXIF orientation was applied."""
    path: Path
    """The file it came from."""
    original_size: tuple[int, int]
    """``(width, height)`` as stored in the file, before the EXIF orientation was applied."""
    exif_rotated: bool
    """True when an EXIF orientation other than 'normal' was applied (rotation and/or mirror)."""
    notes: list[str] = field(default_factory=list)
    """Conversions done, in order (e.g. 'applied EXIF orientation 6 (rotate 90 clockwise)')."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)`` of :attr:`rgb`."""
        return int(self.rgb.shape[1]), int(self.rgb.shape[0])


_ORIENTATION_NAMES = {
    2: "mirror left-right",
    3: "rotate 180",
    4: "mirror top-bottom",
    5: "transpose",
    6: "rotate 90 clockwise",
    7: "transverse",
    8: "rotate 90 counter-clockwise",
}


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextmanager
def _strict_pillow(max_pixels: int):
    """Pillow's bomb limit set to ``max_pixels`` and truncated-file leniency off, for one load.

    Both are Pillow globals; they are restored afterwards and the lock keeps our own
    concurrent loads from interleaving. Pillow warns above the limit and raises
    ``DecompressionBombError`` above twice it; the warning is silenced because
    :func:`load_image` checks the header size itself before decoding.
    """
    with _PILLOW_GLOBALS_LOCK:
        saved = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = int(max_pixels), False
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                yield
        finally:
            Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise UserInputError(f"{path} is a directory, not an image: pass {_FORMATS_HINT}")
    if not path.exists():
        raise UserInputError(f"{path} does not exist: check the path")
    if not path.is_file():
        raise UserInputError(f"{path} is not a regular file: pass {_FORMATS_HINT}")
    if path.stat().st_size == 0:
        raise UserInputError(f"{path} is empty (0 bytes): pass {_FORMATS_HINT}")


def _too_large(path: Path, size: tuple[int, int] | None, max_pixels: int) -> UserInputError:
    dims = f" ({size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} MP)" if size else ""
    return UserInputError(
        f"{path} is too large{dims}, the limit is {max_pixels / 1e6:g} MP: "
        "downscale the photo or raise max_pixels"
    )


def _exif_transpose(img: Image.Image, notes: list[str]) -> tuple[Image.Image, bool]:
    try:
        orientation = int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - malformed EXIF must not make a good photo unreadable
        notes.append("ignored unreadable EXIF data")
        return img, False
    if orientation not in _ORIENTATION_NAMES:
        return img, False
    upright = ImageOps.exif_transpose(img)
    notes.append(f"applied EXIF orientation {orientation} ({_ORIENTATION_NAMES[orientation]})")
    return upright, True


def load_image(
    path: str | os.PathLike[str],
    max_pixels: int = DEFAULT_MAX_PIXELS,
    alpha: AlphaPolicy = "white",
) -> LoadedImage:
    """Read a photo as upright 8-bit RGB.

    Args:
        path: a JPEG, PNG, WebP, BMP or TIFF file (the first frame of a multi-frame file).
        max_pixels: refuse images with more pixels than this (checked from the header, before
            decoding).
        alpha: ``"white"`` composites transparency over white, ``"drop"`` ignores it.

    Raises:
        UserInputError: the file is missing, empty, a directory, not an image, of an
            unsupported format, truncated or corrupt, or larger than ``max_pixels``.
    """
    path = Path(path)
    _check_file(path)
    notes: list[str] = []
    try:
        with _strict_pillow(max_pixels), Image.open(path) as img:
            fmt, size = img.format, (int(img.width), int(img.height))
            if fmt not in SUPPORTED_FORMATS:
                raise UserInputError(f"{path} is a {fmt} image, which is not supported: pass {_FORMATS_HINT}")
            if size[0] * size[1] > max_pixels:
                raise _too_large(path, size, max_pixels)
            if getattr(img, "n_frames", 1) > 1:
                notes.append(f"used the first of {img.n_frames} frames")
            img.load()  # full decode: truncation and corruption surface here
            upright, rotated = _exif_transpose(img, notes)
            rgb, mode_notes = to_rgb8(upright, alpha)
    except UserInputError:
        raise
    except Image.DecompressionBombError as exc:
        raise _too_large(path, None, max_pixels) from exc
    except UnidentifiedImageError as exc:
        kind = _UNSUPPORTED_SUFFIX_HINT.get(path.suffix.lower())
        what = f"a {kind} file Pillow cannot read" if kind else "not a readable image (unknown format)"
        raise UserInputError(f"{path} is {what}: pass {_FORMATS_HINT}") from exc
    except PermissionError as exc:
        raise UserInputError(f"{path} cannot be read (permission denied): check its permissions") from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as exc:
        raise UserInputError(
            f"{path} is not a readable image (truncated or corrupt): {_one_line(exc)}; "
            "re-export or re-download the photo"
        ) from exc
    return LoadedImage(rgb=rgb, path=path, original_size=size, exif_rotated=rotated, notes=notes + mode_notes)


def detection_view(
    rgb: UInt8[np.ndarray, "H W 3"], max_side: int = 1280
) -> tuple[UInt8[np.ndarray, "h w 3"], float]:
    """A copy no longer than ``max_side`` on its long side, for detectors, and its scale.

    Returns ``(small_rgb, scale)`` with ``scale = small / original`` (1.0 and the input itself
    when it is already small enough). The small size is ``round(W * scale) x round(H * scale)``
    (area-averaged), so mapping back with :func:`view_to_original` is exact on the long side
    and within half a view pixel on the short one.
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    height, width = rgb.shape[:2]
    if max(height, width) <= max_side:
        return rgb, 1.0
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA), scale


def view_to_original(points: Float[np.ndarray, "*N D"], scale: float) -> Float[np.ndarray, "*N D"]:
    """Points (x, y[, z] in view pixels) of a :func:`detection_view` -> original pixels."""
    return np.asarray(points, dtype=np.float64) / scale


def original_to_view(points: Float[np.ndarray, "*N D"], scale: float) -> Float[np.ndarray, "*N D"]:
    """Points (x, y[, z] in original pixels) -> pixels of a :func:`detection_view` of ``scale``."""
    return np.asarray(points, dtype=np.float64) * scale
