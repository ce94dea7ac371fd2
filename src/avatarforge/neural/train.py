"""Training: generator pre-training (part/UV maps), texture initialisation, main training.

Phases of a texture model (global step counter ``step``):

1. ``pretrain`` (steps ``[0, P)``): the generator learns to reproduce the ground-truth part
   assignments (cross-entropy over ``n + 1`` classes) and part UVs (L1 on the true part's UV
   channels at body pixels) rendered from the body model -- the DensePose role;
2. texture initialisation (once, at step ``P``): every training frame is unprojected into the
   texture stack through the pre-trained generator's argmax part and UV, and the colours are
   averaged per texel (texels nothing lands on take their part's mean colour);
3. ``train`` (steps ``[P, P + T)``): mask BCE + L1 (+ SSIM) on the image composited over the
   data set's background, generator and texture jointly, cosine learning-rate decay.

A Direct model only has phase 3. Training is resumable: ``checkpoint.pt`` (model, optimiser,
step) is written every ``checkpoint_every`` steps and at the end, and read back with
``torch.load(weights_only=True)``. ``log.jsonl`` gets one JSON object per logged step.
"""

from __future__ import annotations

import json
import pickle
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from avatarforge.errors import UserInputError
from avatarforge.neural.bones import THICKNESS, rasterize_bones
from avatarforge.neural.dataset import AvatarDataset
from avatarforge.neural.losses import image_metrics, mask_bce, ssim
from avatarforge.neural.model import DirectAvatar, ModelConfig, TexturedAvatar, build_model
from avatarforge.neural.skeleton import NUM_BONES

__all__ = [
    "TrainConfig", "TrainResult", "default_steps", "bone_batch", "train", "init_texture", "evaluate", "load_avatar", "Avatar",
    "predict",
]

CHECKPOINT = "checkpoint.pt"
CONFIG = "config.json"
LOG = "log.jsonl"


@dataclass
class TrainConfig:
    """Training settings; the defaults run on a CPU in tens of minutes at 128 x 128."""

    kind: str = "texture"
    """'texture' or 'direct'."""
    iterations: int = 1500
    """Main-phase steps (mask + RGB losses)."""
    pretrain_iterations: int = 500
    """Generator pre-training steps on part/UV maps (texture model only)."""
    batch_size: int = 8
    lr: float = 1e-3
    """Adam learning rate of the generator."""
    texture_lr: float = 5e-3
    """Adam learning rate of the texture stack."""
    l1_weight: float = 1.0
    ssim_weight: float = 0.5
    """Weight of (1 - SSIM) on RGB (0 disables it)."""
    mask_weight: float = 0.5
    """Weight of the mask BCE."""
    uv_weight: float = 2.0
    """Pre-training: weight of the UV L1 against the part cross-entropy."""
    n_parts: int = 15
    texture_size: int = 64
    base_channels: int = 16
    thickness: float = THICKNESS
    """Bone line half-width as a fraction of the image height."""
    init_frames: int = 256
    """Training frames (evenly spaced) averaged into the initial texture."""
    log_every: int = 25
    checkpoint_every: int = 250
    seed: int = 0

    def model_config(self) -> ModelConfig:
        return ModelConfig(kind=self.kind, in_channels=NUM_BONES, n_parts=self.n_parts,
                           texture_size=self.texture_size, base_channels=self.base_channels)

    @classmethod
    def for_size(cls, size: int, **overrides) -> TrainConfig:
        """The default budget at a frame side of ``size`` px (see :func:`default_steps`)."""
        iterations, pretrain = default_steps(size)
        return cls(**({"iterations": iterations, "pretrain_iterations": pretrain} | overrides))

    @property
    def total_steps(self) -> int:
        return self.iterations + (self.pretrain_iterations if self.kind == "texture" else 0)


def default_steps(size: int) -> tuple[int, int]:
    """(main, pre-training) steps of the full-quality budget at a frame side of ``size`` px, batch 8.

    Up to 128 px: 1500 + 500 (tens of minutes of one CPU core). Above, a step costs about
    (size / 128)^2 as much, so the budget shrinks to stay near one hour of one core: 600 + 250
    at 256 px (texture model: ~4.6 / ~3.0 CPU s per main / pre-training step at 256 px on the
    shared 2-core machine, i.e. ~58 CPU minutes; Direct ~2.5 s per step), scaled by
    (256 / size)^2 beyond.
    """
    if size <= 128:
        return 1500, 500
    if size <= 256:  # between: interpolate the per-pixel cost linearly
        a = (size * size - 128 * 128) / (256 * 256 - 128 * 128)
        return round(1500 + a * (600 - 1500)), round(500 + a * (250 - 500))
    k = (256 / size) ** 2
    return max(round(600 * k), 50), max(round(250 * k), 20)


