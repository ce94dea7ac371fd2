"""Rebuild a `create --backend smplx` avatar from its output folder (params.json + graft.npz)
and the user's assets: the grafted SMPL-X body, its values and texture, ready to re-pose,
edit (``--set``-like values) and export again."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from avatarforge.errors import UserInputError

__all__ = ["GRAFT_FILE", "write_graft", "rebuild_avatar"]

GRAFT_FILE = "graft.npz"


def write_graft(path: str | os.PathLike, identity: np.ndarray, expression: np.ndarray) -> None:
    """The graft's per-vertex offsets (float32, SMPL-X vertex order): identity and ``expr.photo``."""
    np.savez(path, identity=np.asarray(identity, np.float32), expression=np.asarray(expression, np.float32))


def rebuild_avatar(outdir: str | os.PathLike, assets: str | os.PathLike | None = None,
                   values: dict[str, float] | None = None):
    """The avatar written to ``outdir``, optionally with some ``values`` changed."""
    from PIL import Image

    from avatarforge.avatar import Avatar
    from avatarforge.bodies.params_file import ParamsFile
    from avatarforge.research.assets import resolve_assets
    from avatarforge.research.safe_pickle import load_npz
    from avatarforge.research.smplx_body import SmplxBody

    outdir = Path(outdir)
    pf = ParamsFile.read(outdir)
    if pf.backend != "smplx":
        raise UserInputError(f"{outdir} holds a {pf.backend!r} avatar, not a --backend smplx one")
    graft = load_npz(outdir / GRAFT_FILE) if (outdir / GRAFT_FILE).is_file() else None
    if graft is None or "identity" not in graft or "expression" not in graft:
        raise UserInputError(f"{outdir / GRAFT_FILE} is missing or incomplete: re-run create --backend smplx")
    n_shape = sum(1 for k in pf.values if k.startswith("shape."))
    body = SmplxBody(resolve_assets(assets).require("smplx"), n_shape=n_shape)
    if graft["identity"].shape != (body.num_vertices, 3):
        raise UserInputError(f"{outdir / GRAFT_FILE} has {graft['identity'].shape[0]} vertices, the SMPL-X model "
                             f"{body.num_vertices}: another model file?")
    body.personalise(torch.from_numpy(graft["identity"]), {"expr.photo": torch.from_numpy(graft["expression"])})
    full = body.params.complete({**pf.values, **(values or {})})
    tex_path = outdir / "avatar_texture.png"
    texture = np.asarray(Image.open(tex_path).convert("RGB")) if tex_path.is_file() else None
    return Avatar(body, full, pf.pose_preset, body.forward_params(full), texture)
