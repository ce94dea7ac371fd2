"""Body region of an Anny/MakeHuman local-change name, for grouping controls."""

from __future__ import annotations

__all__ = ["region_of", "REGIONS"]

REGIONS = ("head", "face", "neck", "torso", "hips", "arms", "hands", "legs", "feet")

# First matching keyword wins; checked against the name without its l-/r-/measure- prefix.
_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("face", ("cheek", "chin", "ear", "eyebrows", "eye", "mouth", "nose", "forehead")),
    ("head", ("head",)),
    ("neck", ("neck", "napetowaist")),
    ("hands", ("hand", "wrist", "finger")),
    ("arms", ("upperarm", "lowerarm", "shoulder")),
    ("feet", ("foot", "ankle")),
    ("legs", ("upperleg", "lowerleg", "leg", "calf", "knee", "thigh")),
    ("hips", ("hip", "buttocks", "pelvis", "bulge", "waisttohip")),
    ("torso", ("torso", "breast", "stomach", "bust", "underbust", "waist", "chest")),
)


def region_of(name: str) -> str:
    """Region of a local change, e.g. ``nose-hump-incr`` -> ``face``; ``other`` if none fits."""
    stem = name
    for prefix in ("l-", "r-", "measure-"):
        if stem.startswith(prefix):
            stem = stem[len(prefix):]
    first = stem.split("-")[0]
    for region, words in _KEYWORDS:
        if first in words or any(first.startswith(w) for w in words):
            return region
    return "other"
