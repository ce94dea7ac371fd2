"""Random character identities for the training data: body shape, face shape and a look."""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Look", "Identity", "sample_identity", "FACE_REGIONS"]

FACE_REGIONS = ("cheek", "chin", "ear", "eyebrows", "eye", "forehead", "head", "mouth", "nose", "neck")
"""Prefixes of the local changes varied per identity."""

# sRGB skin tones from light to dark, and eye / hair colours (natural and anime).
_SKIN = np.array([[255, 224, 205], [241, 194, 167], [224, 172, 138], [198, 134, 96],
                  [161, 102, 69], [112, 71, 48], [74, 46, 33]], dtype=np.float64) / 255
_IRIS = np.array([[60, 40, 25], [110, 70, 35], [60, 110, 160], [70, 130, 80], [140, 110, 60],
                  [150, 40, 60], [120, 60, 170], [40, 160, 170]], dtype=np.float64) / 255
_HAIR = np.array([[20, 15, 12], [70, 45, 25], [130, 90, 50], [210, 180, 120], [150, 60, 30],
                  [200, 200, 205], [240, 150, 190], [90, 140, 230], [150, 110, 220], [80, 200, 160]],
                 dtype=np.float64) / 255


@dataclass
class Look:
    """Colours (sRGB, 0-1) and style of one character."""

    skin: tuple[float, float, float]
    iris: tuple[float, float, float]
    hair: tuple[float, float, float]
    cloth: tuple[float, float, float]
    lips: tuple[float, float, float]
    toon: bool
    """Flat two-tone shading with dark outlines (else smooth Lambert + ambient)."""
    hairline: float
    """Hairline height above the brows, metres."""
    fringe: float
    """How far bangs come down at the centre of the forehead, metres (0 = none)."""
    side_hair: float
    """Side hair reaches this far below the eye line, metres."""
    thickness: float
    """Hair volume: scalp vertices pushed out along their normal by this much, metres."""
    neckline: float
    """Depth of the collar below the base of the neck, metres."""
    light: tuple[float, float, float]
    """Direction towards the key light in camera axes (x right, y down, z forward)."""
    zoom: float
    """Width of the view in metres (smaller = bigger head)."""


@dataclass
class Identity:
    """One character: body parameters (phenotype + local changes) and a look."""

    index: int
    body: dict[str, float] = field(default_factory=dict)
    look: Look | None = None


def _mix(rng: np.random.Generator, palette: np.ndarray, jitter: float) -> tuple[float, float, float]:
    i = rng.uniform(0, len(palette) - 1)
    lo, t = int(i), i - int(i)
    c = palette[lo] * (1 - t) + palette[min(lo + 1, len(palette) - 1)] * t
    return tuple(np.clip(c + rng.normal(0, jitter, 3), 0, 1).tolist())


def sample_identity(index: int, local_names: list[str], seed: int = 0) -> Identity:
    """The identity number ``index`` (deterministic for a given ``seed``)."""
    rng = np.random.default_rng([seed, index])
    body = {
        "gender": rng.uniform(0, 1), "age": rng.uniform(0.45, 0.85), "muscle": rng.uniform(0.2, 0.8),
        "weight": rng.uniform(0.2, 0.8), "proportions": rng.uniform(0.0, 0.6),
    }
    face = [n for n in local_names if n.removeprefix("l-").removeprefix("r-").startswith(FACE_REGIONS)]
    for n in rng.choice(face, size=min(30, len(face)), replace=False):
        body[str(n)] = float(rng.uniform(-0.7, 0.7))
    h, s, v = rng.uniform(0, 1), rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.95)
    skin = _mix(rng, _SKIN, 0.02)
    lips = tuple(np.clip(np.array(skin) * [0.9, 0.62, 0.62] + rng.normal(0, 0.03, 3), 0, 1).tolist())
    theta, phi = rng.uniform(-0.8, 0.8), rng.uniform(-0.7, 0.3)
    light = np.array([np.sin(theta) * np.cos(phi), np.sin(phi), -np.cos(theta) * np.cos(phi)])
    look = Look(
        skin=skin, iris=_mix(rng, _IRIS, 0.05), hair=_mix(rng, _HAIR, 0.05),
        cloth=tuple(colorsys.hsv_to_rgb(h, s, v)), lips=lips, toon=bool(rng.uniform() < 0.5),
        hairline=float(rng.uniform(0.035, 0.07)), fringe=float(rng.choice([0.0, rng.uniform(0.005, 0.03)])),
        side_hair=float(rng.uniform(-0.02, 0.08)), thickness=float(rng.uniform(0.004, 0.02)),
        neckline=float(rng.uniform(0.02, 0.12)), light=tuple(light.tolist()), zoom=float(rng.uniform(0.34, 0.40)),
    )
    return Identity(index=index, body={k: float(v) for k, v in body.items()}, look=look)
