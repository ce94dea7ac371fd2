"""Two-stage gDNA training (resumable), and loading a trained model.

Stage 1 (``coarse_steps``): BCE on posed occupancy through the correspondence search, + BCE on
labelled canonical (rest-pose) points evaluated directly (no search; half of them uniform over
the canonical box, the far-away negatives that keep floaters out of empty space), + the warp
loss (each identity's rest body vertices warped onto the mean body's, in cm^2) + the Gaussian
prior on the shape codes. Trains the shape, skinning and warp networks and the shape codes.
Learning rates follow a cosine from ``lr`` down to ``lr * lr_final`` over each stage.

Stage 2 (``detail_steps``): the coarse networks frozen; posed outer-surface points are mapped to
their canonical roots, the detail network predicts canonical normals, carried to the pose by the
blended bone rotation; loss 1 - n_gt . n + the prior on the detail codes.

A model folder: ``config.json`` (format, both configs, identity names/betas/bones, bounds),
``checkpoint.pt`` (weights, optimiser, step; ``weights_only=True``), ``log.jsonl``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avatarforge.errors import UserInputError
from avatarforge.implicit.gdna import GDNA, GdnaConfig
from avatarforge.implicit.gdna_data import GdnaData
from avatarforge.implicit.skinning import MAIN_JOINTS, weights_from_vertices

__all__ = ["GdnaTrainConfig", "GdnaModel", "train_gdna", "lr_factor", "load_gdna", "is_gdna_model", "GDNA_MODEL_FORMAT"]

GDNA_MODEL_FORMAT = "avatarforge-gdna-model"
CHECKPOINT = "checkpoint.pt"


@dataclass
class GdnaTrainConfig:
    """Training options (defaults: a few minutes on a CPU)."""

    coarse_steps: int = 300
    """Stage 1 steps (shape, skinning, warp, shape codes)."""
    detail_steps: int = 100
    """Stage 2 steps (detail network, detail codes)."""
    points_per_step: int = 1024
    """Labelled points (stage 1) or surface points (stage 2) per step."""
    samples_per_step: int = 2
    """Posed samples the points of a step come from."""
    rest_points_per_step: int = 2048
    """Labelled canonical points per step (stage 1; 0 = none; used if the data has them)."""
    rest_identities_per_step: int = 2
    """Training identities the canonical points of a step come from."""
    rest_weight: float = 1.0
    """Weight of the canonical BCE relative to the posed one."""
    posed_every: int = 4
    """Stage 1 evaluates the posed (correspondence-search) term on every ``posed_every``-th step
    only when canonical points are available (a posed point costs ~13x a canonical one)."""
    lr_final: float = 0.1
    """Final learning rate as a fraction of the initial one (cosine decay within each stage)."""
    lr: float = 2e-3
    """Adam learning rate of the networks."""
    code_lr: float = 1e-2
    """Adam learning rate of the latent codes."""
    skin_lr: float = 2e-2
    """Adam learning rate of the voxel skinning logits."""
    warp_weight: float = 0.1
    """Weight of the warp loss (mean squared cm)."""
    prior_weight: float = 1e-3
    """Weight of the Gaussian prior (sum of squared code entries)."""
    seed: int = 0
    """Random seed."""
    log_every: int = 25
    """Steps between log lines / progress calls."""
    checkpoint_every: int = 100
    """Steps between checkpoints."""
    threads: int = 1
    """Torch threads."""


@dataclass
class GdnaModel:
    """A trained model with what it needs to pose its identities."""

    net: GDNA
    names: list[str]
    betas: np.ndarray
    """(I, B) training identities' phenotype values."""
    bones: np.ndarray
    """(I, M, 2, 3) training identities' canonical bones."""
    config: GdnaConfig
    train: GdnaTrainConfig


def _build(cfg: GdnaConfig, n_id: int, beta_dim: int, bounds: np.ndarray) -> GDNA:
    return GDNA(cfg, n_id, beta_dim, len(MAIN_JOINTS), torch.as_tensor(bounds, dtype=torch.float32))


def _write_config(out: Path, cfg: GdnaConfig, tcfg: GdnaTrainConfig, names, betas, bones, bounds) -> None:
    doc = {"format": GDNA_MODEL_FORMAT, "version": 1, "model": asdict(cfg), "train": asdict(tcfg), "names": names,
           "betas": np.asarray(betas).tolist(), "bones": np.asarray(bones).tolist(),
           "bounds": np.asarray(bounds).tolist(), "main_joints": list(MAIN_JOINTS)}
    (out / "config.json").write_text(json.dumps(doc), encoding="utf-8")


def is_gdna_model(folder: str | Path) -> bool:
    """True if ``folder`` holds a gDNA model's config.json."""
    try:
        doc = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
        return isinstance(doc, dict) and doc.get("format") == GDNA_MODEL_FORMAT
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False


