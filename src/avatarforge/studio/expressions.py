"""Named facial expressions: built-in presets and the user's own, saved as JSON files.

An expression is a mapping from ARKit facial-action names to weights in [0, 1]; actions not
named are 0. Saved expressions live in ``<output dir>/expressions/<name>.json``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path

from avatarforge.errors import UserInputError
from avatarforge.util.atomic import atomic_write_text

__all__ = ["EXPRESSION_PRESETS", "EXPRESSION_FORMAT", "save_expression", "load_expressions", "safe_name"]

EXPRESSION_FORMAT = "avatarforge.expression/1"


def _both(stem: str, weight: float) -> dict[str, float]:
    return {f"{stem}Left": weight, f"{stem}Right": weight}


#: Built-in presets (weights chosen by eye on the Anny face).
EXPRESSION_PRESETS: dict[str, dict[str, float]] = {
    "neutral": {},
    "smile": {**_both("mouthSmile", 0.85), **_both("cheekSquint", 0.35), **_both("eyeSquint", 0.2),
              **_both("mouthDimple", 0.3)},
    "surprise": {"browInnerUp": 0.85, **_both("browOuterUp", 0.8), **_both("eyeWide", 0.75), "jawOpen": 0.45,
                 "mouthFunnel": 0.2},
    "anger": {**_both("browDown", 0.9), **_both("eyeSquint", 0.45), **_both("noseSneer", 0.6),
              **_both("mouthPress", 0.5), **_both("mouthFrown", 0.4), "jawForward": 0.15},
    "blink": {**_both("eyeBlink", 1.0)},
}

_NAME_RE = re.compile(r"[^A-Za-z0-9_-]+")


def safe_name(name: str) -> str:
    """A file-name-safe version of a user-typed expression name (letters, digits, - and _)."""
    stem = _NAME_RE.sub("-", name.strip()).strip("-_")[:48]
    if not stem:
        raise UserInputError(f"expression name {name!r} has no usable characters: use letters or digits")
    return stem


def save_expression(outdir: str | os.PathLike, name: str, expression: Mapping[str, float],
                    action_names: list[str]) -> Path:
    """Write ``<outdir>/expressions/<safe name>.json`` (non-zero weights only); returns its path."""
    unknown = [k for k in expression if k not in action_names]
    if unknown:
        raise UserInputError(f"{unknown[0]!r} is not a facial action")
    weights = {k: round(float(v), 4) for k, v in expression.items() if float(v) != 0.0}
    path = Path(outdir) / "expressions" / f"{safe_name(name)}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"format": EXPRESSION_FORMAT, "name": path.stem, "weights": weights},
                                       indent=1))
    return path


def load_expressions(outdir: str | os.PathLike, action_names: list[str]) -> dict[str, dict[str, float]]:
    """The expressions saved in ``<outdir>/expressions`` (unreadable or invalid files are skipped)."""
    folder = Path(outdir) / "expressions"
    out: dict[str, dict[str, float]] = {}
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(path.read_text())
            weights = data["weights"]
            if data.get("format") != EXPRESSION_FORMAT or not isinstance(weights, dict):
                continue
            clean = {str(k): float(v) for k, v in weights.items()}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if all(k in action_names and math.isfinite(v) and 0.0 <= v <= 1.0 for k, v in clean.items()):
            out[path.stem] = clean
    return out