@dataclass
class TrainResult:
    """What :func:`train` did."""

    steps: int
    seconds: float
    """Wall time of this call (not of earlier, resumed runs)."""
    last: dict = field(default_factory=dict)
    """The last logged losses."""


def bone_batch(data: AvatarDataset, idx, thickness: float = THICKNESS) -> torch.Tensor:
    """(B, C, H, W) bone stacks of frames ``idx``."""
    return torch.stack([rasterize_bones(data.joints[i], data.camera(int(i)), thickness=thickness) for i in idx])


def _targets(data: AvatarDataset, idx):
    img = torch.from_numpy(data.images[idx]).permute(0, 3, 1, 2).float() / 255
    mask = torch.from_numpy(data.masks[idx]).float()[:, None] / 255
    return img, mask


def _background(data: AvatarDataset) -> torch.Tensor:
    return torch.as_tensor(data.background, dtype=torch.float32)


def _pretrain_loss(model: TexturedAvatar, data: AvatarDataset, idx, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    logits, uv = model.maps(bone_batch(data, idx, cfg.thickness))
    part = torch.from_numpy(data.parts[idx].astype(np.int64))  # (B, H, W), n = background
    ce = F.cross_entropy(logits, part)
    n = model.config.n_parts
    body = part < n
    target_uv = torch.from_numpy(data.part_uv[idx].astype(np.float32))  # (B, H, W, 2)
    # The predicted UV of the true part at each body pixel.
    sel = part.clamp(max=n - 1)[:, None, None].expand(-1, 1, 2, -1, -1)  # (B, 1, 2, H, W)
    pred_uv = torch.gather(uv, 1, sel)[:, 0].permute(0, 2, 3, 1)  # (B, H, W, 2)
    l_uv = (pred_uv - target_uv).abs().sum(-1)[body].mean() if body.any() else ce * 0
    return ce + cfg.uv_weight * l_uv, {"ce": float(ce.detach()), "uv_l1": float(l_uv.detach())}


def _train_loss(model, data: AvatarDataset, idx, cfg: TrainConfig) -> tuple[torch.Tensor, dict]:
    img, mask = _targets(data, idx)
    out = model(bone_batch(data, idx, cfg.thickness), _background(data))
    l1 = (out.rgb - img).abs().mean()
    bce = mask_bce(out.log_mask, out.log_background, mask)
    loss = cfg.l1_weight * l1 + cfg.mask_weight * bce
    logs = {"l1": float(l1.detach()), "bce": float(bce.detach())}
    if cfg.ssim_weight > 0:
        s = ssim(out.rgb, img).mean()
        loss = loss + cfg.ssim_weight * (1 - s)
        logs["ssim"] = float(s.detach())
    return loss, logs


@torch.no_grad()
def init_texture(model: TexturedAvatar, data: AvatarDataset, idx, thickness: float = THICKNESS, batch: int = 16) -> None:
    """Average the frames ``idx`` unprojected into the texture stack through the generator's
    argmax part and UV (body pixels of the frames' masks only)."""
    n, t = model.config.n_parts, model.config.texture_size
    acc = torch.zeros(n * t * t, 3, dtype=torch.float64)
    cnt = torch.zeros(n * t * t, dtype=torch.float64)
    part_sum = torch.zeros(n, 3, dtype=torch.float64)
    part_cnt = torch.zeros(n, dtype=torch.float64)
    for s in range(0, len(idx), batch):
        ib = idx[s : s + batch]
        img, mask = _targets(data, ib)
        logits, uv = model.maps(bone_batch(data, ib, thickness))
        part = logits.argmax(1)  # (B, H, W)
        ok = (part < n) & (mask[:, 0] > 0.5)
        p = part[ok]
        puv = uv.permute(0, 3, 4, 1, 2)[ok]  # (N, n, 2)
        uvp = puv[torch.arange(len(p)), p]  # (N, 2) UV of the chosen part
        texel = (uvp * t).long().clamp(0, t - 1)
        flat = p * t * t + texel[:, 1] * t + texel[:, 0]
        col = img.permute(0, 2, 3, 1)[ok].double()
        acc.index_add_(0, flat, col)
        cnt.index_add_(0, flat, torch.ones_like(flat, dtype=torch.float64))
        part_sum.index_add_(0, p, col)
        part_cnt.index_add_(0, p, torch.ones_like(p, dtype=torch.float64))
    part_mean = torch.where(part_cnt[:, None] > 0, part_sum / part_cnt.clamp_min(1)[:, None], torch.full_like(part_sum, 0.5))
    fill = part_mean.repeat_interleave(t * t, 0)
    tex = torch.where(cnt[:, None] > 0, acc / cnt.clamp_min(1)[:, None], fill)
    model.texture.copy_(tex.view(n, t, t, 3).permute(0, 3, 1, 2).float())


def _optimizer(model, cfg: TrainConfig, phase: str) -> torch.optim.Adam:
    if phase == "pretrain":
        return torch.optim.Adam(model.generator.parameters(), lr=cfg.lr)
    groups = [{"params": model.generator.parameters(), "lr": cfg.lr}]
    if isinstance(model, TexturedAvatar):
        groups.append({"params": [model.texture], "lr": cfg.texture_lr})
    return torch.optim.Adam(groups)


def save_checkpoint(out: Path, model, opt, step: int, cfg: TrainConfig, data_meta: dict, data: AvatarDataset) -> None:
    from avatarforge.util.atomic import atomic_path, atomic_write_text

    with atomic_path(out / CHECKPOINT) as tmp:
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step}, tmp)
    h, w = data.size
    train_idx = data.indices("train")
    doc = {"format": "avatarforge-neural-avatar", "version": 1, "model": model.config.to_dict(), "train": asdict(cfg),
           "size": [h, w], "background": [float(x) for x in data.background],
           "camera": data.cameras[int(train_idx[0]) if len(train_idx) else 0].tolist(),
           "data": data_meta, "step": step}
    atomic_write_text(out / CONFIG, json.dumps(doc, indent=1))


