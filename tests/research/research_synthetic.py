"""Small synthetic files in exactly the official formats (key names, dtypes, chumpy objects,
pickle protocol) of FLAME, SMPL-X, DECA's landmark embedding and the SMPL-X<->FLAME ids."""

from __future__ import annotations

import pickle
import sys
import types
from pathlib import Path

import numpy as np
import scipy.sparse


def fake_chumpy() -> dict[str, types.ModuleType]:
    """Modules ``chumpy`` / ``chumpy.ch`` with a Ch class pickled like the real one
    (its ``__dict__`` minus caches, value in ``x``)."""
    ch_mod = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = np.asarray(x)
            self._dirty_vars = set()
            self._itr = None
            self._depends_on_deps = {}

        def __getstate__(self):
            return dict(self.__dict__)

        def __setstate__(self, d):
            self.__dict__.update(d)

        @property
        def shape(self):
            return self.x.shape

        def __array__(self, dtype=None, copy=None):
            return np.asarray(self.x, dtype=dtype)

        def __getitem__(self, key):
            return self.x[key]

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    ch_mod.Ch = Ch
    root = types.ModuleType("chumpy")
    root.ch = ch_mod
    root.Ch = Ch
    return {"chumpy": root, "chumpy.ch": ch_mod}


def _install(mods):
    saved = {k: sys.modules.get(k) for k in mods}
    sys.modules.update(mods)
    return saved


def _restore(saved):
    for k, v in saved.items():
        if v is None:
            sys.modules.pop(k, None)
        else:
            sys.modules[k] = v


def random_model(rng: np.random.Generator, nv: int, n_joints: int, parents: list[int], n_comp: int) -> dict:
    """Plain arrays of a random SMPL-family model (template around a unit head)."""
    v = rng.normal(size=(nv, 3)) * 0.1
    a = rng.integers(0, nv, 2 * nv)
    faces = np.stack([a, (a + rng.integers(1, nv // 2, a.shape)) % nv,
                      (a + rng.integers(nv // 2, nv, a.shape)) % nv], 1).astype(np.uint32)
    w = rng.random((nv, n_joints)) ** 4
    w /= w.sum(1, keepdims=True)
    jr = rng.random((n_joints, nv)) * (rng.random((n_joints, nv)) < 0.2)
    jr[:, 0] += 1e-3
    jr /= jr.sum(1, keepdims=True)
    kt = np.stack([np.array([2**32 - 1] + parents[1:], dtype=np.int64), np.arange(n_joints)]).astype(np.uint32)
    return {
        "v_template": v, "f": faces,
        "shapedirs": rng.normal(size=(nv, 3, n_comp)) * 0.01,
        "posedirs": rng.normal(size=(nv, 3, 9 * (n_joints - 1))) * 0.01,
        "J_regressor": jr, "kintree_table": kt, "weights": w,
    }


FLAME_PARENTS = [-1, 0, 1, 1, 1]


def write_flame_pickle(path: Path, rng: np.random.Generator, nv: int = 60, protocol: int = 2) -> dict:
    """FLAME's generic_model.pkl layout: chumpy Ch for v_template/shapedirs/posedirs/weights/J,
    csc_matrix J_regressor, uint32 f and kintree_table, 300 + 100 blend shapes."""
    m = random_model(rng, nv, 5, FLAME_PARENTS, 400)
    mods = fake_chumpy()
    saved = _install(mods)
    try:
        Ch = mods["chumpy.ch"].Ch
        data = {
            "f": m["f"], "v_template": Ch(m["v_template"]), "shapedirs": Ch(m["shapedirs"]),
            "posedirs": Ch(m["posedirs"]), "J_regressor": scipy.sparse.csc_matrix(m["J_regressor"]),
            "kintree_table": m["kintree_table"], "weights": Ch(m["weights"]),
            "J": Ch(m["J_regressor"] @ m["v_template"]), "bs_style": "lbs", "bs_type": "lrotmin",
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fp:
            pickle.dump(data, fp, protocol=protocol)
    finally:
        _restore(saved)
    return m


def load_with_fake_chumpy(fn, *args, **kwargs):
    """Run a plain-pickle loader (e.g. smplx's) with the fake chumpy importable."""
    saved = _install(fake_chumpy())
    try:
        return fn(*args, **kwargs)
    finally:
        _restore(saved)


SMPLX_PARENTS = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
                 20, 25, 26, 20, 28, 29, 20, 31, 32, 20, 34, 35, 20, 37, 38,
                 21, 40, 41, 21, 43, 44, 21, 46, 47, 21, 49, 50, 21, 52, 53]


def write_smplx_npz(path: Path, rng: np.random.Generator, nv: int = 10475, n_comp: int = 20) -> dict:
    """SMPLX_NEUTRAL.npz layout (keys of the released file that the forward pass reads, plus
    vt/ft and the hand PCA keys smplx's loader needs)."""
    m = random_model(rng, nv, 55, SMPLX_PARENTS, n_comp)
    m["posedirs"] = m["posedirs"] * (rng.random((nv, 1, 1)) < 0.05)  # mostly zeros, like far-from-joint rows
    extra = {
        "vt": rng.random((nv + 50, 2)), "ft": rng.integers(0, nv + 50, size=m["f"].shape).astype(np.uint32),
        "hands_componentsl": rng.normal(size=(45, 45)), "hands_componentsr": rng.normal(size=(45, 45)),
        "hands_meanl": np.zeros(45), "hands_meanr": np.zeros(45),
        "lmk_faces_idx": rng.integers(0, len(m["f"]), 51).astype(np.int64),
        "lmk_bary_coords": np.full((51, 3), 1 / 3),
        "dynamic_lmk_faces_idx": rng.integers(0, len(m["f"]), (79, 17)).astype(np.int64),
        "dynamic_lmk_bary_coords": np.full((79, 17, 3), 1 / 3),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **m, **extra)
    return {**m, **extra}


def write_landmark_embedding(path: Path, rng: np.random.Generator, n_faces: int) -> dict:
    """DECA's landmark_embedding.npy: a pickled dict in an .npy; the dynamic entries are torch tensors."""
    import torch

    emb = {
        "static_lmk_faces_idx": rng.integers(0, n_faces, 51).astype(np.int64),
        "static_lmk_bary_coords": rng.dirichlet(np.ones(3), 51),
        "dynamic_lmk_faces_idx": torch.from_numpy(rng.integers(0, n_faces, (79, 17))),
        "dynamic_lmk_bary_coords": torch.from_numpy(rng.dirichlet(np.ones(3), (79, 17))),
        "full_lmk_faces_idx": rng.integers(0, n_faces, (1, 68)).astype(np.int64),
        "full_lmk_bary_coords": rng.dirichlet(np.ones(3), (1, 68)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, emb, allow_pickle=True)
    return emb
