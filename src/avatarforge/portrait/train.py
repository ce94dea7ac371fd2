"""Training of the three networks on generated pairs, as in the reference, scaled down.

Stages (run in this order; each loads the finished earlier ones):

1. ``morpher``: rest image + (eyes, mouth) -> morphed image; L1 on the output.
2. ``rotator``: morphed image + (head x, head y, neck z) -> posed image; L1 on the colour-change
   output plus L1 on the appearance-flow output.
3. ``combiner``: the frozen rotator's two outputs + rotation -> posed image; L1 on the output.

Adam (lr 1e-4, betas (0.5, 0.999)). Each stage writes ``<stage>.ckpt`` (network, optimiser,
step, RNG state; atomically, every ``ckpt_every`` steps and at the end) and appends
``{"step", "loss", "seconds"}`` lines to ``<stage>.log.jsonl`` (plus ``val_loss`` every
``val_every`` steps). Re-running continues from the checkpoint up to ``steps``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from avatarforge.errors import UserInputError
from avatarforge.portrait.image import resize, to_tensor
from avatarforge.portrait.networks import REDUCED, NetConfig
from avatarforge.portrait.synth.dataset import PairSet, load_split
from avatarforge.portrait.weights import build_nets, save_checkpoint
from avatarforge.util.atomic import atomic_path

__all__ = ["STAGES", "TrainConfig", "StageResult", "train_stage", "export_checkpoint", "stage_losses", "batch_tensors",
           "changed_pixel_mean"]

STAGES = ("morpher", "rotator", "combiner")


@dataclass
class TrainConfig:
    """One training stage."""

    steps: int = 2000
    """Total optimiser steps of the stage (a resumed run stops here too)."""
    batch: int = 8
    """Samples per step (the reference used 25)."""
    lr: float = 1e-4
    """Adam learning rate."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas."""
    net: NetConfig = field(default_factory=lambda: REDUCED)
    """Network size."""
    ckpt_every: int = 200
    """Steps between checkpoints."""
    val_every: int = 500
    """Steps between validation losses (0 = never)."""
    seed: int = 0
    """Seed of batch sampling and initialisation."""
    max_seconds: float | None = None
    """Stop (with a checkpoint) after this much wall time; re-run to continue."""
    focus: float = 0.0
    """Extra L1 on the pixels the target changes (any channel differs from the input by more
    than 0.05), averaged over those pixels, times this weight. 0 = the reference's plain L1."""
    init: str | None = None
    """A one-file checkpoint (e.g. the bundled one) whose weights start the stage when the work
    dir has no checkpoint of it yet (fine-tuning; the optimiser and step count start afresh)."""


@dataclass
class StageResult:
    stage: str
    step: int
    """Steps done in total."""
    last_loss: float
    """Mean training loss over the last logged window."""
    seconds: float
    """Wall time of this run."""
    finished: bool
    """Whether ``steps`` was reached."""


def batch_tensors(data: PairSet, idx: np.ndarray, size: int):
    """One training batch (rest, morphed, posed images at ``size``, pose vectors) of the pairs ``idx``."""
    rest = resize(to_tensor(data.rest[data.ident[idx]]), size)
    morphed = resize(to_tensor(data.morphed[idx]), size)
    posed = resize(to_tensor(data.posed[idx]), size)
    pose = torch.from_numpy(data.pose[idx])
    return rest, morphed, posed, pose


