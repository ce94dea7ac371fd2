"""`avatarforge doctor --assets DIR [--load]`: which licensed research files are present, what
each enables, and (with ``load``) whether each one loads as the code needs it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarforge.errors import AvatarforgeError
from avatarforge.research.assets import ASSETS, AssetPaths

__all__ = ["AssetCheck", "check_assets", "format_checks"]


@dataclass
class AssetCheck:
    """The state of one asset."""

    key: str
    path: str | None
    """Where it was found (None: missing)."""
    enables: str
    page: str
    status: str
    """``missing``, ``found`` (not loaded), ``ok`` or ``failed``."""
    detail: str = ""
    """What was loaded, or the precise problem."""


def _load_one(key: str, path, ctx: dict) -> str:
    """Load asset ``key`` as the code uses it; return a one-line summary or raise."""
    from avatarforge.errors import UserInputError

    if key == "smplx":
        from avatarforge.research.model_data import load_smplx_arrays

        m = load_smplx_arrays(path)
        ctx["smplx_v"] = len(m.v_template)
        return (f"{len(m.v_template)} vertices, {len(m.parents)} joints, {m.n_shape} betas + {m.n_expression} "
                f"expressions, UVs {'yes' if m.uvs is not None else 'no'}")
    if key == "flame":
        from avatarforge.research.model_data import load_flame_arrays

        m = load_flame_arrays(path)
        ctx["flame_v"], ctx["flame_f"] = len(m.v_template), m.faces
        return f"{len(m.v_template)} vertices, {len(m.faces)} faces, {m.n_shape} shape + {m.n_expression} expression"
    if key == "smplx_flame_ids":
        from avatarforge.research.graft import check_vertex_ids
        from avatarforge.research.safe_pickle import safe_load_npy

        ids = safe_load_npy(path)
        if not isinstance(ids, np.ndarray):
            raise UserInputError(f"expected an integer array, got {type(ids).__name__}")
        n_head = ctx.get("flame_v", len(ids))
        check_vertex_ids(ids, ctx.get("smplx_v", int(ids.max()) + 1 if ids.size else 0), n_head)
        return f"{len(ids)} SMPL-X vertex ids"
    if key == "flame_texture":
        from avatarforge.research.deca.model import FlameTexture

        t = FlameTexture(path)
        return f"{t.side}x{t.side} albedo, {t.basis.shape[1]} components used"
    if key == "landmarks":
        from avatarforge.research.landmarks import load_landmark_embedding

        emb = load_landmark_embedding(path, ctx.get("flame_f"))
        return f"{len(emb.faces)} landmarks (68 iBUG)"
    if key == "head_template":
        from avatarforge.research.flame_head import read_obj_uvs

        vt, f, ft = read_obj_uvs(path)
        if len(f) == 0 or (ft < 0).any():
            raise UserInputError("no triangles with texture coordinates")
        if "flame_f" in ctx:
            same = len(f) == len(ctx["flame_f"]) and np.array_equal(
                np.unique(np.sort(f, 1), axis=0), np.unique(np.sort(ctx["flame_f"], 1), axis=0))
            if not same:
                raise UserInputError(f"its {len(f)} triangles are not FLAME's {len(ctx['flame_f'])} triangles")
        return f"{len(vt)} UVs, {len(f)} faces"
    if key == "deca":
        from avatarforge.research.deca.model import load_deca_nets

        load_deca_nets(path)
        return "E_flame, E_detail, D_detail: exact key and shape match"
    raise KeyError(key)


def check_assets(assets: AssetPaths, load: bool = False) -> list[AssetCheck]:
    """One :class:`AssetCheck` per known asset (FLAME and SMPL-X are loaded first: others are
    checked against them)."""
    ctx: dict = {}
    out = []
    for spec in ASSETS:
        path = assets.get(spec.key)
        c = AssetCheck(spec.key, None if path is None else str(path), spec.enables, spec.page,
                       "missing" if path is None else "found")
        out.append(c)
    order = sorted(out, key=lambda c: {"smplx": 0, "flame": 1}.get(c.key, 2))
    if load:
        for c in order:
            if c.path is None:
                continue
            try:
                c.detail = _load_one(c.key, c.path, ctx)
                c.status = "ok"
            except (AvatarforgeError, OSError, ValueError, KeyError, TypeError) as exc:
                msg = str(exc)
                c.detail = msg.split(": ", 1)[1] if msg.startswith(c.path) else msg
                c.status = "failed"
    return out


def format_checks(checks: list[AssetCheck], root) -> str:
    lines = [f"research assets in {root}:"]
    for c in checks:
        if c.path is None:
            lines.append(f"  missing  {c.key:16s} -> {c.enables}; obtain from {c.page}")
        else:
            tail = f": {c.detail}" if c.detail else ""
            lines.append(f"  {c.status:7s}  {c.key:16s} {c.path} -> {c.enables}{tail}")
    return "\n".join(lines)
