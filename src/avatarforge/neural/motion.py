"""Motions that drive an avatar, and the MOTION.json format.

MOTION.json (UTF-8 JSON, one object)::

    {
      "format": "avatarforge-motion",   # required
      "version": 1,                     # required
      "fps": 25,                        # frames per second of playback (default 25)
      "keypoints": ["pelvis", ...],     # optional; if given it must equal skeleton.KEYPOINTS
      "joints": [[[x, y, z], ...], ...] # per frame, one [x, y, z] per keypoint
    }

or, instead of ``"joints"``, ``"poses": [{"pose.upperarm01.L.z": 40.0, ...}, ...]``: per frame
the body model's pose parameters (degrees, see ``avatarforge body`` / :mod:`avatarforge.bodies`),
turned into keypoints with the default body. Joints are world metres, +Y up, the body faces
+Z, the soles near y = 0 (avatarforge's frame); a tracked video's motion is written in that
frame by :mod:`.data_video`.

Presets (:data:`MOTION_PRESETS`) are pose-parameter sequences built here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.errors import UserInputError
from avatarforge.neural.skeleton import KEYPOINTS, anny_keypoints

__all__ = [
    "Motion", "MOTION_PRESETS", "motion_preset", "random_poses", "keypoints_from_poses", "load_motion",
    "save_motion", "MOTION_FORMAT",
]

MOTION_FORMAT = "avatarforge-motion"
MOTION_PRESETS = ("walk", "wave", "squat", "turn", "dance")


@dataclass
class Motion:
    """A keypoint sequence to render."""

    joints: Float[np.ndarray, "T K 3"]
    """World keypoints per frame (:data:`.skeleton.KEYPOINTS`), metres, +Y up, facing +Z."""
    fps: float = 25.0
    """Playback rate."""

    def __len__(self) -> int:
        return int(self.joints.shape[0])


def keypoints_from_poses(poses: Sequence[Mapping[str, float]], body=None, chunk: int = 64) -> np.ndarray:
    """(T, K, 3) keypoints of the default body in each pose (dicts of ``pose.*`` values)."""
    from avatarforge.bodies import load_body

    body = body or load_body()
    base = body.tensors_from_params({})
    rots = []
    for i, p in enumerate(poses):
        bad = [k for k in p if not k.startswith("pose.")]
        if bad:
            raise UserInputError(f"motion frame {i}: only pose.* parameters are allowed, got {bad[0]!r}")
        rots.append(body.tensors_from_params(p)["pose"])
    if not rots:
        raise UserInputError("the motion has no frames")
    out = []
    with torch.no_grad():
        for s in range(0, len(rots), chunk):
            pose = torch.cat(rots[s : s + chunk])
            o = body(base["phenotype"], base["local"], base["expression"], pose=pose)
            out.append(anny_keypoints(o.joints, o.joint_names))
    return torch.cat(out).numpy().astype(np.float64)


def _sided(values: dict[str, float], joint: str, axis: str, left: float, right: float) -> None:
    values[f"pose.{joint}.L.{axis}"] = left
    values[f"pose.{joint}.R.{axis}"] = right


def motion_preset(name: str, n_frames: int = 50) -> list[dict[str, float]]:
    """Pose-parameter frames of a preset motion (one cycle over ``n_frames``)."""
    key = name.lower()
    if key not in MOTION_PRESETS:
        raise UserInputError(f"unknown motion preset {name!r}: choose one of {', '.join(MOTION_PRESETS)}")
    if n_frames < 1:
        raise UserInputError("a motion needs at least one frame")
    frames = []
    for i in range(n_frames):
        s = math.sin(2 * math.pi * i / n_frames)
        c = math.cos(2 * math.pi * i / n_frames)
        v: dict[str, float] = {}
        if key == "walk":
            _sided(v, "upperleg01", "x", -30 * s, 30 * s)
            _sided(v, "lowerleg01", "x", 30 * max(s, 0) + 5, 30 * max(-s, 0) + 5)
            _sided(v, "upperarm01", "x", 25 * s, -25 * s)
            _sided(v, "lowerarm01", "x", -20, -20)
        elif key == "wave":
            v["pose.upperarm01.R.z"] = -100.0
            v["pose.lowerarm01.R.z"] = -40 + 30 * s
            v["pose.head.y"] = 10 * s
        elif key == "squat":
            d = 0.5 - 0.5 * c
            _sided(v, "upperleg01", "x", -70 * d, -70 * d)
            _sided(v, "lowerleg01", "x", 100 * d, 100 * d)
            v["pose.spine03.x"] = 25 * d
            _sided(v, "upperarm01", "x", -70 * d, -70 * d)
        elif key == "turn":
            v["pose.root.y"] = 360.0 * i / n_frames - 180.0
            _sided(v, "upperarm01", "z", 20, -20)
        elif key == "dance":
            _sided(v, "upperarm01", "z", 60 + 30 * s, -60 + 30 * s)
            _sided(v, "lowerarm01", "x", -60 * max(c, 0), -60 * max(-c, 0))
            v["pose.spine03.z"] = 10 * s
            v["pose.root.y"] = 25 * c
            _sided(v, "upperleg01", "z", 10 * max(s, 0), -10 * max(-s, 0))
        frames.append(v)
    return frames


# Degrees-of-freedom of random poses: (parameter, low, high); "*.L" entries are mirrored
# for ".R" (z and y angles negated) with their own random phase.
_RANDOM_DOFS = (
    ("pose.root.y", -45, 45), ("pose.spine03.y", -20, 20), ("pose.spine03.x", -10, 25), ("pose.head.y", -30, 30),
    ("pose.upperarm01.L.z", -20, 90), ("pose.upperarm01.L.x", -70, 40), ("pose.lowerarm01.L.x", -110, 0),
    ("pose.upperleg01.L.x", -55, 25), ("pose.upperleg01.L.z", -5, 25), ("pose.lowerleg01.L.x", 0, 90),
)


def random_poses(rng: np.random.Generator, n_sequences: int, frames_per_sequence: int) -> list[dict[str, float]]:
    """Smooth random motions: each degree of freedom follows a sinusoid of random frequency,
    phase and range within anatomical-ish limits, per sequence."""
    out = []
    for _ in range(n_sequences):
        params = []
        for name, lo, hi in _RANDOM_DOFS:
            sides = [name] if ".L." not in name else [name, name.replace(".L.", ".R.")]
            for k, n in enumerate(sides):
                a, b = sorted(rng.uniform(lo, hi, 2))
                sign = -1.0 if (k == 1 and (n.endswith(".z") or n.endswith(".y"))) else 1.0
                params.append((n, a, b, rng.uniform(0.3, 1.5), rng.uniform(0, 2 * math.pi), sign))
        for i in range(frames_per_sequence):
            t = i / max(frames_per_sequence, 1)
            v = {}
            for n, a, b, f, ph, sign in params:
                v[n] = sign * (a + (b - a) * (0.5 + 0.5 * math.sin(2 * math.pi * f * t + ph)))
            out.append(v)
    return out


def save_motion(path: str | Path, motion: Motion) -> Path:
    """Write ``motion`` as MOTION.json (joints form)."""
    from avatarforge.util.atomic import atomic_write_text

    doc = {"format": MOTION_FORMAT, "version": 1, "fps": float(motion.fps), "keypoints": list(KEYPOINTS),
           "joints": np.round(np.asarray(motion.joints, np.float64), 5).tolist()}
    return atomic_write_text(path, json.dumps(doc))


def load_motion(source: str | Path, n_frames: int = 50, fps: float = 25.0) -> Motion:
    """A motion from a MOTION.json path or a preset name (:data:`MOTION_PRESETS`)."""
    if str(source).lower() in MOTION_PRESETS and not Path(source).exists():
        return Motion(keypoints_from_poses(motion_preset(str(source), n_frames)), fps)
    p = Path(source)
    if not p.is_file():
        raise UserInputError(f"motion {source}: no such file and not a preset ({', '.join(MOTION_PRESETS)})")
    try:
        doc = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{p}: not a JSON motion file ({exc})") from None
    if not isinstance(doc, dict) or doc.get("format") != MOTION_FORMAT or doc.get("version") != 1:
        raise UserInputError(f"{p}: not a motion file (needs \"format\": \"{MOTION_FORMAT}\", \"version\": 1)")
    fps = float(doc.get("fps", fps))
    if not fps > 0:
        raise UserInputError(f"{p}: fps must be positive")
    if ("joints" in doc) == ("poses" in doc):
        raise UserInputError(f"{p}: give exactly one of \"joints\" and \"poses\"")
    if "poses" in doc:
        if not isinstance(doc["poses"], list) or not all(isinstance(f, dict) for f in doc["poses"]):
            raise UserInputError(f"{p}: \"poses\" must be a list of {{parameter: degrees}} objects")
        return Motion(keypoints_from_poses(doc["poses"]), fps)
    if "keypoints" in doc and list(doc["keypoints"]) != list(KEYPOINTS):
        raise UserInputError(f"{p}: keypoints must be {list(KEYPOINTS)}")
    try:
        joints = np.asarray(doc["joints"], dtype=np.float64)
    except (TypeError, ValueError):
        raise UserInputError(f"{p}: \"joints\" must be frames of [x, y, z] per keypoint") from None
    if joints.ndim != 3 or joints.shape[1:] != (len(KEYPOINTS), 3) or len(joints) == 0:
        raise UserInputError(f"{p}: \"joints\" must have shape (frames, {len(KEYPOINTS)}, 3), got {joints.shape}")
    if not np.isfinite(joints).all():
        raise UserInputError(f"{p}: \"joints\" holds non-finite values")
    return Motion(joints, fps)
