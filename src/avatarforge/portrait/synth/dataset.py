"""Paired training data: (rest image, pose, morphed image, posed image) per sample.

Identities are split by index, so no character of the test split is seen in training:
``train`` = identities [0, n_train), ``val`` = the next n_val, ``test`` = the next n_test.
Each split is one ``<split>.npz`` (uint8 sRGB RGBA images, straight alpha) under the output
directory, plus ``meta.json``. Generated data is a cache: never commit it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from avatarforge.portrait.pose import TalkingPose
from avatarforge.util.atomic import atomic_path, atomic_write_text

__all__ = ["DataConfig", "PairSet", "generate_dataset", "load_split", "sample_pose", "default_data_dir", "SPLITS"]

SPLITS = ("train", "val", "test")


def default_data_dir() -> Path:
    """``$AVATARFORGE_CACHE/portrait_data`` (default ``~/.cache/avatarforge/portrait_data``)."""
    root = os.environ.get("AVATARFORGE_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "avatarforge")
    return Path(root) / "portrait_data"


@dataclass
class DataConfig:
    """What to generate."""

    size: int = 128
    """Image side in pixels (256 is the reference size; 128 trains on a CPU)."""
    n_train: int = 240
    """Training identities."""
    n_val: int = 16
    """Validation identities."""
    n_test: int = 40
    """Held-out test identities."""
    per_identity: int = 8
    """Posed samples per identity."""
    supersample: int = 2
    """Render at this many times the size, then box-filter (anti-aliasing)."""
    seed: int = 0
    """Seed of identities and poses."""


@dataclass
class PairSet:
    """One split in memory (uint8 sRGB RGBA, straight alpha)."""

    rest: np.ndarray
    """(I, S, S, 4) each identity's neutral image."""
    morphed: np.ndarray
    """(N, S, S, 4) the sample's eyes and mouth applied, no rotation."""
    posed: np.ndarray
    """(N, S, S, 4) the full pose applied."""
    pose: np.ndarray
    """(N, 6) float32 pose vectors (published order)."""
    ident: np.ndarray
    """(N,) int index into ``rest`` of each sample's identity."""
    identity_ids: np.ndarray
    """(I,) global identity index of each row of ``rest``."""

    def __len__(self) -> int:
        return len(self.pose)


def sample_pose(rng: np.random.Generator) -> TalkingPose:
    """Uniform rotations in [-1, 1]; eyes and mouth 0 or 1 a quarter of the time each, else uniform."""
    def morph() -> float:
        u = rng.uniform()
        return 0.0 if u < 0.25 else 1.0 if u < 0.5 else float(rng.uniform())

    r = rng.uniform(-1, 1, 3)
    return TalkingPose(float(r[0]), float(r[1]), float(r[2]), morph(), morph(), morph())


def _split_range(cfg: DataConfig, split: str) -> range:
    a = {"train": 0, "val": cfg.n_train, "test": cfg.n_train + cfg.n_val}[split]
    n = {"train": cfg.n_train, "val": cfg.n_val, "test": cfg.n_test}[split]
    return range(a, a + n)


def generate_dataset(
    out: str | os.PathLike, cfg: DataConfig | None = None, splits=SPLITS,
    progress: Callable[[str, int, int], None] | None = None,
) -> Path:
    """Render the splits into ``out`` (existing complete splits with the same config are kept)."""
    from avatarforge.portrait.synth.identity import sample_identity
    from avatarforge.portrait.synth.render import PortraitRenderer

    cfg = cfg or DataConfig()  # a fresh default per call (a default instance would be shared)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    meta_path = out / "meta.json"
    if meta_path.exists() and json.loads(meta_path.read_text()).get("config") != asdict(cfg):
        for s in SPLITS:
            (out / f"{s}.npz").unlink(missing_ok=True)
    atomic_write_text(meta_path, json.dumps({"config": asdict(cfg)}, indent=1))
    renderer = PortraitRenderer(size=cfg.size, supersample=cfg.supersample)
    for split in splits:
        path = out / f"{split}.npz"
        if path.exists():
            continue
        ids = _split_range(cfg, split)
        rest, morphed, posed, poses, ident = [], [], [], [], []
        for k, i in enumerate(ids):
            identity = sample_identity(i, renderer.body.local_names, cfg.seed)
            rng = np.random.default_rng([cfg.seed, i, 1])
            rest.append(renderer.render(identity, TalkingPose()))
            for _ in range(cfg.per_identity):
                p = sample_pose(rng)
                morphed.append(renderer.render(identity, p, rotation=False))
                posed.append(renderer.render(identity, p))
                poses.append(p.vector())
                ident.append(k)
            if progress:
                progress(split, k + 1, len(ids))
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, rest=np.stack(rest), morphed=np.stack(morphed), posed=np.stack(posed),
                         pose=np.stack(poses).astype(np.float32), ident=np.asarray(ident, np.int32),
                         identity_ids=np.asarray(list(ids), np.int32))
    return out


def load_split(data_dir: str | os.PathLike, split: str) -> PairSet:
    """Load one generated split."""
    from avatarforge.errors import UserInputError

    path = Path(data_dir) / f"{split}.npz"
    if not path.exists():
        raise UserInputError(f"{path} not found: generate the data first (`avatarforge portrait data -o {data_dir}`)")
    with np.load(path) as d:
        return PairSet(**{k: d[k] for k in ("rest", "morphed", "posed", "pose", "ident", "identity_ids")})
