"""The training data of an avatar: frames, masks, keypoints and cameras, saved as one .npz.

A data set folder holds ``frames.npz`` (no pickles; read with ``allow_pickle=False``) and
``meta.json``. Arrays (N frames of H x W):

* ``images`` (N, H, W, 3) uint8; ``masks`` (N, H, W) uint8 (255 = person);
* ``joints`` (N, K, 3) float32 world keypoints (:data:`.skeleton.KEYPOINTS`);
* ``cameras`` (N, 15) float64: ``R`` (9, row-major), ``t`` (3), focal ``f``, principal point
  ``cx, cy`` (pixels of the stored frames; square pixels) -- the OpenCV convention of
  :class:`~avatarforge.render.Camera`;
* ``split`` (N,) uint8: 0 train, 1 held-out poses, 2 held-out views (:data:`SPLITS`);
* optional ``parts`` (N, H, W) uint8 and ``part_uv`` (N, H, W, 2) float16: ground-truth part
  and part-UV maps (the DensePose role, synthetic data only);
* ``background`` (3,) float32 in [0, 1]: the colour the frames were composited over.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.render import Camera

__all__ = ["AvatarDataset", "SPLITS", "camera_to_row", "camera_from_row", "load_dataset", "save_dataset"]

SPLITS = ("train", "unseen_poses", "unseen_views")


def camera_to_row(cam: Camera) -> np.ndarray:
    """(15,) row of the ``cameras`` array."""
    return np.concatenate([cam.R.reshape(9), cam.t, [cam.fx, cam.cx, cam.cy]])


def camera_from_row(row: np.ndarray, width: int, height: int, scale: float = 1.0) -> Camera:
    """The camera of a ``cameras`` row for a ``width x height`` image; ``scale`` multiplies the
    intrinsics (output size / stored size)."""
    row = np.asarray(row, np.float64)
    f, cx, cy = row[12:15] * scale
    return Camera(row[:9].reshape(3, 3), row[9:12], width, height, f, f, cx, cy)


@dataclass
class AvatarDataset:
    """Frames of one person with their poses (see the module docstring for the arrays)."""

    images: np.ndarray
    masks: np.ndarray
    joints: np.ndarray
    cameras: np.ndarray
    split: np.ndarray
    background: np.ndarray
    parts: np.ndarray | None = None
    part_uv: np.ndarray | None = None
    meta: dict | None = None
    """Free-form provenance (source, counts, skipped frames)."""

    def __post_init__(self) -> None:
        n = len(self.images)
        if self.images.ndim != 4 or self.images.shape[-1] != 3:
            raise UserInputError(f"images must be (N, H, W, 3), got {self.images.shape}")
        for name in ("masks", "joints", "cameras", "split"):
            if len(getattr(self, name)) != n:
                raise UserInputError(f"data set: {name} has {len(getattr(self, name))} rows for {n} frames")

    @property
    def size(self) -> tuple[int, int]:
        """(height, width)."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == SPLITS.index(split))

    def camera(self, i: int) -> Camera:
        h, w = self.size
        return camera_from_row(self.cameras[i], w, h)


def save_dataset(path: str | Path, data: AvatarDataset) -> Path:
    """Write ``frames.npz`` + ``meta.json`` into a new folder ``path`` (atomically)."""
    from avatarforge.util.atomic import atomic_dir

    arrays = {k: getattr(data, k) for k in ("images", "masks", "joints", "cameras", "split", "background")}
    if data.parts is not None:
        arrays["parts"] = data.parts
        arrays["part_uv"] = data.part_uv.astype(np.float16)
    with atomic_dir(path, force=True) as tmp:
        np.savez(tmp / "frames.npz", **arrays)
        (tmp / "meta.json").write_text(json.dumps(data.meta or {}, indent=1))
    return Path(path)


def load_dataset(path: str | Path) -> AvatarDataset:
    """Read a data set folder written by :func:`save_dataset`."""
    p = Path(path)
    f = p / "frames.npz"
    if not f.is_file():
        raise UserInputError(f"{p}: not a data set folder (no frames.npz); make one with `avatarforge neural synth`")
    try:
        z = np.load(f, allow_pickle=False)
        arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise UserInputError(f"{f}: unreadable ({exc})") from None
    missing = {"images", "masks", "joints", "cameras", "split", "background"} - set(arrays)
    if missing:
        raise UserInputError(f"{f}: missing arrays {sorted(missing)}")
    meta = json.loads((p / "meta.json").read_text()) if (p / "meta.json").is_file() else {}
    return AvatarDataset(**arrays, meta=meta)
