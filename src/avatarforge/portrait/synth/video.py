"""A synthetic "webcam" face video for driving tests and demos (no real face video is bundled).

The embedded body is rendered with realistic shading from a perspective camera, over a plain
background, while the six pose values follow smooth curves; the true poses are returned.
"""

from __future__ import annotations

import math

import numpy as np

from avatarforge.portrait.pose import TalkingPose
from avatarforge.portrait.synth.identity import Identity, Look

__all__ = ["driver_identity", "driving_poses", "render_driving_frames"]


def driver_identity() -> Identity:
    """A fixed, plainly styled adult (realistic shading, short dark hair)."""
    look = Look(skin=(0.87, 0.70, 0.60), iris=(0.35, 0.25, 0.15), hair=(0.12, 0.08, 0.06), cloth=(0.2, 0.3, 0.5),
                lips=(0.75, 0.45, 0.42), toon=False, hairline=0.06, fringe=0.0, side_hair=-0.02, thickness=0.006,
                neckline=0.08, light=(0.0, -0.3, -1.0), zoom=0.37)
    return Identity(index=-1, body={"gender": 0.3, "age": 0.6}, look=look)


def driving_poses(n: int) -> list[TalkingPose]:
    """``n`` poses: a blink, an open mouth, head turns and tilts, one after another."""
    out = []
    for i in range(n):
        t = i / max(n - 1, 1)
        bump = lambda c, w, t=t: math.exp(-(((t - c) / w) ** 2))  # noqa: E731
        out.append(TalkingPose.clipped(
            head_x=0.8 * math.sin(2 * math.pi * t) * bump(0.75, 0.12),
            head_y=0.9 * math.sin(2 * math.pi * t * 2) * bump(0.5, 0.12),
            neck_z=0.8 * bump(0.9, 0.05),
            left_eye=bump(0.15, 0.05), right_eye=bump(0.15, 0.05), mouth=bump(0.32, 0.07),
        ))
    return out


def render_driving_frames(poses: list[TalkingPose], size: int = 320, renderer=None) -> list[np.ndarray]:
    """RGB uint8 frames of :func:`driver_identity` in each pose (grey background)."""
    from avatarforge.portrait.synth.render import PortraitRenderer
    from avatarforge.render import Camera

    r = renderer or PortraitRenderer(size=size, supersample=2)
    ident = driver_identity()
    fr = r._frame(ident)
    n = size * r.ss
    c = np.array([0.0, fr.eye_y - 0.02, 0.1])
    cam = Camera.look_at(eye=c + [0, 0, 0.75], target=c, width=n, height=n, fov_y_deg=25.0)
    frames = []
    for p in poses:
        rgba = r.render(ident, p, camera=cam).astype(np.float32)
        a = rgba[..., 3:] / 255
        frames.append(np.round(rgba[..., :3] * a + np.float32(90) * (1 - a)).astype(np.uint8))
    return frames
