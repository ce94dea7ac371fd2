"""Training of SNARF and its learned baselines from posed, labelled points (BCE on occupancy).

A model folder holds ``config.json`` (the :class:`TrainConfig` + what is needed to rebuild the
model), ``checkpoint.pt`` (weights, optimiser, step; loaded with ``weights_only=True``) and
``log.jsonl`` (one line per logged step). Training resumes from the checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avatarforge.errors import UserInputError
from avatarforge.implicit.baselines import BackwardSkinning, PoseOccupancy
from avatarforge.implicit.data import ImplicitData
from avatarforge.implicit.model import SNARF
from avatarforge.implicit.skinning import MAIN_JOINTS, MLPSkinning, VoxelSkinning, weights_from_vertices

__all__ = ["TrainConfig", "MODEL_KINDS", "build_model", "train", "load_model", "CHECKPOINT", "MODEL_FORMAT"]

MODEL_KINDS = ("snarf", "backward", "pose_occupancy")
CHECKPOINT = "checkpoint.pt"
MODEL_FORMAT = "avatarforge-implicit-model"


@dataclass
class TrainConfig:
    """Training options (defaults: a few minutes on a CPU)."""

    kind: str = "snarf"
    """'snarf', or a baseline: 'backward' (backward skinning), 'pose_occupancy'."""
    steps: int = 1500
    """Optimisation steps."""
    points_per_step: int = 2048
    """Labelled points per step (drawn from ``poses_per_step`` training poses)."""
    poses_per_step: int = 2
    """Training poses per step."""
    lr: float = 3e-3
    """Adam learning rate of the MLPs."""
    skin_lr: float = 3e-2
    """Adam learning rate of the voxel skinning logits (SNARF)."""
    hidden: int = 128
    """MLP width."""
    layers: int = 4
    """MLP hidden layers."""
    n_freq: int = 5
    """Positional-encoding octaves of the occupancy MLP."""
    skinning: str = "voxel"
    """SNARF skinning field: 'voxel' (FastSNARF-style grid) or 'mlp'."""
    voxel_size: float = 0.04
    """Voxel skinning grid spacing (metres)."""
    n_init: int = 3
    """Broyden initialisations per point (nearest bones)."""
    seed: int = 0
    """Random seed."""
    log_every: int = 50
    """Steps between log lines / progress calls."""
    checkpoint_every: int = 250
    """Steps between checkpoints (training resumes from the last one)."""
    threads: int = 1
    """Torch threads."""


def build_model(cfg: TrainConfig, bones: np.ndarray, bounds: np.ndarray,
                init: tuple[np.ndarray, np.ndarray] | None = None) -> nn.Module:
    """An untrained model of kind ``cfg.kind``; ``init`` = (vertices, weights) of the body used to
    initialise SNARF's skinning field (None when weights are loaded afterwards)."""
    if cfg.kind not in MODEL_KINDS:
        raise UserInputError(f"unknown model kind {cfg.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
    m = len(MAIN_JOINTS)
    b = torch.as_tensor(bounds, dtype=torch.float32)
    if cfg.kind == "backward":
        return BackwardSkinning(m, b, cfg.hidden, cfg.layers, cfg.n_freq)
    if cfg.kind == "pose_occupancy":
        return PoseOccupancy(m, b, cfg.hidden, cfg.layers, cfg.n_freq)
    if cfg.skinning == "voxel":
        res = tuple(int(np.ceil((bounds[1, a] - bounds[0, a]) / cfg.voxel_size)) + 1 for a in range(3))
        skin = VoxelSkinning(b, res, m)
        if init is not None:
            nodes = skin.grid_points().reshape(-1, 3).double().numpy()
            skin.init_from_weights(torch.as_tensor(weights_from_vertices(nodes, *init)).reshape(*skin.logits.shape[2:], m))
    elif cfg.skinning == "mlp":
        skin = MLPSkinning(m, hidden=cfg.hidden, layers=cfg.layers, n_freq=0)
        if init is not None:
            _fit_mlp_skinning(skin, init[0], init[1], b)
    else:
        raise UserInputError(f"unknown skinning field {cfg.skinning!r}: choose 'voxel' or 'mlp'")
    return SNARF(skin, torch.as_tensor(bones), b, cfg.hidden, cfg.layers, cfg.n_freq, n_init=cfg.n_init)


def _fit_mlp_skinning(skin: MLPSkinning, verts: np.ndarray, weights: np.ndarray, bounds, steps: int = 300) -> None:
    """Initialise the MLP field to the body's weights (SNARF's pre-training), at points around the body."""
    g = torch.Generator().manual_seed(0)
    opt = torch.optim.Adam(skin.parameters(), lr=3e-3)
    lo, hi = bounds[0], bounds[1]
    for _ in range(steps):
        x = lo + (hi - lo) * torch.rand(2048, 3, generator=g)
        target = torch.as_tensor(weights_from_vertices(x.double().numpy(), verts, weights), dtype=torch.float32)
        loss = -(target * torch.log(skin(x) + 1e-8)).sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()


def _optimiser(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    if isinstance(model, SNARF) and isinstance(model.skinning, VoxelSkinning):
        return torch.optim.Adam([{"params": model.occupancy.parameters(), "lr": cfg.lr},
                                 {"params": model.skinning.parameters(), "lr": cfg.skin_lr}])
    return torch.optim.Adam(model.parameters(), lr=cfg.lr)


def _write_config(out: Path, cfg: TrainConfig, data: ImplicitData) -> None:
    doc = {"format": MODEL_FORMAT, "version": 1, "train": asdict(cfg), "bones": data.subject.bones.tolist(),
           "bounds": data.subject.bounds.tolist(), "main_joints": list(MAIN_JOINTS)}
    (out / "config.json").write_text(json.dumps(doc, indent=1), encoding="utf-8")


def load_model(folder: str | Path) -> tuple[nn.Module, TrainConfig, dict]:
    """A trained model from its folder (config.json + checkpoint.pt), in eval mode."""
    folder = Path(folder)
    cp, ck = folder / "config.json", folder / CHECKPOINT
    if not cp.is_file() or not ck.is_file():
        raise UserInputError(f"{folder}: not an implicit model (needs config.json and {CHECKPOINT}; "
                             "train one with `avatarforge implicit train DATA -o MODEL`)")
    try:
        doc = json.loads(cp.read_text(encoding="utf-8"))
        if doc.get("format") != MODEL_FORMAT or doc.get("version") != 1:
            raise ValueError(f"format must be {MODEL_FORMAT!r} version 1")
        cfg = TrainConfig(**doc["train"])
        model = build_model(cfg, np.asarray(doc["bones"]), np.asarray(doc["bounds"]))
        state = torch.load(ck, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
    except (ValueError, KeyError, TypeError, RuntimeError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{folder}: damaged implicit model ({exc})") from None
    model.eval()
    return model, cfg, doc


def _save(ck: Path, model: nn.Module, opt, step: int, elapsed: float) -> None:
    tmp = ck.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step, "elapsed": elapsed}, tmp)
    tmp.replace(ck)


def train(data: ImplicitData, out: str | Path, cfg: TrainConfig | None = None,
          progress: Callable[[dict], None] | None = None) -> nn.Module:
    """Train (or resume) a model of ``cfg.kind`` on the data's training poses; writes ``out``."""
    cfg = cfg or TrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    s = data.subject
    train_idx = np.array([i for i, sp in enumerate(data.split) if sp == "train"])
    if not len(train_idx):
        raise UserInputError("the data set has no training poses")
    body_init = (s.vertices[: s.n_body_vertices], s.body_weights[: s.n_body_vertices])
    ck = out / CHECKPOINT
    model = build_model(cfg, s.bones, s.bounds, init=None if ck.exists() else body_init)
    opt = _optimiser(model, cfg)
    step, elapsed = 0, 0.0
    if ck.exists():
        state = torch.load(ck, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        step, elapsed = int(state["step"]), float(state.get("elapsed", 0.0))
    _write_config(out, cfg, data)
    rng = np.random.default_rng(cfg.seed + step)
    pts_all = torch.from_numpy(data.points)
    occ_all = torch.from_numpy(data.occupancy.astype(np.float32))
    T_all = torch.from_numpy(data.transforms).float()
    bce = nn.BCEWithLogitsLoss()
    per_pose = max(cfg.points_per_step // cfg.poses_per_step, 1)
    t0 = time.perf_counter()
    model.train()
    with (out / "log.jsonl").open("a", encoding="utf-8") as log:
        while step < cfg.steps:
            loss = 0.0
            for p in rng.choice(train_idx, cfg.poses_per_step):
                sel = torch.from_numpy(rng.integers(0, pts_all.shape[1], per_pose))
                logits = model(pts_all[p, sel], T_all[p])
                loss = loss + bce(logits, occ_all[p, sel]) / cfg.poses_per_step
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == cfg.steps:
                rec = {"step": step, "loss": float(loss.detach()), "seconds": elapsed + time.perf_counter() - t0}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if progress:
                    progress(rec)
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                _save(ck, model, opt, step, elapsed + time.perf_counter() - t0)
    model.eval()
    return model