def load_gdna(folder: str | Path) -> GdnaModel:
    """A trained gDNA model from its folder, in eval mode."""
    folder = Path(folder)
    if not is_gdna_model(folder) or not (folder / CHECKPOINT).is_file():
        raise UserInputError(f"{folder}: not a gDNA model (needs config.json and {CHECKPOINT}; train one with "
                             "`avatarforge implicit train DATA -o MODEL --kind gdna`)")
    try:
        doc = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if doc.get("version") != 1 or doc.get("main_joints") != list(MAIN_JOINTS):
            raise ValueError("written by another version")
        cfg, tcfg = GdnaConfig(**doc["model"]), GdnaTrainConfig(**doc["train"])
        betas, bones = np.asarray(doc["betas"], np.float32), np.asarray(doc["bones"], np.float64)
        net = _build(cfg, len(doc["names"]), betas.shape[1], np.asarray(doc["bounds"]))
        state = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
        net.load_state_dict(state["model"])
    except (ValueError, KeyError, TypeError, RuntimeError, UnicodeDecodeError, IndexError) as exc:
        raise UserInputError(f"{folder}: damaged gDNA model ({exc})") from None
    net.eval()
    return GdnaModel(net, list(doc["names"]), betas, bones, cfg, tcfg)


def lr_factor(tcfg: GdnaTrainConfig, step: int) -> float:
    """Cosine decay from 1 to ``lr_final`` within the stage of ``step``."""
    start, length = (0, tcfg.coarse_steps) if step < tcfg.coarse_steps else (tcfg.coarse_steps, tcfg.detail_steps)
    t = min(max((step - start) / max(length, 1), 0.0), 1.0)
    return tcfg.lr_final + (1 - tcfg.lr_final) * 0.5 * (1 + math.cos(math.pi * t))


def _optimiser(net: GDNA, tcfg: GdnaTrainConfig, stage: int) -> torch.optim.Optimizer:
    if stage == 1:
        return torch.optim.Adam([
            {"params": list(net.shape_net.parameters()) + list(net.warp.parameters())
             + list(net.skinning.delta.parameters()), "lr": tcfg.lr},
            {"params": net.skinning.base.parameters(), "lr": tcfg.skin_lr},
            {"params": net.z_shape.parameters(), "lr": tcfg.code_lr}])
    return torch.optim.Adam([{"params": net.detail_net.parameters(), "lr": tcfg.lr},
                             {"params": net.z_detail.parameters(), "lr": tcfg.code_lr}])


