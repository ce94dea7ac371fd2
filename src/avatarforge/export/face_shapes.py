"""Facial shapes the export composes from the 52 ARKit blend shapes: the 15 Oculus/Meta
visemes (lip-sync) and VRM 1.0's expression presets.

Each shape is a weighted sum of ARKit shapes (data below); the blend shapes are linear, so
a composed morph target is exactly that sum of deltas. Recipes follow the mouth shapes of
the visemes' reference chart (lips closed for PP, lower lip under the teeth for FF, tongue
out for TH, ...) with the shapes Anny has (there is no separate teeth or tongue rig).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "ARKIT_BLENDSHAPES",
    "OCULUS_VISEMES",
    "VISEME_PREFIX",
    "VISEME_RECIPES",
    "VRM_EXPRESSION_RECIPES",
    "VRM_VISEME_EXPRESSIONS",
    "compose",
]

#: Apple ARKit's 52 ``ARFaceAnchor.BlendShapeLocation`` names (the morph target names).
ARKIT_BLENDSHAPES = (
    "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight",
    "eyeBlinkLeft", "eyeBlinkRight", "eyeLookDownLeft", "eyeLookDownRight", "eyeLookInLeft", "eyeLookInRight",
    "eyeLookOutLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight", "eyeSquintLeft", "eyeSquintRight",
    "eyeWideLeft", "eyeWideRight",
    "jawForward", "jawLeft", "jawOpen", "jawRight",
    "mouthClose", "mouthDimpleLeft", "mouthDimpleRight", "mouthFrownLeft", "mouthFrownRight", "mouthFunnel",
    "mouthLeft", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthPressLeft", "mouthPressRight", "mouthPucker",
    "mouthRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthSmileLeft",
    "mouthSmileRight", "mouthStretchLeft", "mouthStretchRight", "mouthUpperUpLeft", "mouthUpperUpRight",
    "noseSneerLeft", "noseSneerRight", "tongueOut",
)

#: The 15 Oculus (Meta) lip-sync visemes, in their reference order.
OCULUS_VISEMES = ("sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "ih", "oh", "ou")
#: Morph target names are ``viseme_<name>`` (Oculus LipSync / Ready Player Me convention).
VISEME_PREFIX = "viseme_"


def _both(stem: str, w: float) -> dict[str, float]:
    return {f"{stem}Left": w, f"{stem}Right": w}


#: Viseme -> {ARKit shape: weight}. ``sil`` (silence) is the neutral face.
VISEME_RECIPES: dict[str, dict[str, float]] = {
    "sil": {},
    "PP": {"mouthClose": 0.2, "mouthRollLower": 0.3, "mouthRollUpper": 0.3, **_both("mouthPress", 0.6)},
    "FF": {"jawOpen": 0.1, "mouthRollLower": 0.6, **_both("mouthUpperUp", 0.3)},
    "TH": {"jawOpen": 0.2, "tongueOut": 0.4, **_both("mouthUpperUp", 0.1)},
    "DD": {"jawOpen": 0.25, **_both("mouthStretch", 0.2), **_both("mouthLowerDown", 0.1)},
    "kk": {"jawOpen": 0.3, **_both("mouthStretch", 0.3)},
    "CH": {"jawOpen": 0.15, "mouthFunnel": 0.5, "mouthPucker": 0.3, **_both("mouthUpperUp", 0.2)},
    "SS": {"jawOpen": 0.05, **_both("mouthStretch", 0.5), **_both("mouthSmile", 0.2)},
    "nn": {"jawOpen": 0.2, **_both("mouthStretch", 0.2), "mouthClose": 0.1},
    "RR": {"jawOpen": 0.2, "mouthFunnel": 0.4, "mouthPucker": 0.25},
    "aa": {"jawOpen": 0.7, **_both("mouthLowerDown", 0.3)},
    "E": {"jawOpen": 0.3, **_both("mouthStretch", 0.5), **_both("mouthUpperUp", 0.1)},
    "ih": {"jawOpen": 0.2, **_both("mouthStretch", 0.3), **_both("mouthSmile", 0.2)},
    "oh": {"jawOpen": 0.45, "mouthFunnel": 0.6, "mouthPucker": 0.1},
    "ou": {"jawOpen": 0.2, "mouthPucker": 0.9, "mouthFunnel": 0.3},
}

#: VRM's five vowel presets drive the matching viseme target (one bind each).
VRM_VISEME_EXPRESSIONS = {"aa": "aa", "ih": "ih", "ou": "ou", "ee": "E", "oh": "oh"}

#: VRM 1.0 expression presets (other than the vowels) -> {ARKit shape: weight}. ``lookLeft``
#: is the avatar looking to its own left: its left eye looks out, its right eye in.
VRM_EXPRESSION_RECIPES: dict[str, dict[str, float]] = {
    "happy": {**_both("mouthSmile", 1.0), **_both("cheekSquint", 0.6), **_both("eyeSquint", 0.3)},
    "angry": {**_both("browDown", 1.0), **_both("mouthFrown", 0.5), **_both("noseSneer", 0.4),
              **_both("eyeSquint", 0.4), **_both("mouthPress", 0.3)},
    "sad": {"browInnerUp": 1.0, **_both("mouthFrown", 0.8), "mouthShrugLower": 0.4, **_both("eyeSquint", 0.2)},
    "relaxed": {**_both("mouthSmile", 0.45), **_both("eyeBlink", 0.3), **_both("cheekSquint", 0.2)},
    "surprised": {**_both("eyeWide", 1.0), "browInnerUp": 0.8, **_both("browOuterUp", 0.8), "jawOpen": 0.35,
                  "mouthFunnel": 0.2},
    "blink": _both("eyeBlink", 1.0),
    "blinkLeft": {"eyeBlinkLeft": 1.0},
    "blinkRight": {"eyeBlinkRight": 1.0},
    "lookUp": _both("eyeLookUp", 1.0),
    "lookDown": _both("eyeLookDown", 1.0),
    "lookLeft": {"eyeLookOutLeft": 1.0, "eyeLookInRight": 1.0},
    "lookRight": {"eyeLookInLeft": 1.0, "eyeLookOutRight": 1.0},
    "neutral": {},
}


def compose(
    recipes: Mapping[str, Mapping[str, float]], names: Sequence[str], deltas: np.ndarray
) -> np.ndarray:
    """(R, V, 3) float32 deltas of each recipe: sum of weight * the named shape's (V, 3) delta.

    ``names``/``deltas`` are the available shapes ((M,) names, (M, V, 3)); a recipe naming a
    shape that is not there raises ``KeyError``.
    """
    index = {n: i for i, n in enumerate(names)}
    weights = np.zeros((len(recipes), len(names)), dtype=np.float64)
    for r, recipe in enumerate(recipes.values()):
        for shape, w in recipe.items():
            if shape not in index:
                raise KeyError(f"shape {shape!r} is not among the morph targets")
            weights[r, index[shape]] = w
    # r: recipe, m: source shape, v: vertex, c: xyz
    return np.einsum("rm,mvc->rvc", weights, np.asarray(deltas, np.float64)).astype(np.float32)
