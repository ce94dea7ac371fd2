"""Read and write videos: frames in as RGB uint8 arrays, MP4 (H.264, yuv420p) out.

Reading goes through OpenCV (its wheel bundles FFmpeg); writing through the FFmpeg binary
that ships inside ``imageio-ffmpeg``, because OpenCV's wheels carry no H.264 encoder and
browsers and phones only play H.264 MP4 reliably. Both work offline.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.util.atomic import atomic_path
from avatarforge.util.colour import float_to_uint8

__all__ = ["VideoInfo", "probe_video", "read_frames", "write_mp4", "VIDEO_SUFFIXES"]

#: File suffixes accepted as video input.
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")


@dataclass(frozen=True)
class VideoInfo:
    """What a video file holds."""

    width: int
    height: int
    fps: float
    #: Frame count from the container (may be an estimate; 0 when unknown).
    n_frames: int


def _open(path: str | os.PathLike[str]):
    import cv2

    p = Path(path)
    if not p.exists():
        raise UserInputError(f"video not found: {p}")
    if p.is_dir():
        raise UserInputError(f"{p} is a directory; give a video file (.mp4, .mov, ...)")
    if p.stat().st_size == 0:
        raise UserInputError(f"{p} is empty; give a video file (.mp4, .mov, ...)")
    cap = cv2.VideoCapture(str(p))
    if not cap.isOpened():
        cap.release()
        raise UserInputError(f"cannot read {p} as a video; give an .mp4/.mov/.avi/.mkv/.webm file")
    return cap


def probe_video(path: str | os.PathLike[str]) -> VideoInfo:
    """Size, frame rate and frame count of a video; a clear error if it is not one."""
    import cv2

    cap = _open(path)
    try:
        w = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        h = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        fps = float(cap.get(cv2.CAP_PROP_FPS)) or 25.0
        n = max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    finally:
        cap.release()
    if w <= 0 or h <= 0:
        raise UserInputError(f"{path} holds no video stream; give a video file (.mp4, .mov, ...)")
    return VideoInfo(width=w, height=h, fps=fps if np.isfinite(fps) and fps > 0 else 25.0, n_frames=n)


def read_frames(
    path: str | os.PathLike[str], *, max_frames: int | None = None, step: int = 1
) -> Iterator[np.ndarray]:
    """Yield frames as ``(H, W, 3)`` uint8 RGB, every ``step``-th, at most ``max_frames``.

    Raises :class:`UserInputError` if the file is not a readable video or has no frame.
    """
    import cv2

    if step < 1:
        raise ValueError("step must be >= 1")
    cap = _open(path)
    try:
        i = kept = 0
        while max_frames is None or kept < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            if i % step == 0:
                kept += 1
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            i += 1
        if i == 0:
            raise UserInputError(f"{path} has no readable frame; give a video file (.mp4, .mov, ...)")
    finally:
        cap.release()


def write_mp4(
    path: str | os.PathLike[str], frames: Iterable[np.ndarray], fps: float = 25.0, *, crf: int = 20
) -> Path:
    """Write RGB uint8 frames (all the same size) to an H.264 MP4, atomically.

    Odd sizes are padded by one pixel (yuv420p needs even sizes). Returns the path. Nothing is
    left at ``path`` if writing fails or ``frames`` is empty.
    """
    import imageio_ffmpeg

    target = Path(path)
    if target.suffix.lower() != ".mp4":
        raise UserInputError(f"{target}: the output video must end in .mp4")
    with atomic_path(target) as tmp:
        writer = None
        size = None
        n = 0
        try:
            for frame in frames:
                f = np.asarray(frame)
                if f.ndim != 3 or f.shape[2] not in (3, 4):
                    raise ValueError(f"frames must be (H, W, 3) RGB, got shape {f.shape}")
                if f.dtype != np.uint8:
                    f = float_to_uint8(f) if f.dtype.kind == "f" else np.clip(f, 0, 255).astype(np.uint8)
                f = f[..., :3]
                h, w = f.shape[:2]
                if size is None:
                    size = (w + w % 2, h + h % 2)
                    writer = imageio_ffmpeg.write_frames(
                        str(tmp), size, fps=float(fps), codec="libx264", pix_fmt_out="yuv420p",
                        output_params=["-crf", str(int(crf)), "-f", "mp4"], macro_block_size=1,
                        ffmpeg_log_level="error",
                    )
                    writer.send(None)
                if (w + w % 2, h + h % 2) != size:
                    raise ValueError(f"frame {n} is {w}x{h}, the first was {size[0]}x{size[1]}")
                if (w, h) != size:
                    f = np.pad(f, ((0, size[1] - h), (0, size[0] - w), (0, 0)), mode="edge")
                writer.send(np.ascontiguousarray(f))
                n += 1
            if n == 0:
                raise ValueError("no frames to write")
        finally:
            if writer is not None:
                writer.close()
    return target