def train(
    data: AvatarDataset,
    out_dir: str | Path,
    config: TrainConfig | None = None,
    resume: bool = True,
    pretrain_data: AvatarDataset | None = None,
    on_log: Callable[[dict], None] | None = None,
    max_seconds: float | None = None,
) -> TrainResult:
    """Train (or resume training) an avatar on ``data``'s train split into ``out_dir``.

    ``pretrain_data`` supplies the part/UV maps of the pre-training when ``data`` has none (a
    video): e.g. a synthetic data set of the body model. ``max_seconds`` stops early (after a
    checkpoint) -- call again to resume.
    """
    cfg = config or TrainConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model_config())
    textured = isinstance(model, TexturedAvatar)
    pre = pretrain_data if pretrain_data is not None else data
    if textured and cfg.pretrain_iterations > 0 and pre.parts is None:
        raise UserInputError("pre-training needs part/UV maps: this data set has none; pass synthetic pretrain data")
    train_idx = data.indices("train")
    if len(train_idx) == 0:
        raise UserInputError("the data set has no training frames")
    pre_idx = pre.indices("train")
    p_steps = cfg.pretrain_iterations if textured else 0
    step = 0
    opt = _optimizer(model, cfg, "pretrain" if p_steps > 0 else "train")
    ck = out / CHECKPOINT
    if resume and ck.is_file() and (out / CONFIG).is_file():
        saved = json.loads((out / CONFIG).read_text()).get("model", {})
        if saved != model.config.to_dict():
            raise UserInputError(f"{out} holds a different model ({saved.get('kind')}, {saved}); "
                                 "choose another folder or restart it (--force)")
    if resume and ck.is_file():
        state = torch.load(ck, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
        step = int(state["step"])
        saved_groups = len(state["optimizer"]["param_groups"])
        opt = _optimizer(model, cfg, "pretrain" if textured and saved_groups == 1 else "train")
        opt.load_state_dict(state["optimizer"])
    total = p_steps + cfg.iterations
    start, cpu_start = time.perf_counter(), time.process_time()
    last: dict = {}
    data_meta = dict(data.meta or {})
    log_f = open(out / LOG, "a" if resume else "w", encoding="utf-8")
    try:
        while step < total:
            phase = "pretrain" if step < p_steps else "train"
            if phase == "train" and textured and len(opt.param_groups) == 1:
                # Entering the main phase (the optimiser is still the pre-training one, also
                # when resuming from a checkpoint written at the boundary).
                model.eval()
                pick = np.linspace(0, len(train_idx) - 1, min(cfg.init_frames, len(train_idx))).round().astype(int)
                init_texture(model, data, train_idx[np.unique(pick)], cfg.thickness)
                opt = _optimizer(model, cfg, "train")
            model.train()
            rng = np.random.default_rng(cfg.seed * 1_000_003 + step)
            if phase == "pretrain":
                idx = np.sort(rng.choice(pre_idx, min(cfg.batch_size, len(pre_idx)), replace=False))
                loss, logs = _pretrain_loss(model, pre, idx, cfg)
            else:
                frac = (step - p_steps) / max(cfg.iterations, 1)
                scale = 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac))  # cosine decay to 5 %
                for g, base in zip(opt.param_groups, (cfg.lr, cfg.texture_lr)):
                    g["lr"] = base * scale
                idx = np.sort(rng.choice(train_idx, min(cfg.batch_size, len(train_idx)), replace=False))
                loss, logs = _train_loss(model, data, idx, cfg)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            if step % cfg.log_every == 0 or step == total:
                last = {"step": step, "phase": phase, "loss": float(loss.detach()), **logs,
                        "seconds": round(time.perf_counter() - start, 2),
                        "cpu_seconds": round(time.process_time() - cpu_start, 2)}
                log_f.write(json.dumps(last) + "\n")
                log_f.flush()
                if on_log is not None:
                    on_log(last)
            timed_out = max_seconds is not None and time.perf_counter() - start > max_seconds
            if step % cfg.checkpoint_every == 0 or step == total or timed_out:
                save_checkpoint(out, model, opt, step, cfg, data_meta, data)
            if timed_out:
                break
    finally:
        log_f.close()
    if step >= total and not (out / CONFIG).exists():
        save_checkpoint(out, model, opt, step, cfg, data_meta, data)
    return TrainResult(steps=step, seconds=time.perf_counter() - start, last=last)


