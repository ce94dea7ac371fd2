"""Driving a trained head: expressions from JSON, from another face video (reenactment), novel
poses; the canonical mesh."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float

from avatarforge.errors import UserInputError

__all__ = ["Drive", "drive_from_json", "drive_from_video", "render_drive", "canonical_mesh"]


@dataclass
class Drive:
    """Per-frame values that drive a head (F frames)."""

    expression: Float[np.ndarray, "F 52"]
    head: Float[np.ndarray, "F 3"]
    eyes: Float[np.ndarray, "F 2 3"]
    fps: float = 25.0


def drive_from_json(path: str | Path, names: tuple[str, ...]) -> Drive:
    """A JSON list of frames, each an object of ARKit action values (missing = 0) and optionally
    ``pose.head.x/y/z`` degrees; or {"fps": .., "frames": [...]}."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserInputError(f"{path}: not a readable JSON file ({exc})") from None
    fps = 25.0
    if isinstance(doc, dict):
        fps, doc = float(doc.get("fps", 25.0)), doc.get("frames")
    if not isinstance(doc, list) or not doc or not all(isinstance(f, dict) for f in doc):
        raise UserInputError(f"{path}: expressions must be a non-empty JSON list of objects {{\"jawOpen\": 0.5, ...}}")
    expr, head = np.zeros((len(doc), 52)), np.zeros((len(doc), 3))
    for i, f in enumerate(doc):
        for k, v in f.items():
            if not isinstance(v, (int, float)):
                raise UserInputError(f"{path}: frame {i}: {k} must be a number")
            if k in names:
                expr[i, names.index(k)] = float(np.clip(v, 0.0, 1.0))
            elif k.startswith("pose.head.") and k[-1] in "xyz":
                head[i, "xyz".index(k[-1])] = float(v)
            else:
                raise UserInputError(f"{path}: frame {i}: unknown value {k!r} (ARKit action names or pose.head.x/y/z)")
    return Drive(expr, head, np.zeros((len(doc), 2, 3)), fps)


def drive_from_video(video: str | Path, body=None, max_frames: int | None = None, every: int = 1,
                     progress: Callable[[int], None] | None = None) -> Drive:
    """Another person's expressions and head motion, tracked on every ``every``-th frame (frames
    without a face hold the last values)."""
    from avatarforge.animate.filters import one_euro
    from avatarforge.fitting.face_track import require_face_frames, track_face_frames
    from avatarforge.util.video import probe_video, read_frames

    fps = probe_video(video).fps / every
    tr = track_face_frames(read_frames(video, max_frames=max_frames, step=every), body, fps=fps, progress=progress)
    require_face_frames(tr.found, video)
    expr, head, eyes = tr.expression, tr.head, tr.eyes
    if len(expr) > 2:
        expr, head, eyes = np.clip(one_euro(expr, tr.fps), 0, 1), one_euro(head, tr.fps), one_euro(eyes, tr.fps)
    return Drive(expr, head, eyes, tr.fps)


def render_drive(model, drive: Drive, size: int | None = None, yaw: float = 0.0, pitch: float = 0.0,
                 progress: Callable[[int], None] | None = None) -> list[np.ndarray]:
    """Frames of ``model`` driven by ``drive`` (head rotation offset by ``yaw``/``pitch`` degrees)."""
    from avatarforge.imavatar.raymarch import render_image
    from avatarforge.util.threads import torch_threads

    cam = model.camera
    if size is not None and size != cam.width:
        from avatarforge.render import Camera

        s = size / cam.width
        cam = Camera(cam.R, cam.t, size, int(round(cam.height * s)), cam.fx * s, cam.fy * s, cam.cx * s, cam.cy * s)
    out = []
    with torch_threads(1):  # small tensors: a second thread only adds OpenMP overhead
        for i in range(len(drive.expression)):
            head = drive.head[i] + np.array([pitch, yaw, 0.0])
            img, _ = render_image(model.field, cam, model.frame(drive.expression[i], head, None, drive.eyes[i]))
            out.append(img)
            if progress:
                progress(i + 1)
    return out


def canonical_mesh(model, resolution: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """Marching cubes of the canonical occupancy (neutral expression)."""

    from avatarforge.implicit.extract import extract_mesh

    frame = model.frame(np.zeros(52))
    return extract_mesh(lambda x: model.field.occ(x, frame), model.rig.bounds, resolution)
