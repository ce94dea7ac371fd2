"""Convert any decoded Pillow image mode to 8-bit RGB, recording what was done.

Rules (one per mode family):

* ``RGB``: unchanged.
* ``1``, ``L`` (greyscale): the grey value is copied to the three channels.
* ``P`` (palette): expanded to RGB, or to RGBA first when the palette has a transparent entry.
* ``LA``, ``La``, ``PA``, ``RGBA``, ``RGBa`` (alpha): composited over white
  (``alpha="white"``, the default: transparent areas of a cut-out portrait become white) or
  the alpha channel is dropped (``alpha="drop"``: stored colours kept as they are).
* ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``: Pillow's conversion to RGB (no ICC colour management).
* ``I;16*`` (16-bit greyscale): scaled, not clipped: ``round(v / 257)`` maps 0..65535 onto
  0..255 exactly (65535 -> 255, 257 k -> k).
* ``I`` (32-bit integer): read as 16-bit data when every value lies in 0..65535 (what 16-bit
  PNG/TIFF files decode to), otherwise its min..max range is stretched to 0..255.
* ``F`` (32-bit float): values in 0..1 are scaled by 255, otherwise min..max is stretched.

16-bit *colour* PNG/TIFF files are decoded by Pillow straight to 8-bit ``RGB`` (the high byte,
``v // 256``), which is within 1 of ``round(v / 257)`` and never clips.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from jaxtyping import UInt8
from PIL import Image

from avatarforge.util.colour import float_to_uint8

__all__ = ["AlphaPolicy", "to_rgb8"]

AlphaPolicy = Literal["white", "drop"]

_ALPHA_MODES = ("LA", "La", "PA", "RGBA", "RGBa")
_PLAIN_CONVERT = ("CMYK", "YCbCr", "LAB", "HSV")


def _grey_to_rgb(grey: np.ndarray) -> np.ndarray:
    return np.repeat(grey.astype(np.uint8)[..., None], 3, axis=-1)


def _stretch(values: np.ndarray) -> np.ndarray:
    """Linearly map min..max of ``values`` onto 0..255 (a constant image becomes 0)."""
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        return np.zeros(values.shape, dtype=np.uint8)
    return np.round((values - lo) * (255.0 / (hi - lo))).astype(np.uint8)


def _numeric_to_grey8(img: Image.Image) -> tuple[np.ndarray, str]:
    """16-bit, 32-bit integer and float greyscale -> uint8, with a note saying how."""
    values = np.asarray(img).astype(np.float64)
    values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if img.mode.startswith("I;16") or (img.mode == "I" and lo >= 0 and hi <= 65535):
        return np.round(values / 257.0).astype(np.uint8), "scaled 16-bit greyscale to 8-bit"
    if img.mode == "F" and lo >= 0 and hi <= 1:
        return float_to_uint8(values), "scaled 0..1 float greyscale to 8-bit"
    return _stretch(values), f"stretched {img.mode}-mode greyscale range {lo:g}..{hi:g} to 8-bit"


def _composite(rgba: np.ndarray, alpha: AlphaPolicy) -> tuple[np.ndarray, str]:
    rgb, a = rgba[..., :3].astype(np.uint32), rgba[..., 3:].astype(np.uint32)
    if alpha == "drop":
        return rgb.astype(np.uint8), "dropped the alpha channel (transparent pixels keep their colour)"
    if bool((a == 255).all()):
        return rgb.astype(np.uint8), "dropped a fully opaque alpha channel"
    # Integer "over" with rounding: c * a + white * (1 - a), a in 0..255.
    out = (rgb * a + 255 * (255 - a) + 127) // 255
    return out.astype(np.uint8), "composited the alpha channel over white"


def to_rgb8(img: Image.Image, alpha: AlphaPolicy = "white") -> tuple[UInt8[np.ndarray, "H W 3"], list[str]]:
    """A decoded Pillow image as a contiguous ``(H, W, 3)`` uint8 RGB array, plus notes.

    ``notes`` names every conversion done (empty for a plain 8-bit RGB image).
    """
    if alpha not in ("white", "drop"):
        raise ValueError(f"alpha must be 'white' or 'drop', got {alpha!r}")
    mode, notes = img.mode, []
    if mode == "P":
        has_alpha = "transparency" in img.info
        img = img.convert("RGBA" if has_alpha else "RGB")
        notes.append("expanded the palette to RGB" + ("A" if has_alpha else ""))
        mode = img.mode
    if mode == "RGB":
        rgb = np.asarray(img, dtype=np.uint8)
    elif mode in ("1", "L"):
        rgb = _grey_to_rgb(np.asarray(img.convert("L")))
        notes.append("converted 1-bit to RGB" if mode == "1" else "converted greyscale to RGB")
    elif mode in _ALPHA_MODES:
        rgb, note = _composite(np.asarray(img.convert("RGBA")), alpha)
        notes.append(note)
    elif mode in _PLAIN_CONVERT:
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        notes.append(f"converted {mode} to RGB")
    elif mode.startswith("I") or mode == "F":
        grey, note = _numeric_to_grey8(img)
        rgb = _grey_to_rgb(grey)
        notes.append(note)
    else:  # any other mode Pillow knows how to convert
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
        notes.append(f"converted {mode} to RGB")
    return np.ascontiguousarray(rgb), notes
