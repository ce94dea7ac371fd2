"""Train the eye alignment network (:class:`.eyes.EyeNet`) on :mod:`.eyes_data`'s set.

    python -m avatarforge.dev.iris_train --out PATH [--samples N] [--epochs E] [--seed S]
        [--metrics JSON] [--resume] [--data EYESET.npz] [--threads T]

As the thesis: MSE loss (pixels squared), Adam with lr 1e-4. Added here: a cosine decay of
the learning rate to 10% over the run, and the weights of the epoch with the lowest
validation MSE are the ones written. Each epoch shows every training eye once, freshly
augmented (:func:`.eyes_data.augment`); the photos' eyes are oversampled to
``photo_share`` of an epoch. Validation and test use the clean crop from each sample's own
corners. CPU only.

Outputs: ``--out`` gets the state dict alone (what :func:`.eyes.load_eye_net` reads with
``weights_only=True``), ``--metrics`` (default ``<out>.json``) the train/val/test errors. A
resumable checkpoint (model, optimiser, epoch, RNG state, best weights) is written after
every epoch to ``cache_dir()/eyes/resume-<key>.pt``; ``--resume`` continues from it.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn

from avatarforge.dev.iris_data import SOURCES, SPLITS, EyeDataConfig, EyeSet, augment, clean_crop, load_eye_set
from avatarforge.perception.iris import EyeNet, to_tensor

__all__ = ["TrainConfig", "ErrorStats", "TrainResult", "train", "evaluate", "main"]


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (defaults: a few minutes on two CPU cores)."""

    samples: int = 1200
    """Rendered eyes to generate (two per render, four renders per identity)."""
    epochs: int = 300
    """Passes over the training eyes (each freshly augmented)."""
    seed: int = 0
    """Seed of the data set, the split, the initial weights and the augmentation."""
    batch: int = 64
    """Mini-batch size."""
    lr: float = 1e-4
    """Adam learning rate (the thesis's 1e-4)."""
    lr_final: float = 0.1
    """Final learning rate as a fraction of ``lr`` (cosine decay); 1 keeps it constant."""
    photo_share: float = 0.05
    """Fraction of each epoch drawn from the (few) training photos' eyes."""
    threads: int = 1
    """torch CPU threads (1: this small network gains nothing from more on a shared CPU)."""

    def data_config(self) -> EyeDataConfig:
        return EyeDataConfig(identities=max(3, round(self.samples / 8)), renders_per_identity=4, seed=self.seed)

    def key(self) -> str:
        """Identifies a run for resuming (everything but the epoch count and threads)."""
        d = {k: v for k, v in asdict(self).items() if k not in ("epochs", "threads")}
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ErrorStats:
    """Errors of iris predictions in crop pixels (40 x 40 crops)."""

    n: int
    """Eyes evaluated."""
    mse: float
    """Mean squared error per coordinate (px^2): what the loss measures."""
    rmse: float
    """sqrt(mse) (px)."""
    mean_px: float
    """Mean Euclidean distance (px)."""
    median_px: float
    p95_px: float
    """95th percentile of the Euclidean distance (px)."""


@dataclass
class TrainResult:
    net: EyeNet
    """The best-validation network (eval mode)."""
    best_epoch: int
    history: list[dict] = field(default_factory=list)
    """Per epoch: train loss, val MSE, learning rate, seconds."""


