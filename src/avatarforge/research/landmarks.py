"""FLAME's 68 iBUG landmarks from DECA's ``landmark_embedding.npy`` (``full_lmk_*`` entries:
one triangle and barycentrics per landmark), read with the restricted unpickler."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.research.safe_pickle import safe_load_npy, to_numpy

__all__ = ["LandmarkEmbedding", "load_landmark_embedding"]

_KEYS = ("static_lmk_faces_idx", "static_lmk_bary_coords", "dynamic_lmk_faces_idx", "dynamic_lmk_bary_coords",
         "full_lmk_faces_idx", "full_lmk_bary_coords")


@dataclass
class LandmarkEmbedding:
    """68 surface points of the FLAME mesh."""

    faces: np.ndarray
    """(68, 3) int64 vertex ids of each landmark's triangle."""
    bary: np.ndarray
    """(68, 3) float64 barycentrics."""

    def points(self, vertices: Float[Tensor, "B V 3"]) -> Float[Tensor, "B 68 3"]:
        f = torch.as_tensor(self.faces)
        w = torch.as_tensor(self.bary, dtype=vertices.dtype)
        # b: batch, l: landmark, k: triangle corner, c: xyz
        return torch.einsum("blkc,lk->blc", vertices[:, f], w)


def load_landmark_embedding(path: str | os.PathLike, flame_faces: np.ndarray | None = None) -> LandmarkEmbedding:
    """The 68-landmark embedding; with ``flame_faces``, triangle ids are resolved to vertex ids."""
    data = safe_load_npy(path)
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: expected a pickled dict, got {type(data).__name__}")
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise UserInputError(f"{path}: keys {', '.join(missing)} missing; is this DECA's landmark_embedding.npy?")
    tri = to_numpy(data["full_lmk_faces_idx"], np.int64).reshape(-1)
    bary = to_numpy(data["full_lmk_bary_coords"]).reshape(-1, 3)
    if len(tri) != 68 or bary.shape != (68, 3):
        raise UserInputError(f"{path}: full_lmk_faces_idx/bary_coords hold {len(tri)}/{len(bary)} landmarks, expected 68")
    if flame_faces is None:
        return LandmarkEmbedding(np.zeros((68, 3), np.int64), bary)
    if tri.min() < 0 or tri.max() >= len(flame_faces):
        raise UserInputError(f"{path}: landmark triangles outside FLAME's {len(flame_faces)} faces")
    return LandmarkEmbedding(np.asarray(flame_faces, np.int64)[tri], bary)
