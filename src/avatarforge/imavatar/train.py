"""Training of IMavatar and its baselines from a :class:`.data.HeadData` (RGB L1 on the face, mask
loss, morphable-model agreement), resumable.

A model folder holds ``config.json`` (the :class:`TrainConfig`, the camera, the grid size),
``rig.npz`` (the morphable head, :func:`.rig.save_rig`), ``checkpoint.pt`` (weights, optimiser,
step; loaded with ``weights_only=True``) and ``log.jsonl`` (one line per logged step).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avatarforge.errors import UserInputError
from avatarforge.imavatar.data import HeadData, camera_from_dict, camera_to_dict
from avatarforge.imavatar.model import MODEL_KINDS, CNet, Frame, HeadField, IMavatar, PriorGrid
from avatarforge.imavatar.raymarch import camera_rays, shade_rays
from avatarforge.imavatar.rig import HeadRig, build_rig, load_rig, save_rig

__all__ = ["TrainConfig", "build_field", "init_occupancy", "train", "load_model", "HeadModel", "CHECKPOINT"]

CHECKPOINT = "checkpoint.pt"
MODEL_FORMAT = "avatarforge-head-model"


@dataclass
class TrainConfig:
    """Training options (defaults: minutes on one CPU core)."""

    kind: str = "imavatar"
    """'imavatar', or a baseline: 'bmorph' (morphable-model deformation only), 'cnet' (expression-conditioned MLPs)."""
    steps: int = 300
    """Optimisation steps."""
    rays: int = 192
    """Rays per step (half on the face mask, half anywhere in the frame)."""
    samples: int = 12
    """Samples per ray before the secant refinement."""
    lr: float = 2e-3
    """Adam learning rate."""
    deform_lr_scale: float = 0.05
    """The deformation MLP's learning rate relative to ``lr``. Its residual starts at zero and Adam
    moves every weight by ~lr per step whatever the gradient's size, so at the full rate the learned
    deformation drifted from the morphable model's by ~18 mm within 20 steps (and the renders got
    worse than B-Morph's); 0.05 gives IMavatar's own rate (1e-4)."""
    hidden: int = 64
    """MLP width (occupancy, texture, deformation)."""
    layers: int = 3
    """MLP hidden layers."""
    grid_spacing: float = 0.008
    """Spacing of the morphable-model prior grid, metres."""
    n_init: int = 2
    """Broyden initialisations per point (inverse head and neck motions)."""
    w_mask: float = 0.5
    """Weight of the mask loss."""
    w_flame: float = 1.0
    """Weight of the morphable-model agreement loss (the MLP's correction of it, squared)."""
    init_steps: int = 150
    """Steps fitting the occupancy to the morphable head's neutral shape before training."""
    max_cpu_seconds: float = 0.0
    """Stop after this many CPU seconds of training in this run (0 = no limit), checkpointing first."""
    seed: int = 0
    log_every: int = 10
    checkpoint_every: int = 50
    threads: int = 1


@dataclass
class HeadModel:
    """A trained head: the field, its rig and camera, the training options."""

    field: HeadField
    rig: HeadRig
    camera: object
    config: TrainConfig

    def frame(self, expression: np.ndarray, head=None, neck=None, eyes=None) -> Frame:
        return Frame.of(expression, self.rig.transforms(head, neck, eyes))


def build_field(cfg: TrainConfig, rig: HeadRig) -> HeadField:
    if cfg.kind not in MODEL_KINDS:
        raise UserInputError(f"unknown model kind {cfg.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
    if cfg.kind == "cnet":
        return CNet(torch.as_tensor(rig.bounds, dtype=torch.float32), cfg.hidden, cfg.layers)
    prior = PriorGrid.from_rig(rig, cfg.grid_spacing)
    return IMavatar(prior, cfg.hidden, cfg.layers, learn=cfg.kind == "imavatar", deform_hidden=cfg.hidden,
                    n_init=cfg.n_init)


def init_occupancy(field: HeadField, rig: HeadRig, steps: int, seed: int = 0) -> None:
    """Fit the occupancy to the rig's neutral head (winding-number labels): every method starts
    from the morphable model's shape, as IMavatar starts from FLAME's."""
    from avatarforge.implicit.data import sample_near_surface
    from avatarforge.implicit.winding import inside

    if steps <= 0:
        return
    rng = np.random.default_rng(seed)
    b = rig.bounds
    pts = np.concatenate([rng.uniform(b[0], b[1], (20000, 3)), sample_near_surface(rng, rig.vertices, rig.faces, 20000, 0.01)])
    lab = torch.as_tensor(inside(pts, rig.vertices, rig.faces), dtype=torch.float32)
    x = torch.as_tensor(pts, dtype=torch.float32)
    frame = Frame(torch.zeros(52), torch.eye(4).expand(5, 4, 4).clone())
    opt = torch.optim.Adam(field.occupancy.parameters(), lr=3e-3)
    for _ in range(steps):
        sel = torch.as_tensor(rng.integers(0, len(x), 4096))
        loss = F.binary_cross_entropy_with_logits(field.occ(x[sel], frame), lab[sel])
        opt.zero_grad()
        loss.backward()
        opt.step()


def _write_config(out: Path, cfg: TrainConfig, data: HeadData, rig: HeadRig) -> None:
    doc = {"format": MODEL_FORMAT, "version": 1, "train": asdict(cfg), "camera": camera_to_dict(data.camera),
           "source": data.source, "fps": data.fps}
    (out / "config.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")
    save_rig(rig, out / "rig.npz")


def load_model(folder: str | Path) -> HeadModel:
    """A trained head model from its folder, in eval mode."""
    folder = Path(folder)
    need = [folder / n for n in ("config.json", "rig.npz", CHECKPOINT)]
    if not all(p.is_file() for p in need):
        raise UserInputError(f"{folder}: not a head model (needs config.json, rig.npz and {CHECKPOINT}; "
                             "train one with `avatarforge head train DATA -o MODEL`)")
    try:
        doc = json.loads(need[0].read_text(encoding="utf-8"))
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError(f"format must be {MODEL_FORMAT!r}")
        cfg = TrainConfig(**doc["train"])
        rig = load_rig(need[1])
        field = build_field(cfg, rig)
        state = torch.load(need[2], map_location="cpu", weights_only=True)
        field.load_state_dict(state["model"])
        cam = camera_from_dict(doc["camera"])
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        raise UserInputError(f"{folder}: damaged head model ({exc})") from None
    field.eval()
    return HeadModel(field, rig, cam, cfg)


def _save(ck: Path, field: HeadField, opt, step: int, elapsed: float, cpu: float) -> None:
    tmp = ck.with_suffix(".tmp")
    torch.save({"model": field.state_dict(), "optimizer": opt.state_dict(), "step": step, "elapsed": elapsed,
                "cpu": cpu}, tmp)
    tmp.replace(ck)


def _sample_pixels(rng: np.random.Generator, mask: np.ndarray, n: int) -> np.ndarray:
    h, w = mask.shape
    on = np.flatnonzero(mask.ravel() > 0)
    k = n // 2 if len(on) else 0
    flat = np.concatenate([rng.choice(on, k) if k else np.zeros(0, np.int64), rng.integers(0, h * w, n - k)])
    return np.stack([flat % w, flat // w], 1)


def train(data: HeadData, out: str | Path, cfg: TrainConfig | None = None, rig: HeadRig | None = None, body=None,
          progress: Callable[[dict], None] | None = None) -> HeadModel:
    """Train (or resume) a model of ``cfg.kind`` on the data's ``train`` frames; writes ``out``."""
    cfg = cfg or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    train_idx = data.indices("train")
    if not len(train_idx):
        raise UserInputError("the data set has no training frames")
    ck = out / CHECKPOINT
    if rig is None:
        if (out / "rig.npz").is_file():
            rig = load_rig(out / "rig.npz")
        else:
            from avatarforge.bodies import load_body

            rig = build_rig(body or load_body(), data.identity)
    field = build_field(cfg, rig)
    deform = [p for n, p in field.named_parameters() if n.startswith("deformer.")]
    rest = [p for n, p in field.named_parameters() if not n.startswith("deformer.")]
    groups = [{"params": rest}] + ([{"params": deform, "lr": cfg.lr * cfg.deform_lr_scale}] if deform else [])
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    step, elapsed, cpu = 0, 0.0, 0.0
    if ck.exists():
        state = torch.load(ck, map_location="cpu", weights_only=True)
        field.load_state_dict(state["model"])
        try:
            opt.load_state_dict(state["optimizer"])
        except ValueError:  # a model from before the deformer's own learning rate: fresh Adam moments
            pass
        step, elapsed, cpu = int(state["step"]), float(state.get("elapsed", 0.0)), float(state.get("cpu", 0.0))
    else:
        init_occupancy(field, rig, cfg.init_steps, cfg.seed)
    _write_config(out, cfg, data, rig)
    rng = np.random.default_rng(cfg.seed + step)
    transforms = [rig.transforms(data.head[i], data.neck[i], data.eyes[i]) for i in range(len(data))]
    t0, c0 = time.perf_counter(), time.process_time()
    field.train()
    with (out / "log.jsonl").open("a", encoding="utf-8") as log:
        while step < cfg.steps:
            i = int(rng.choice(train_idx))
            frame = Frame.of(data.expression[i], transforms[i])
            px = _sample_pixels(rng, data.mask[i], cfg.rays)
            o, d = camera_rays(data.camera, px)
            gt = torch.as_tensor(data.rgb[i][px[:, 1], px[:, 0]], dtype=torch.float32) / 255
            m = torch.as_tensor(data.mask[i][px[:, 1], px[:, 0]] > 0, dtype=torch.float32)
            res = shade_rays(field, o, d, frame, cfg.samples)
            on = res.hit & (m > 0)
            rgb_loss = (res.rgb[on] - gt[on]).abs().mean() if on.any() else torch.zeros(())
            mask_loss = F.binary_cross_entropy_with_logits(res.mask_logit, m)
            reg = field.regulariser(res.canonical) if len(res.canonical) else torch.zeros(())
            loss = rgb_loss + cfg.w_mask * mask_loss + cfg.w_flame * reg
            opt.zero_grad()
            if loss.requires_grad:  # no ray met the head (e.g. a tiny frame): nothing to learn this step
                loss.backward()
                opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                rec = {"step": step, "loss": float(loss.detach()), "rgb": float(rgb_loss.detach()),
                       "mask": float(mask_loss.detach()), "flame": float(reg.detach()),
                       "seconds": elapsed + time.perf_counter() - t0, "cpu_seconds": cpu + time.process_time() - c0}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if progress:
                    progress(rec)
            over = cfg.max_cpu_seconds > 0 and time.process_time() - c0 > cfg.max_cpu_seconds
            if step % cfg.checkpoint_every == 0 or step == cfg.steps or over:
                _save(ck, field, opt, step, elapsed + time.perf_counter() - t0, cpu + time.process_time() - c0)
            if over:
                break
    field.eval()
    cam = data.camera
    return HeadModel(field, rig, cam, cfg)
