"""The glasses of the photo as geometry on the fitted head: whether to add them, their style
and their frame colour.

The parsing (:func:`avatarforge.perception.parsing.parse_photo`) detects glasses and labels
their pixels; the frame colour is the median sRGB of those pixels, sunglasses get dark
lenses. The mesh is :func:`avatarforge.bodies.glasses.build_glasses` on the avatar's posed
body, so it sits on the head whatever the pose.

``--glasses keep`` (the default) adds them when the photo shows glasses: a user who wears
glasses expects the avatar to look like them; the skin texture never contains them (the
texture stage inpaints the glasses pixels), so ``remove`` gives a clean face without them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import UInt8

from avatarforge.bodies.glasses import GlassesMesh, GlassesStyle, build_glasses
from avatarforge.errors import UserInputError

__all__ = ["GLASSES_CHOICES", "GlassesFit", "fit_glasses", "frame_colour"]

GLASSES_CHOICES = ("keep", "remove")
"""``--glasses`` values: keep (a glasses mesh when the photo shows glasses) or remove."""

DEFAULT_FRAME_SRGB = (30, 30, 32)
"""Frame colour when too few glasses pixels are labelled to measure it."""


@dataclass
class GlassesFit:
    """The glasses the avatar wears (``mesh`` None: none)."""

    detected: bool
    """The photo shows glasses (parsing)."""
    choice: str
    """keep or remove."""
    mesh: GlassesMesh | None
    colour_srgb: tuple[int, int, int]
    """Frame colour, sRGB 0-255."""
    sunglasses: bool

    def to_dict(self) -> dict:
        """report.json's ``glasses``."""
        return {"detected": self.detected, "choice": self.choice, "added": self.mesh is not None,
                "sunglasses": self.sunglasses, "frame_srgb": list(self.colour_srgb)}


def frame_colour(rgb: UInt8[np.ndarray, "H W 3"], parsing) -> tuple[int, int, int]:
    """Median sRGB of the pixels ``parsing`` labels ``glasses`` (the frames; with sunglasses
    the lenses too); :data:`DEFAULT_FRAME_SRGB` when fewer than 20 are labelled."""
    mask = parsing.mask("glasses")
    if mask.shape != rgb.shape[:2]:
        raise UserInputError(f"the parsing {mask.shape} does not match the photo {rgb.shape[:2]}")
    if mask.sum() < 20:
        return DEFAULT_FRAME_SRGB
    return tuple(int(c) for c in np.median(rgb[mask], axis=0))


def fit_glasses(rgb: UInt8[np.ndarray, "H W 3"], parsing, output, choice: str = "keep") -> GlassesFit:
    """The glasses for the avatar whose posed body is ``output``, from the photo's parsing.

    Raises:
        UserInputError: ``choice`` is not one of :data:`GLASSES_CHOICES`.
    """
    if choice not in GLASSES_CHOICES:
        raise UserInputError(f"unknown --glasses {choice!r}: choose {' or '.join(GLASSES_CHOICES)}")
    acc = parsing.accessories
    colour = frame_colour(rgb, parsing) if acc.glasses else DEFAULT_FRAME_SRGB
    mesh = None
    if acc.glasses and choice == "keep":
        mesh = build_glasses(output, GlassesStyle(lenses=bool(acc.sunglasses)))
    return GlassesFit(bool(acc.glasses), choice, mesh, colour, bool(acc.sunglasses))