def changed_pixel_mean(err: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of ``err`` over the pixels where ``target`` differs from ``source`` (0 if none)."""
    mask = ((target - source).abs().amax(1, keepdim=True) > 0.05).to(err.dtype)
    return (err * mask).sum() / (mask.sum() * err.shape[1]).clamp_min(1.0)


def stage_losses(stage: str, nets, batch, focus: float = 0.0) -> torch.Tensor:
    """The training loss of ``stage`` on one batch (rest, morphed, posed, pose); see
    :attr:`TrainConfig.focus` for ``focus`` (morpher stage only)."""
    morpher, rotator, combiner = nets
    rest, morphed, posed, pose = batch
    if stage == "morpher":
        err = (morpher(rest, pose[:, 3:]).image - morphed).abs()
        return err.mean() + (focus * changed_pixel_mean(err, rest, morphed) if focus else 0.0)
    if stage == "rotator":
        r = rotator(morphed, pose[:, :3])
        return (r.color_changed - posed).abs().mean() + (r.resampled - posed).abs().mean()
    if stage == "combiner":
        with torch.no_grad():
            r = rotator(morphed, pose[:, :3])
        return (combiner(r.color_changed, r.resampled, pose[:, :3]).image - posed).abs().mean()
    raise UserInputError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")


def _load_trained(work: Path, stage: str, net: torch.nn.Module) -> None:
    path = work / f"{stage}.ckpt"
    if not path.exists():
        raise UserInputError(f"{path} not found: train the {stage} stage first")
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])


def _init_from(net: torch.nn.Module, k: int, cfg: TrainConfig) -> None:
    from avatarforge.portrait.weights import load_checkpoint

    nets, _ = load_checkpoint(cfg.init)
    if nets[k].config != cfg.net:
        raise UserInputError(f"{cfg.init} holds networks of another size ({nets[k].config}); cannot start from it")
    net.load_state_dict(nets[k].state_dict())


def train_stage(
    stage: str, data_dir: str | os.PathLike, work_dir: str | os.PathLike, cfg: TrainConfig | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> StageResult:
    """Train (or continue training) one stage; see the module docstring."""
    cfg = cfg or TrainConfig()  # a fresh default per call (a default instance would be shared)
    if stage not in STAGES:
        raise UserInputError(f"unknown stage {stage!r}: choose one of {', '.join(STAGES)}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    nets = build_nets(cfg.net)
    k = STAGES.index(stage)
    if stage == "combiner":  # trained on the frozen rotator's outputs
        _load_trained(work, "rotator", nets[1])
    for n in nets:
        n.eval()
    net = nets[k]
    net.train()
    if stage == "rotator":
        # The appearance-flow head starts at zero (the identity warp). He-initialised, as in the
        # reference, it starts from a noisy warp that ~1,000 CPU steps did not clean up
        # (measured: the flow path stayed noise while the colour path learned).
        torch.nn.init.zeros_(nets[1].zhou_grid_change.weight)
    if cfg.init is not None and not (work / f"{stage}.ckpt").exists():
        _init_from(net, k, cfg)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr, betas=tuple(cfg.betas))
    ckpt_path, log_path = work / f"{stage}.ckpt", work / f"{stage}.log.jsonl"
    step, rng = 0, np.random.default_rng([cfg.seed, k])
    if ckpt_path.exists():
        ck = torch.load(ckpt_path, map_location="cpu", weights_only=True)
        if ck["net"] != asdict(cfg.net):
            raise UserInputError(f"{ckpt_path} was trained with another network size; use another work dir")
        net.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        step = int(ck["step"])
        rng = np.random.default_rng()
        rng.bit_generator.state = json.loads(ck["rng"])
        if log_path.exists():  # drop lines logged after the checkpoint (an interrupted run)
            kept = [x for x in log_path.read_text().splitlines() if x.strip() and json.loads(x)["step"] <= step]
            log_path.write_text("".join(k + "\n" for k in kept))
    train = load_split(data_dir, "train")
    val = load_split(data_dir, "val") if cfg.val_every else None

    def save() -> None:
        with atomic_path(ckpt_path) as tmp:
            torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "step": step,
                        "net": asdict(cfg.net), "rng": json.dumps(rng.bit_generator.state)}, tmp)

    start, window, last = time.perf_counter(), [], float("nan")
    with open(log_path, "a") as log:
        while step < cfg.steps:
            if cfg.max_seconds is not None and time.perf_counter() - start > cfg.max_seconds:
                break
            idx = rng.integers(0, len(train), cfg.batch)
            loss = stage_losses(stage, nets, batch_tensors(train, idx, cfg.net.image_size), cfg.focus)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            window.append(float(loss.detach()))
            if step % 25 == 0 or step == cfg.steps:
                last = float(np.mean(window))
                rec = {"step": step, "loss": last, "seconds": round(time.perf_counter() - start, 2)}
                window = []
                if val is not None and (step % cfg.val_every == 0 or step == cfg.steps):
                    rec["val_loss"] = _val_loss(stage, nets, val, cfg.net.image_size)
                log.write(json.dumps(rec) + "\n")
                log.flush()
                if progress:
                    progress(step, cfg.steps, last)
            if step % cfg.ckpt_every == 0:
                save()
    save()
    return StageResult(stage, step, last, time.perf_counter() - start, step >= cfg.steps)


def _val_loss(stage: str, nets, val: PairSet, size: int, n: int = 32) -> float:
    net = nets[STAGES.index(stage)]
    net.eval()
    idx = np.arange(min(n, len(val)))
    with torch.no_grad():
        out = float(stage_losses(stage, nets, batch_tensors(val, idx, size)))
    net.train()
    return out


def export_checkpoint(work_dir: str | os.PathLike, out: str | os.PathLike, net: NetConfig = REDUCED,
                      meta: dict | None = None, half: bool = False) -> Path:
    """The three trained stages of ``work_dir`` as one inference checkpoint."""
    nets = build_nets(net)
    for stage, n in zip(STAGES, nets):
        _load_trained(Path(work_dir), stage, n)
    return save_checkpoint(out, nets, meta, half=half)
