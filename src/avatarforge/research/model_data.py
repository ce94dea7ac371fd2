"""Arrays of a SMPL-family model file, validated: FLAME's chumpy pickle, SMPL-X's npz.

Only the arrays the forward pass needs are kept, as float64/int64 numpy; a missing key or an
inconsistent shape raises a one-line UserInputError naming the file, the key and the shapes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from avatarforge.errors import UserInputError
from avatarforge.research.safe_pickle import load_npz, safe_load_pickle, to_numpy

__all__ = ["ModelArrays", "arrays_from_dict", "load_flame_arrays", "load_smplx_arrays", "FLAME_JOINTS",
           "FLAME_SHAPE_DIM", "SMPLX_SHAPE_DIM"]

FLAME_JOINTS = ["global", "neck", "jaw", "eye.L", "eye.R"]
"""FLAME's 5 joints in file order (FLAME's 'left' is the subject's left, +X)."""
FLAME_SHAPE_DIM = 300
"""FLAME: shapedirs[..., :300] = identity, [..., 300:] = expression."""
SMPLX_SHAPE_DIM = 300
"""SMPL-X 1.1: shapedirs[..., :300] = betas, [..., 300:400] = expression (older files: 10 + 10)."""


@dataclass
class ModelArrays:
    """The arrays of a SMPL-family model (V vertices, J joints, K blend shapes)."""

    v_template: np.ndarray
    """(V, 3) float64 template vertices, metres."""
    faces: np.ndarray
    """(F, 3) int64 triangles."""
    shapedirs: np.ndarray
    """(V, 3, K) float64 shape (then expression) blend shapes."""
    posedirs: np.ndarray
    """(9 (J - 1), 3 V) float64 pose correctives, smplx's layout (file's (V, 3, P) reshaped, transposed)."""
    j_regressor: np.ndarray
    """(J, V) float64 dense joint regressor."""
    parents: np.ndarray
    """(J,) int64 parent of each joint, -1 for the root."""
    weights: np.ndarray
    """(V, J) float64 skinning weights."""
    n_shape: int
    """Number of identity components at the start of ``shapedirs``."""
    uvs: np.ndarray | None = None
    """(T, 2) float64 texture coordinates (OBJ convention), if the file has them."""
    uv_faces: np.ndarray | None = None
    """(F, 3) int64 UV triangles, if the file has them."""

    @property
    def n_expression(self) -> int:
        return self.shapedirs.shape[2] - self.n_shape


def _need(data: dict, key: str, path: Path):
    if key not in data:
        raise UserInputError(f"{path}: key {key!r} missing (has {', '.join(sorted(map(str, data))[:12])}); "
                             "is this the released file?")
    return data[key]


def _arrays(data: dict, path: Path, n_shape: int, n_joints: int | None) -> ModelArrays:
    v = to_numpy(_need(data, "v_template", path))
    f = to_numpy(_need(data, "f", path), np.int64)
    sd = to_numpy(_need(data, "shapedirs", path))
    pd = to_numpy(_need(data, "posedirs", path))
    jr = to_numpy(_need(data, "J_regressor", path))
    kt = to_numpy(_need(data, "kintree_table", path), np.int64)
    w = to_numpy(_need(data, "weights", path))
    nv = v.shape[0] if v.ndim == 2 else -1
    j = jr.shape[0] if jr.ndim == 2 else -1

    def check(ok: bool | np.bool_, what: str) -> None:  # numpy comparisons give np.bool_
        if not ok:
            raise UserInputError(f"{path}: {what}")

    check(v.ndim == 2 and v.shape[1] == 3, f"v_template has shape {v.shape}, expected (V, 3)")
    check(f.ndim == 2 and f.shape[1] == 3 and f.min() >= 0 and f.max() < nv, f"f has shape {f.shape} or ids outside [0, {nv})")
    if sd.ndim == 2:
        sd = sd[:, :, None]
    check(sd.shape[:2] == (nv, 3), f"shapedirs has shape {sd.shape}, expected ({nv}, 3, K)")
    check(n_joints is None or j == n_joints, f"J_regressor has {j} joints, expected {n_joints}")
    check(jr.shape == (j, nv), f"J_regressor has shape {jr.shape}, expected ({j}, {nv})")
    check(pd.shape == (nv, 3, 9 * (j - 1)), f"posedirs has shape {pd.shape}, expected ({nv}, 3, {9 * (j - 1)})")
    check(kt.shape == (2, j), f"kintree_table has shape {kt.shape}, expected (2, {j})")
    check(w.shape == (nv, j), f"weights has shape {w.shape}, expected ({nv}, {j})")
    parents = kt[0].copy()
    parents[0] = -1
    check(bool(np.all(parents[1:] < np.arange(1, j))) and parents[1:].min() >= 0,
          "kintree_table parents do not precede their children")
    if sd.shape[2] < n_shape + 10:  # SMPL-X 1.0 layout: 10 betas + 10 expressions
        n_shape = 10
    check(sd.shape[2] > n_shape, f"shapedirs has {sd.shape[2]} components, expected identity + expression")
    posedirs = pd.reshape(-1, pd.shape[-1]).T
    return ModelArrays(v, f, sd, posedirs, jr, parents, w, n_shape)


def arrays_from_dict(data: dict, name: str = "model", n_shape: int = FLAME_SHAPE_DIM,
                     n_joints: int | None = None) -> ModelArrays:
    """Validated :class:`ModelArrays` from a dict with the official key names (``name`` for errors)."""
    return _arrays(data, Path(name), n_shape, n_joints)


def load_flame_arrays(path: str | os.PathLike) -> ModelArrays:
    """FLAME's ``generic_model.pkl`` (chumpy pickle, read safely): 5 joints, 300 + 100 blend shapes."""
    path = Path(path)
    data = safe_load_pickle(path)
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a pickled dict, got {type(data).__name__}")
    return _arrays(data, path, FLAME_SHAPE_DIM, 5)


def load_smplx_arrays(path: str | os.PathLike) -> ModelArrays:
    """SMPL-X's ``SMPLX_*.npz`` (no pickle): 55 joints, betas + expression blend shapes, UVs."""
    path = Path(path)
    data = load_npz(path)
    m = _arrays(data, path, SMPLX_SHAPE_DIM, 55)
    if "vt" in data and "ft" in data:
        m.uvs = np.asarray(data["vt"], np.float64)
        m.uv_faces = np.asarray(data["ft"], np.int64)
    return m