@dataclass
class Avatar:
    """A trained avatar loaded from its folder."""

    model: TexturedAvatar | DirectAvatar
    size: tuple[int, int]
    """(height, width) it was trained at."""
    background: torch.Tensor
    camera_row: np.ndarray
    """A training camera (dataset camera row), the default view."""
    thickness: float
    doc: dict


def load_avatar(model_dir: str | Path) -> Avatar:
    """Load a model folder written by :func:`train` (weights read with ``weights_only=True``)."""
    d = Path(model_dir)
    if not (d / CONFIG).is_file() or not (d / CHECKPOINT).is_file():
        raise UserInputError(f"{d}: not a neural avatar folder (needs {CONFIG} and {CHECKPOINT}); "
                             "train one with `avatarforge neural train`")
    doc = json.loads((d / CONFIG).read_text())
    if doc.get("format") != "avatarforge-neural-avatar":
        raise UserInputError(f"{d / CONFIG}: not a neural avatar config")
    model = build_model(ModelConfig(**doc["model"]))
    try:
        state = torch.load(d / CHECKPOINT, map_location="cpu", weights_only=True)
        model.load_state_dict(state["model"])
    except (RuntimeError, KeyError, EOFError, OSError, pickle.UnpicklingError) as exc:
        raise UserInputError(f"{d / CHECKPOINT}: unreadable checkpoint ({type(exc).__name__})") from None
    model.eval()
    return Avatar(model, tuple(doc["size"]), torch.tensor(doc["background"], dtype=torch.float32),
                  np.asarray(doc["camera"], np.float64), float(doc["train"]["thickness"]), doc)


@torch.no_grad()
def predict(model, data: AvatarDataset, idx, thickness: float = THICKNESS, batch: int = 16) -> torch.Tensor:
    """(N, 3, H, W) images of frames ``idx`` composited over the data set's background."""
    model.eval()
    outs = [model(bone_batch(data, idx[s : s + batch], thickness), _background(data)).rgb.clamp(0, 1)
            for s in range(0, len(idx), batch)]
    return torch.cat(outs)


@torch.no_grad()
def evaluate(model, data: AvatarDataset, split: str, thickness: float = THICKNESS, limit: int | None = None) -> dict[str, float]:
    """Mean SSIM, PSNR and L1 over the frames of ``split`` (the first ``limit`` of them)."""
    idx = data.indices(split)[:limit]
    if len(idx) == 0:
        raise UserInputError(f"the data set has no {split!r} frames")
    pred = predict(model, data, idx, thickness)
    target, _ = _targets(data, idx)
    m = image_metrics(pred, target)
    return {k: float(v.mean()) for k, v in m.items()}