def _crops(data: EyeSet, idx: np.ndarray, rng: np.random.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops (augmented when ``rng`` is given, else clean) and labels of samples ``idx``."""
    xs, ys = [], []
    for i in idx:
        c, y = (augment if rng is not None else clean_crop)(
            data.images[i], data.corners[i], data.iris[i], *((rng,) if rng is not None else ()))
        xs.append(c)
        ys.append(y)
    return to_tensor(np.stack(xs)), torch.tensor(np.stack(ys), dtype=torch.float32)


@torch.no_grad()
def evaluate(net: EyeNet, data: EyeSet, idx: np.ndarray, rng: np.random.Generator | None = None) -> ErrorStats:
    """Errors of ``net`` on samples ``idx`` (clean crops, or augmented ones with ``rng``)."""
    if len(idx) == 0:
        return ErrorStats(0, float("nan"), float("nan"), float("nan"), float("nan"), float("nan"))
    was = net.training
    net.eval()
    errs = []
    for s in range(0, len(idx), 256):
        x, y = _crops(data, idx[s:s + 256], rng)
        errs.append((net(x) - y).numpy())
    net.train(was)
    e = np.concatenate(errs).astype(np.float64)
    d = np.linalg.norm(e, axis=1)
    mse = float((e**2).mean())
    return ErrorStats(len(e), mse, math.sqrt(mse), float(d.mean()), float(np.median(d)), float(np.percentile(d, 95)))


def _epoch_indices(data: EyeSet, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    renders, photos = data.indices("train", "render"), data.indices("train", "photo")
    idx = renders
    if len(photos) and cfg.photo_share > 0:
        n = int(round(cfg.photo_share * len(renders) / (1 - cfg.photo_share)))
        idx = np.concatenate([renders, rng.choice(photos, n)])
    return rng.permutation(idx)


def _lr(cfg: TrainConfig, epoch: int) -> float:
    t = epoch / max(1, cfg.epochs - 1)
    return cfg.lr * (cfg.lr_final + (1 - cfg.lr_final) * 0.5 * (1 + math.cos(math.pi * t)))


def train(cfg: TrainConfig, data: EyeSet, checkpoint: Path | None = None, resume: bool = False,
          log: Callable[[str], None] = print, max_steps: int | None = None) -> TrainResult:
    """Train an :class:`EyeNet` on ``data`` (see the module doc).

    ``checkpoint``: where to write the resumable state after every epoch (None: nowhere);
    with ``resume`` and an existing ``checkpoint``, training continues after its last epoch.
    ``max_steps`` stops after that many optimiser steps (for tests).
    """
    torch.manual_seed(cfg.seed)
    net = EyeNet()
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed + 1)
    start, best, best_state, history = 0, float("inf"), None, []
    if resume and checkpoint is not None and Path(checkpoint).exists():
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)  # our own file: holds RNG state
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        start, best, best_state, history = state["epoch"] + 1, state["best_val_mse"], state["best_model"], state["history"]
        log(f"resuming from {checkpoint} after epoch {start} (best val MSE {best:.3f} px^2)")
    val_idx = data.indices("val")
    loss_fn = nn.MSELoss()
    steps = 0
    for epoch in range(start, cfg.epochs):
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = _lr(cfg, epoch)
        net.train()
        idx = _epoch_indices(data, cfg, rng)
        total, count = 0.0, 0
        for s in range(0, len(idx) - cfg.batch // 2, cfg.batch):  # drop a tiny last batch (batch norm)
            x, y = _crops(data, idx[s:s + cfg.batch], rng)
            loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(y)
            count += len(y)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        val = evaluate(net, data, val_idx)
        row = {"epoch": epoch, "train_loss": total / max(count, 1), "val_mse": val.mse, "lr": opt.param_groups[0]["lr"],
               "seconds": time.perf_counter() - t0}
        history.append(row)
        if not val.mse >= best:  # also takes the first epoch when val is empty (nan)
            best, best_state = val.mse, copy.deepcopy(net.state_dict())
        log(f"epoch {epoch + 1}/{cfg.epochs}  train MSE {row['train_loss']:.3f}  val MSE {val.mse:.3f} px^2 "
            f"(RMSE {val.rmse:.2f} px)  lr {row['lr']:.2e}  {row['seconds']:.1f}s")
        if checkpoint is not None:
            from avatarforge.util.atomic import atomic_path

            with atomic_path(checkpoint) as tmp:
                torch.save({"model": net.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch,
                            "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                            "best_val_mse": best, "best_model": best_state, "history": history,
                            "config": asdict(cfg)}, tmp)
        if max_steps is not None and steps >= max_steps:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    best_epoch = min(range(len(history)), key=lambda i: (history[i]["val_mse"], i)) if history else -1
    return TrainResult(net=net.eval(), best_epoch=best_epoch, history=history)


def _sizes(data: EyeSet) -> dict:
    out = {}
    for split in SPLITS:
        for source in SOURCES:
            idx = data.indices(split, source)
            out[f"{split}_{source}"] = {"eyes": int(len(idx)), "identities": sorted({data.identity_names[i] for i in data.identity[idx]})
                                        if source == "photo" else int(len(set(data.identity[idx].tolist())))}
    return out


def report(net: EyeNet, data: EyeSet, seed: int = 0) -> dict:
    """Errors per split (clean crops), per source, and on augmented test crops (fixed seed)."""
    def stats(idx, rng=None):
        return asdict(evaluate(net, data, idx, rng)) if len(idx) else None  # None: no such eyes (JSON has no NaN)

    out = {}
    for split in SPLITS:
        out[split] = stats(data.indices(split))
        for source in SOURCES:
            out[f"{split}_{source}"] = stats(data.indices(split, source))
    out["test_augmented"] = stats(data.indices("test"), np.random.default_rng(seed + 7))
    return out


def _field_docs(cls) -> dict[str, str]:
    """The attribute docstrings of a dataclass (the string right after each field)."""
    import ast
    import inspect
    import textwrap

    body = ast.parse(textwrap.dedent(inspect.getsource(cls))).body[0].body
    docs = {}
    for a, b in zip(body, body[1:]):
        if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
            docs[a.target.id] = " ".join(str(b.value.value).split())
    return docs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m avatarforge.dev.iris_train", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, required=True, help="where to write the state dict (.pt)")
    p.add_argument("--metrics", type=Path, default=None, help="metrics JSON (default: <out>.json)")
    p.add_argument("--data", type=Path, default=None, help="use this saved EyeSet (.npz) instead of generating one")
    p.add_argument("--resume", action="store_true", help="continue from this run's checkpoint in the cache")
    p.add_argument("--checkpoint", type=Path, default=None, help="resumable checkpoint (default: cache_dir()/eyes/resume-<key>.pt)")
    docs = _field_docs(TrainConfig)
    for f in fields(TrainConfig):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default, help=f"{docs.get(f.name, f.name)} (default {f.default})")
    return p


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    threads = torch.get_num_threads()
    torch.set_num_threads(cfg.threads)
    try:
        _run(args, cfg, argv)
    finally:
        torch.set_num_threads(threads)
    return 0


def _run(args: argparse.Namespace, cfg: TrainConfig, argv: list[str]) -> None:
    from avatarforge.util.paths import cache_dir

    t0 = time.perf_counter()
    if args.data is not None:
        data = EyeSet.load(args.data)
    else:
        data = load_eye_set(cfg.data_config(), progress=lambda i, n: print(f"rendering identity {i}/{n}", flush=True) if i % 10 == 0 or i == n else None)
    t_data = time.perf_counter() - t0
    sizes = _sizes(data)
    print(f"data: {len(data)} eyes ({t_data:.0f}s): " + ", ".join(f"{k} {v['eyes']}" for k, v in sizes.items()), flush=True)
    checkpoint = args.checkpoint or cache_dir() / "eyes" / f"resume-{cfg.key()}.pt"
    t1 = time.perf_counter()
    result = train(cfg, data, checkpoint=checkpoint, resume=args.resume, log=lambda s: print(s, flush=True))
    t_train = time.perf_counter() - t1
    from avatarforge.util.atomic import atomic_path

    with atomic_path(args.out) as tmp:
        torch.save(result.net.state_dict(), tmp)
    metrics = {
        "command": "python -m avatarforge.dev.iris_train " + shlex.join(argv),
        "config": asdict(cfg),
        "data_config": data.config if args.data is not None else asdict(cfg.data_config()),
        "units": "errors in pixels of the 40x40 eye crop (corner distance = 24 px); mse = mean squared error per coordinate",
        "loss": "MSE", "optimizer": f"Adam lr {cfg.lr:g}, cosine decay to {cfg.lr_final:g} x lr; best-val epoch kept",
        "best_epoch": result.best_epoch + 1,
        "metrics": report(result.net, data, cfg.seed),
        "data_sizes": sizes,
        "parameters": sum(p.numel() for p in result.net.parameters()),
        "weights_bytes": Path(args.out).stat().st_size,
        "seconds": {"data": round(t_data, 1), "train": round(t_train, 1)},
        "torch": torch.__version__, "threads": cfg.threads,
        "history": result.history,
    }
    out_json = args.metrics or Path(args.out).with_suffix(".json")
    with atomic_path(out_json) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    m = metrics["metrics"]
    print(f"wrote {args.out} and {out_json}: RMSE train {m['train']['rmse']:.2f}  val {m['val']['rmse']:.2f}  "
          f"test {m['test']['rmse']:.2f} px", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
