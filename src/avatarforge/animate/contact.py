"""Root translation and foot contact: the hips follow the tracked pelvis, a planted foot stays put.

The root joint moves by the tracked pelvis's displacement from its median position, scaled
by the avatar's leg length over the tracked one. A foot is *planted* while its tracked ankle
is within ``height_tol`` of its lowest height in the clip and slower than ``speed_tol``;
while planted, its horizontal position is locked where it landed and its height held on the
avatar's ground (the rest pose's ankle height): the root translation absorbs the difference
(averaged over both feet when both are planted), so the feet do not slide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float

from avatarforge.neural.skeleton import KEYPOINTS

__all__ = ["FootContactConfig", "foot_contacts", "root_translation", "lock_feet", "level_keypoints", "FOOT_KEYPOINTS",
           "FOOT_JOINTS"]

FOOT_KEYPOINTS = ("ankle.L", "ankle.R")
FOOT_JOINTS = ("foot.L", "foot.R")


@dataclass
class FootContactConfig:
    """When a foot counts as planted."""

    height_tol: float = 0.05
    """Metres above the foot's lowest tracked height (5th percentile) still on the ground."""
    speed_tol: float = 0.4
    """Metres per second: a faster foot is moving."""
    min_frames: int = 3
    """Shorter contact runs are ignored."""
    max_y_step: float = 0.01
    """Largest change of the vertical correction per frame (metres): no pops on landing."""


def foot_contacts(kp: Float[np.ndarray, "F K 3"], fps: float, config: FootContactConfig | None = None
                  ) -> Bool[np.ndarray, "F 2"]:
    """(F, 2) planted flags of the left and right foot from the tracked keypoints."""
    cfg = config or FootContactConfig()
    idx = [KEYPOINTS.index(k) for k in FOOT_KEYPOINTS]
    ankles = kp[:, idx]  # (F, 2, 3)
    if len(kp) < 2:
        return np.zeros((len(kp), 2), bool)
    speed = np.linalg.norm(np.gradient(ankles, axis=0), axis=-1) * fps
    low = np.percentile(ankles[..., 1], 5, axis=0)
    out = (ankles[..., 1] - low < cfg.height_tol) & (speed < cfg.speed_tol)
    for k in range(2):  # drop short runs
        run = 0
        for i in range(len(out) + 1):
            if i < len(out) and out[i, k]:
                run += 1
                continue
            if 0 < run < cfg.min_frames:
                out[i - run : i, k] = False
            run = 0
    return out


def root_translation(kp: Float[np.ndarray, "F K 3"], rest_kp: Float[np.ndarray, "K 3"]) -> Float[np.ndarray, "F 3"]:
    """The root's displacement: the tracked pelvis's offset from its median, scaled to the
    avatar's leg length (hip -> knee -> ankle, both sides)."""
    def leg(p: np.ndarray) -> np.ndarray | float:
        total = 0.0
        for s in "LR":
            a, b, c = (p[..., KEYPOINTS.index(f"{n}.{s}"), :] for n in ("hip", "knee", "ankle"))
            total = total + np.linalg.norm(b - a, axis=-1) + np.linalg.norm(c - b, axis=-1)
        return total

    tracked = float(np.median(leg(kp)))
    scale = float(leg(rest_kp)) / tracked if tracked > 1e-6 else 1.0
    pelvis = kp[:, KEYPOINTS.index("pelvis")]
    return scale * (pelvis - np.median(pelvis, axis=0))


def lock_feet(feet: Float[np.ndarray, "F 2 3"], raw: Float[np.ndarray, "F 3"], contacts: Bool[np.ndarray, "F 2"],
              ground: Float[np.ndarray, " 2"], config: FootContactConfig | None = None) -> Float[np.ndarray, "F 3"]:
    """Root translation per frame: ``raw`` corrected so that planted feet stay where they
    landed. ``feet``: the avatar's ankle joints per frame with no root translation;
    ``ground``: each ankle's height when standing (its rest height)."""
    cfg = config or FootContactConfig()
    out = np.empty_like(raw)
    offset = np.zeros(3)
    locks: list[np.ndarray | None] = [None, None]
    for t in range(len(raw)):
        pos = feet[t] + raw[t] + offset
        planted = [k for k in range(2) if contacts[t, k]]
        for k in range(2):
            if k not in planted:
                locks[k] = None
            elif locks[k] is None:
                locks[k] = np.array([pos[k, 0], ground[k], pos[k, 2]])
        if planted:
            d = np.mean([locks[k] - pos[k] for k in planted], axis=0)
            offset[[0, 2]] += d[[0, 2]]
            offset[1] += float(np.clip(d[1], -cfg.max_y_step, cfg.max_y_step))
        else:
            offset[1] -= float(np.clip(offset[1], -cfg.max_y_step, cfg.max_y_step))  # ease back
        out[t] = raw[t] + offset
    return out


def level_keypoints(kp: Float[np.ndarray, "F K 3"], valid: Bool[np.ndarray, " F"]) -> Float[np.ndarray, "F K 3"]:
    """The keypoints turned (about the median pelvis) so that the performer's median body axis
    (mid-ankles -> neck) is vertical: a tilted or rolled camera does not make the avatar lean."""
    from scipy.spatial.transform import Rotation

    if not valid.any():
        return kp
    neck, pelvis = kp[:, KEYPOINTS.index("neck")], kp[:, KEYPOINTS.index("pelvis")]
    ankles = (kp[:, KEYPOINTS.index("ankle.L")] + kp[:, KEYPOINTS.index("ankle.R")]) / 2
    axis = neck[valid] - ankles[valid]
    up = np.median(axis / np.maximum(np.linalg.norm(axis, axis=1, keepdims=True), 1e-9), axis=0)
    up /= max(float(np.linalg.norm(up)), 1e-9)
    r, _ = Rotation.align_vectors([[0.0, 1.0, 0.0]], [up])
    centre = np.median(pelvis[valid], axis=0)
    return (kp - centre) @ r.as_matrix().T + centre
