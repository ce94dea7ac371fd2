"""Render a trained avatar in new poses and views, to frames or an MP4.

Camera specs (:func:`parse_camera`):

* ``None`` / ``"train"``: the avatar's first training camera (rescaled to the output size);
* ``"AZ"``, ``"AZ,EL"`` or ``"AZ,EL,DIST"``: degrees of azimuth about +Y (0 = in front of the
  body, on +Z), degrees of elevation, metres from the target point (0, 0.82, 0) -- the ring of
  :func:`.data_synthetic.ring_cameras`;
* ``"orbit"``: the ring camera turning a full circle over the clip.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

from avatarforge.errors import UserInputError
from avatarforge.neural.bones import rasterize_bones
from avatarforge.neural.dataset import camera_from_row
from avatarforge.neural.infer import render_image
from avatarforge.neural.motion import Motion
from avatarforge.neural.train import Avatar
from avatarforge.render import Camera

__all__ = ["CameraPath", "parse_camera", "render_frames", "render_video", "measure_fps", "measure_render_speed",
           "RenderSpeed"]

_DEFAULT_ELEVATION = 10.0
_DEFAULT_DISTANCE = 2.9


@dataclass
class CameraPath:
    """A camera per frame: fixed, or an orbit."""

    spec: str | None
    """The spec string it was parsed from."""
    azimuth: float | None = None
    elevation: float = _DEFAULT_ELEVATION
    distance: float = _DEFAULT_DISTANCE
    orbit: bool = False

    def camera(self, avatar: Avatar, frame: int, n_frames: int, size: tuple[int, int]) -> Camera:
        from avatarforge.neural.data_synthetic import ring_cameras

        h, w = size
        if self.azimuth is None and not self.orbit:
            # The training intrinsics are in pixels of the training size: rescale them.
            return camera_from_row(avatar.camera_row, w, h, scale=h / avatar.size[0])
        az = 360.0 * frame / max(n_frames, 1) if self.orbit else float(self.azimuth)
        fov = 38.0
        cam = ring_cameras([az], self.elevation, self.distance, h, fov)[0]
        return Camera(cam.R, cam.t, w, h, cam.fx, cam.fy, w / 2, h / 2)


def parse_camera(spec: str | None) -> CameraPath:
    """A :class:`CameraPath` from a spec string (see the module docstring)."""
    if spec is None or spec.strip().lower() in ("", "train"):
        return CameraPath(spec)
    s = spec.strip().lower()
    if s == "orbit":
        return CameraPath(spec, orbit=True)
    try:
        vals = [float(x) for x in s.split(",")]
    except ValueError:
        raise UserInputError(f"--camera {spec!r}: use 'train', 'orbit' or 'AZ[,EL[,DIST]]' in degrees/metres") from None
    if not 1 <= len(vals) <= 3 or not all(np.isfinite(vals)):
        raise UserInputError(f"--camera {spec!r}: use 'train', 'orbit' or 'AZ[,EL[,DIST]]' in degrees/metres")
    path = CameraPath(spec, azimuth=vals[0])
    if len(vals) > 1:
        if not -89 <= vals[1] <= 89:
            raise UserInputError(f"--camera {spec!r}: elevation must be within [-89, 89] degrees")
        path.elevation = vals[1]
    if len(vals) > 2:
        if not vals[2] > 0.3:
            raise UserInputError(f"--camera {spec!r}: distance must be more than 0.3 m")
        path.distance = vals[2]
    return path


def _check_size(size: tuple[int, int], avatar: Avatar) -> None:
    mult = 2 ** avatar.model.config.depth
    if size[0] % mult or size[1] % mult or min(size) < mult:
        raise UserInputError(f"output size must be a positive multiple of {mult}, got {size[1]}x{size[0]}")


def render_frames(
    avatar: Avatar, motion: Motion, camera: CameraPath | None = None, size: tuple[int, int] | None = None,
    background: tuple[float, float, float] | None = None,
) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 frames of ``avatar`` following ``motion`` seen along ``camera``."""
    size = tuple(size or avatar.size)
    _check_size(size, avatar)
    path = camera or CameraPath(None)
    bg = avatar.background if background is None else torch.tensor(background, dtype=torch.float32)
    # The line width is a fraction of the height: keep the training line width in pixels per
    # unit of image, i.e. the same fraction.
    avatar.model.eval()
    n = len(motion)
    for i in range(n):
        cam = path.camera(avatar, i, n, size)
        bones = rasterize_bones(motion.joints[i], cam, thickness=avatar.thickness)
        # The fused inference path (neural.infer): the same image as
        # float_to_uint8(model(bones, bg).rgb.clamp(0, 1)) up to a level at a few pixels.
        yield render_image(avatar.model, bones, bg)


def render_video(avatar: Avatar, motion: Motion, out, camera: CameraPath | None = None,
                 size: tuple[int, int] | None = None) -> int:
    """Render to an H.264 MP4 at the motion's frame rate; returns the frame count."""
    from avatarforge.util.video import write_mp4

    frames = list(render_frames(avatar, motion, camera, size))
    write_mp4(out, frames, fps=motion.fps)
    return len(frames)


@dataclass
class RenderSpeed:
    """Rendering speed of :func:`render_frames` (bone rasterisation + network + compositing)."""

    fps: float
    """Frames per second of wall-clock time."""
    cpu_ms: float
    """Process CPU milliseconds per frame (all threads): what a loaded machine changes least."""
    frames: int


def measure_render_speed(avatar: Avatar, motion: Motion, size: tuple[int, int] = (256, 256),
                         camera: CameraPath | None = None, warmup: int = 2) -> RenderSpeed:
    """Time :func:`render_frames` over ``motion`` after ``warmup`` frames (compilation, caches)."""
    it = render_frames(avatar, motion, camera, size)
    for _ in range(min(warmup, len(motion) - 1)):
        next(it)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in it)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return RenderSpeed(n / max(wall, 1e-9), 1e3 * cpu / max(n, 1), n)


def measure_fps(avatar: Avatar, motion: Motion, size: tuple[int, int] = (256, 256), camera: CameraPath | None = None,
                warmup: int = 2) -> float:
    """Frames per second of :func:`render_frames` (bone rasterisation + network + compositing)."""
    return measure_render_speed(avatar, motion, size, camera, warmup).fps
