"""Face-video data sets for IMavatar: per frame an image, a face mask and the morphable head's
values (52 ARKit actions, head / neck / eye rotations), plus one camera and the identity.

Two sources with one format (a folder with ``frames.npz`` + ``meta.json``):

* :func:`make_synthetic`: videos rendered from the painted body-model head (:mod:`.rig`) with known
  expressions and poses; sequences ease between random key expressions. Splits: ``train``,
  ``heldout`` (every ``heldout_every``-th frame of the same sequences, never trained on) and
  ``extreme`` (actions in [train_max, 1], stronger than anything in training).
* :func:`track_video`: a real face video through the shared tracker
  (:func:`avatarforge.fitting.face_track.track_face_frames`), masks from the bundled person
  segmentation, frames where the face is lost reported and skipped, values smoothed in time
  (one-euro), frames cropped square around the face and resized.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Float, UInt8

from avatarforge.errors import UserInputError
from avatarforge.render import Camera

__all__ = ["HeadData", "SynthConfig", "SPLITS", "EXTREME_ACTIONS", "make_synthetic", "track_video", "save_data",
           "load_data", "camera_to_dict", "camera_from_dict", "render_rig"]

SPLITS = ("train", "heldout", "extreme")
DATA_FORMAT = "avatarforge-head-data"
EXTREME_ACTIONS = ("jawOpen", "mouthSmileLeft", "mouthSmileRight", "eyeBlinkLeft", "eyeBlinkRight", "browInnerUp",
                   "mouthPucker", "mouthFunnel", "browDownLeft", "browDownRight", "cheekPuff", "mouthLeft")
"""Actions the synthetic sequences animate (the ones a face video shows most)."""


@dataclass
class HeadData:
    """N frames of one face (images H x W)."""

    rgb: UInt8[np.ndarray, "N H W 3"]
    mask: UInt8[np.ndarray, "N H W"]
    """Face/head mask, 0 or 255."""
    expression: Float[np.ndarray, "N 52"]
    head: Float[np.ndarray, "N 3"]
    """Head rotation, extrinsic XYZ Euler degrees (``pose.head.*``)."""
    neck: Float[np.ndarray, "N 3"]
    eyes: Float[np.ndarray, "N 2 3"]
    split: np.ndarray
    """Per frame one of :data:`SPLITS`."""
    camera: Camera
    identity: dict[str, float]
    """Body-model identity values (rebuild the rig with :func:`.rig.build_rig`)."""
    source: str
    fps: float = 25.0

    def __len__(self) -> int:
        return len(self.rgb)

    def indices(self, split: str) -> np.ndarray:
        return np.flatnonzero(self.split == split)


@dataclass
class SynthConfig:
    """What :func:`make_synthetic` renders (defaults: a few minutes of CPU)."""

    size: int = 96
    """Image side, pixels."""
    frames: int = 160
    """Frames of the training sequences (every ``heldout_every``-th is held out)."""
    heldout_every: int = 8
    """One frame in this many is held out."""
    extreme: int = 16
    """Frames of extreme expressions."""
    train_max: float = 0.6
    """Largest action value in the training sequences."""
    key_every: int = 6
    """Frames between key expressions."""
    max_yaw: float = 20.0
    """Largest head yaw (degrees); pitch and roll get half and a quarter of it."""
    distance: float = 0.42
    """Camera distance from the head joint, metres."""
    fov: float = 30.0
    """Vertical field of view, degrees."""
    seed: int = 0


def camera_to_dict(cam: Camera) -> dict:
    return {"R": cam.R.tolist(), "t": cam.t.tolist(), "width": cam.width, "height": cam.height, "fx": cam.fx,
            "fy": cam.fy, "cx": cam.cx, "cy": cam.cy, "projection": cam.projection}


def camera_from_dict(d: dict) -> Camera:
    return Camera(np.asarray(d["R"]), np.asarray(d["t"]), d["width"], d["height"], d["fx"], d["fy"], d["cx"], d["cy"],
                  d.get("projection", "perspective"))


def head_camera(rig, size: int, distance: float = 0.42, fov: float = 30.0) -> Camera:
    """A front camera on the head (the synthetic videos' camera)."""
    c = rig.centre + np.array([0.0, -0.02, 0.0])
    return Camera.look_at(c + np.array([0.0, 0.0, distance]), c, width=size, height=size, fov_y_deg=fov)


def render_rig(rig, camera: Camera, expression: np.ndarray, transforms: np.ndarray,
               colours: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The explicit painted head (morphable model) rendered: (RGB uint8, mask uint8 0/255)."""
    import torch

    from avatarforge.imavatar.rig import deform_vertices
    from avatarforge.render import render_mesh

    x = deform_vertices(torch.as_tensor(rig.vertices), torch.as_tensor(rig.blendshapes).permute(1, 0, 2),
                        torch.as_tensor(rig.weights), torch.as_tensor(np.asarray(expression, np.float64)),
                        torch.as_tensor(transforms)).numpy()
    res = render_mesh(x, rig.faces, camera, vertex_colors=rig.colours if colours is None else colours,
                      background=(0, 0, 0, 255), light_dir=np.array([0.3, 0.4, 1.0]) / np.linalg.norm([0.3, 0.4, 1.0]))
    return res.rgba[..., :3].copy(), np.where(res.raster.mask, 255, 0).astype(np.uint8)


def _keyframes(rng: np.random.Generator, names: tuple[str, ...], n_keys: int, lo: float, hi: float,
               max_yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    expr = np.zeros((n_keys, 52))
    for k in range(n_keys):
        for name in rng.choice(EXTREME_ACTIONS, size=int(rng.integers(1, 4)), replace=False):
            expr[k, names.index(str(name))] = rng.uniform(lo, hi)
    head = rng.uniform(-1, 1, (n_keys, 3)) * np.array([max_yaw / 2, max_yaw, max_yaw / 4])
    neck = rng.uniform(-1, 1, (n_keys, 3)) * np.array([4.0, 6.0, 3.0])
    return expr, head, neck


def make_synthetic(body, cfg: SynthConfig | None = None, progress: Callable[[int, int], None] | None = None) -> HeadData:
    """Render the synthetic face videos (see the module docstring) of the default identity."""
    from avatarforge.imavatar.rig import build_rig

    cfg = cfg or SynthConfig()
    rng = np.random.default_rng(cfg.seed)
    rig = build_rig(body)
    cam = head_camera(rig, cfg.size, cfg.distance, cfg.fov)
    names = rig.expression_names
    n_keys = cfg.frames // cfg.key_every + 2
    ke, kh, kn = _keyframes(rng, names, n_keys, 0.0, cfg.train_max, cfg.max_yaw)
    ke[0] = 0.0
    t = np.arange(cfg.frames) / cfg.key_every
    i0 = np.floor(t).astype(int)
    a = (t - i0)[:, None]
    a = a * a * (3 - 2 * a)  # ease between keys
    expr = (1 - a) * ke[i0] + a * ke[i0 + 1]
    head = (1 - a) * kh[i0] + a * kh[i0 + 1]
    neck = (1 - a) * kn[i0] + a * kn[i0 + 1]
    split = np.where(np.arange(cfg.frames) % cfg.heldout_every == cfg.heldout_every // 2, "heldout", "train")
    ee, eh, en = _keyframes(rng, names, cfg.extreme, cfg.train_max, 1.0, cfg.max_yaw * 0.5)
    expr, head, neck = np.concatenate([expr, ee]), np.concatenate([head, eh]), np.concatenate([neck, en])
    split = np.concatenate([split, np.full(cfg.extreme, "extreme")])
    eyes = np.zeros((len(expr), 2, 3))
    rgb, mask = [], []
    for i in range(len(expr)):
        im, m = render_rig(rig, cam, expr[i], rig.transforms(head[i], neck[i], eyes[i]))
        rgb.append(im)
        mask.append(m)
        if progress:
            progress(i + 1, len(expr))
    return HeadData(np.stack(rgb), np.stack(mask), expr, head, neck, eyes, split.astype("<U8"), cam,
                    dict(rig.values), "synthetic", 25.0)


def _crop_camera(cam: Camera, x0: float, y0: float, side: float, size: int) -> Camera:
    s = size / side
    return Camera(cam.R, cam.t, size, size, cam.fx * s, cam.fy * s, (cam.cx - x0) * s, (cam.cy - y0) * s, cam.projection)


def track_video(video: str | Path, body, size: int = 96, max_frames: int | None = None, smooth: bool = True,
                heldout_every: int = 8, progress: Callable[[int], None] | None = None) -> tuple[HeadData, dict]:
    """A real face video as a :class:`HeadData` (see the module docstring) and a report
    (frames, lost frame indices, tracking error). Held-out frames: every ``heldout_every``-th."""
    import cv2

    from avatarforge.animate.filters import one_euro
    from avatarforge.fitting.face_track import track_face_frames
    from avatarforge.perception.segmentation import person_mask
    from avatarforge.util.video import probe_video, read_frames

    info = probe_video(video)
    frames = list(read_frames(video, max_frames=max_frames))
    track = track_face_frames(frames, body, fps=info.fps, progress=progress)
    found = track.found
    if not found.any() or track.first_fit is None:
        raise UserInputError(f"no face found in any frame of {video}: give a video of a face looking at the camera")
    keep = np.flatnonzero(found)
    expr, head, eyes = track.expression[keep], track.head[keep], track.eyes[keep]
    if smooth and len(keep) > 2:
        expr = np.clip(one_euro(expr, info.fps), 0.0, 1.0)
        head, eyes = one_euro(head, info.fps), one_euro(eyes, info.fps)
    pts = np.concatenate([track.landmarks[i][:, :2] for i in keep])
    lo, hi = np.percentile(pts, 1, axis=0), np.percentile(pts, 99, axis=0)
    centre = (lo + hi) / 2 - np.array([0.0, 0.05 * (hi[1] - lo[1])])
    side = 1.9 * float(max(hi - lo))
    x0, y0 = centre - side / 2
    h, w = frames[0].shape[:2]
    warp = np.array([[size / side, 0, -x0 * size / side], [0, size / side, -y0 * size / side]])
    rgb, mask = [], []
    for i in keep:
        m = person_mask(frames[i])
        m = np.ones((h, w), np.float32) if m is None else m
        rgb.append(cv2.warpAffine(frames[i], warp, (size, size), flags=cv2.INTER_AREA))
        mask.append(np.where(cv2.warpAffine(m, warp, (size, size)) > 0.5, 255, 0).astype(np.uint8))
    rgb_a, mask_a = np.stack(rgb), np.stack(mask)
    rgb_a[mask_a == 0] = 0
    split = np.where(np.arange(len(keep)) % heldout_every == heldout_every // 2, "heldout", "train").astype("<U8")
    fit = track.first_fit
    values = {k: v for k, v in fit.values.items() if not k.startswith("pose.") and k not in track.expression_names}
    cam = _crop_camera(fit.camera, x0, y0, side, size)
    data = HeadData(rgb_a, mask_a, expr, head, np.zeros_like(head), eyes, split, cam, values, str(video), info.fps)
    lost = np.flatnonzero(~found).tolist()
    report = {"frames": int(len(found)), "used": int(len(keep)), "lost_frames": lost,
              "first_fit_rmse_px": float(fit.rmse_px), "seconds_per_frame": float(track.seconds_per_frame)}
    return data, report


def save_data(data: HeadData, folder: Path) -> None:
    """Write ``frames.npz`` + ``meta.json`` into ``folder`` (which must exist)."""
    np.savez_compressed(folder / "frames.npz", rgb=data.rgb, mask=data.mask, expression=data.expression,
                        head=data.head, neck=data.neck, eyes=data.eyes, split=data.split)
    meta = {"format": DATA_FORMAT, "version": 1, "camera": camera_to_dict(data.camera), "identity": data.identity,
            "source": data.source, "fps": data.fps, "counts": {s: int((data.split == s).sum()) for s in SPLITS}}
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")


def load_data(folder: str | Path) -> HeadData:
    """A data set written by :func:`save_data`."""
    folder = Path(folder)
    if not (folder / "meta.json").is_file() or not (folder / "frames.npz").is_file():
        raise UserInputError(f"{folder}: not a head data set (needs meta.json and frames.npz; "
                             "make one with `avatarforge head synth -o DIR`)")
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != DATA_FORMAT:
            raise ValueError(f"format must be {DATA_FORMAT!r}")
        z = np.load(folder / "frames.npz", allow_pickle=False)
        return HeadData(z["rgb"], z["mask"], z["expression"], z["head"], z["neck"], z["eyes"], z["split"],
                        camera_from_dict(meta["camera"]), dict(meta["identity"]), meta["source"], float(meta["fps"]))
    except (ValueError, KeyError, OSError) as exc:
        raise UserInputError(f"{folder}: damaged head data set ({exc})") from None


def synth_config_dict(cfg: SynthConfig) -> dict:
    return asdict(cfg)