def train_gdna(data: GdnaData, out: str | Path, cfg: GdnaConfig | None = None, tcfg: GdnaTrainConfig | None = None,
               progress: Callable[[dict], None] | None = None) -> GdnaModel:
    """Train (or resume) gDNA on the data's training identities; writes the model folder ``out``."""
    cfg, tcfg = cfg or GdnaConfig(), tcfg or GdnaTrainConfig()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(tcfg.threads)
    torch.manual_seed(tcfg.seed)
    train_ids = [i for i, s in enumerate(data.split) if s == "train"]
    if not len(data.sample_identity) or not train_ids:
        raise UserInputError("the data set has no posed samples of training identities")
    # codes are indexed by the position among the training identities
    code_of = {i: k for k, i in enumerate(train_ids)}
    names = [data.names[i] for i in train_ids]
    betas, bones = data.betas[train_ids], data.bones[train_ids]
    ck = out / CHECKPOINT
    net = _build(cfg, len(train_ids), data.betas.shape[1], data.bounds)
    step, elapsed, cpu = 0, 0.0, 0.0
    state = torch.load(ck, map_location="cpu", weights_only=True) if ck.exists() else None
    if state is None:
        skin = net.skinning.base
        nodes = skin.grid_points().reshape(-1, 3).double().numpy()
        w = weights_from_vertices(nodes, data.mean_vertices.astype(np.float64), data.mean_weights.astype(np.float64))
        skin.init_from_weights(torch.as_tensor(w).reshape(*skin.logits.shape[2:], -1))
    else:
        net.load_state_dict(state["model"])
        step, elapsed = int(state["step"]), float(state.get("elapsed", 0.0))
        cpu = float(state.get("cpu_seconds", 0.0))
    stage = 1 if step < tcfg.coarse_steps else 2
    opt = _optimiser(net, tcfg, stage)
    if state is not None and state.get("stage") == stage:
        opt.load_state_dict(state["optimizer"])
    _write_config(out, cfg, tcfg, names, betas, bones, data.bounds)
    rng = np.random.default_rng(tcfg.seed + step)
    sid = data.sample_identity
    T_all = torch.from_numpy(data.transforms).float()
    bones_t = torch.from_numpy(bones).float()
    betas_t = torch.from_numpy(betas).float()
    warp_rest, warp_mean = torch.from_numpy(data.warp_rest), torch.from_numpy(data.warp_mean)
    per = max(tcfg.points_per_step // tcfg.samples_per_step, 1)
    bce = nn.BCEWithLogitsLoss()
    total = tcfg.coarse_steps + tcfg.detail_steps
    use_rest = data.rest_points is not None and tcfg.rest_points_per_step > 0 and len(data.rest_points) == len(train_ids)
    if use_rest:
        rest_p, rest_o = torch.from_numpy(data.rest_points), torch.from_numpy(data.rest_occupancy.astype(np.float32))
        per_rest = max(tcfg.rest_points_per_step // tcfg.rest_identities_per_step, 1)
    for g in opt.param_groups:
        g.setdefault("initial_lr", g["lr"])
    t0, c0 = time.perf_counter(), time.process_time()
    net.train()

    def save() -> None:
        tmp = ck.with_suffix(".tmp")
        torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step, "stage": stage,
                    "elapsed": elapsed + time.perf_counter() - t0,
                    "cpu_seconds": cpu + time.process_time() - c0}, tmp)
        tmp.replace(ck)

    with (out / "log.jsonl").open("a", encoding="utf-8") as log:
        while step < total:
            if stage == 1 and step >= tcfg.coarse_steps:
                stage, opt = 2, _optimiser(net, tcfg, 2)
                for g in opt.param_groups:
                    g["initial_lr"] = g["lr"]
            for g in opt.param_groups:
                g["lr"] = g["initial_lr"] * lr_factor(tcfg, step)
            parts: dict[str, float] = {}
            loss = torch.zeros(())
            if stage == 1 and use_rest:
                for k in rng.integers(0, len(train_ids), tcfg.rest_identities_per_step):
                    z, beta = net.z_shape.weight[k], betas_t[k]
                    sel = torch.from_numpy(rng.integers(0, rest_p.shape[1], per_rest))
                    logits = net.canonical(rest_p[k][sel], beta, z)[0]
                    occ = bce(logits, rest_o[k][sel])
                    warp = ((net.shared(warp_rest[train_ids[k]], beta) - warp_mean) * 100).pow(2).sum(-1).mean()
                    term = tcfg.rest_weight * occ + tcfg.warp_weight * warp + tcfg.prior_weight * z.pow(2).sum()
                    parts["bce_rest"] = parts.get("bce_rest", 0.0) + float(occ.detach()) / tcfg.rest_identities_per_step
                    parts["warp_cm2"] = parts.get("warp_cm2", 0.0) + float(warp.detach()) / tcfg.rest_identities_per_step
                    loss = loss + term / tcfg.rest_identities_per_step
            for s in rng.integers(0, len(sid), tcfg.samples_per_step):
                k = code_of[int(sid[s])]
                z, zd, beta, b = net.z_shape.weight[k], net.z_detail.weight[k], betas_t[k], bones_t[k]
                if stage == 1 and use_rest and step % max(tcfg.posed_every, 1):
                    continue
                if stage == 1:
                    sel = torch.from_numpy(rng.integers(0, data.points.shape[1], per))
                    logits = net.posed(torch.from_numpy(data.points[s][sel]), T_all[s], b, beta, z)
                    occ = bce(logits, torch.from_numpy(data.occupancy[s][sel].astype(np.float32)))
                    term = occ + tcfg.prior_weight * z.pow(2).sum()
                    if not use_rest:  # (with canonical points the warp loss is in their term)
                        warp = ((net.shared(warp_rest[int(sid[s])], beta) - warp_mean) * 100).pow(2).sum(-1).mean()
                        term = term + tcfg.warp_weight * warp
                        parts["warp_cm2"] = parts.get("warp_cm2", 0.0) + float(warp.detach()) / tcfg.samples_per_step
                    parts["bce"] = parts.get("bce", 0.0) + float(occ.detach()) / tcfg.samples_per_step
                else:
                    sel = rng.integers(0, data.surface.shape[1], per)
                    xd = torch.from_numpy(data.surface[s][sel])
                    xb, ok = net.surface_roots(xd, T_all[s], b, beta, z.detach())
                    if not bool(ok.any()):
                        continue
                    n = net.posed_normals(xb[ok], T_all[s], beta, z.detach(), zd)
                    cos = (n * torch.from_numpy(data.normals[s][sel])[ok]).sum(-1).mean()
                    term = 1 - cos + tcfg.prior_weight * zd.pow(2).sum()
                    parts["normal_cos"] = parts.get("normal_cos", 0.0) + float(cos.detach()) / tcfg.samples_per_step
                loss = loss + term / tcfg.samples_per_step
            opt.zero_grad()
            if loss.requires_grad:
                loss.backward()
                opt.step()
            step += 1
            if step % tcfg.log_every == 0 or step == total or step == tcfg.coarse_steps:
                rec = {"step": step, "stage": stage, "loss": float(loss.detach()), **parts,
                       "seconds": elapsed + time.perf_counter() - t0, "cpu_seconds": cpu + time.process_time() - c0}
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if progress:
                    progress(rec)
            if step % tcfg.checkpoint_every == 0 or step == total or step == tcfg.coarse_steps:
                save()
    net.eval()
    return GdnaModel(net, names, betas, bones, cfg, tcfg)
