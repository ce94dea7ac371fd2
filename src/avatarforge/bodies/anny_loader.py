"""Building the embedded Anny model once per configuration, with its cache in our cache dir.

Anny's first build per configuration parses the MakeHuman data (~45-110 s) and writes
~1.2 GB of safetensors into its cache; later builds read the cache (~0.5 s). We point
Anny's cache at ``cache_dir()/anny`` (unless ``ANNY_CACHE_DIR`` is set explicitly) and keep
loaded models per process, so a build never re-runs within a process either.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import time
from pathlib import Path

from avatarforge.util.paths import cache_dir

__all__ = ["anny_cache_dir", "load_anny", "is_anny_built"]

log = logging.getLogger(__name__)


def anny_cache_dir() -> Path:
    """Where Anny's build cache lives (``$ANNY_CACHE_DIR`` wins over ours)."""
    env = os.environ.get("ANNY_CACHE_DIR")
    return Path(env).expanduser().absolute() if env else cache_dir() / "anny"


def is_anny_built() -> bool:
    """True when a compact model build is already cached (the next load is fast)."""
    root = anny_cache_dir()
    return any(root.glob("*/build_compact_model_data_*.safetensors"))


def _quiet_import_anny():
    """Import anny with NVIDIA Warp's start-up banner silenced (it prints on import)."""
    try:
        import warp

        warp.config.quiet = True
    except Exception:  # pragma: no cover - warp is an anny dependency, but optional to us
        pass
    with contextlib.redirect_stdout(io.StringIO()):
        import anny
        import anny.paths
    return anny


@contextlib.contextmanager
def _owned_integer_tensors():
    """While Anny loads its cached build: integer tensors read from the safetensors file are
    copied out of it. The file is memory-mapped; floating tensors leave it when the model is
    converted to float32, but integer ones (faces, skinning indices) would stay views of it
    and keep the whole mapping -- ~230 MB of resident pages -- alive for the process."""
    import torch
    from anny.models.model_data import ModelData

    original = ModelData.__dict__["load_safetensors"]

    def load_owned(cls, path):
        data = original.__func__(cls, path)
        for name, value in list(vars(data).items()):
            if isinstance(value, torch.Tensor) and not value.is_floating_point():
                object.__setattr__(data, name, value.clone())  # a frozen dataclass, still being built
        return data

    ModelData.load_safetensors = classmethod(load_owned)
    try:
        yield
    finally:
        ModelData.load_safetensors = original


@functools.lru_cache(maxsize=4)
def load_anny(local_changes: str = "default", facial_actions: str = "all"):
    """The Anny model (float32, torch LBS skinning) for one configuration, built once."""
    import torch

    anny = _quiet_import_anny()
    root = anny_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    anny.paths.set_anny_cache_path(root)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), _owned_integer_tensors():
        model = anny.Anny(
            local_changes=local_changes,
            facial_actions=facial_actions,
            skinning_method="lbs",
        ).to(torch.float32)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    log.info("anny model ready in %.1f s (cache %s)", time.perf_counter() - start, root)
    return model
