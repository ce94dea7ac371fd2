"""Landmark embeddings: where each detector landmark sits on the body model's surface.

An embedding gives, per landmark, a triangle of the model mesh and barycentric weights, so
that a landmark's 3D position follows the mesh through any shape, expression and pose.
The embedding shipped for Anny (``data/anny_landmarks.npz``) is made by
``python -m avatarforge.dev.build_embedding`` (renders the model's own face, runs the
bundled face mesh on the renders, back-projects and averages).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

__all__ = ["LandmarkEmbedding", "load_embedding", "EMBEDDING_FILE"]

EMBEDDING_FILE = "anny_landmarks.npz"


@dataclass(frozen=True)
class LandmarkEmbedding:
    """Per-landmark surface points of one mesh topology."""

    triangles: Int[np.ndarray, " L"]
    """Triangle index of each landmark."""
    bary: Float[np.ndarray, "L 3"]
    """Barycentric weights of each landmark in its triangle (sum to 1)."""
    spread_mm: Float[np.ndarray, " L"]
    """How much the back-projected point varied across the build renders (mm; low = reliable)."""

    def vertex_ids(self, faces: np.ndarray) -> Int[np.ndarray, "L 3"]:
        return np.asarray(faces)[self.triangles]

    def points(self, vertices: Float[Tensor, "*B V 3"], faces) -> Float[Tensor, "*B L 3"]:
        """Landmark positions on a mesh (differentiable in the vertices)."""
        ids = torch.as_tensor(self.vertex_ids(faces), dtype=torch.long)
        w = torch.as_tensor(self.bary, dtype=vertices.dtype)
        # l: landmark, k: triangle corner
        return torch.einsum("...lkc,lk->...lc", vertices[..., ids, :], w)


@functools.lru_cache(maxsize=2)
def load_embedding(name: str = "mediapipe478") -> LandmarkEmbedding:
    """The shipped Anny embedding of ``mediapipe478`` or ``ibug68``."""
    with resources.files("avatarforge.data").joinpath(EMBEDDING_FILE).open("rb") as f:
        data = np.load(f)
        return LandmarkEmbedding(
            triangles=data[f"{name}_triangles"].astype(np.int64),
            bary=data[f"{name}_bary"].astype(np.float64),
            spread_mm=data[f"{name}_spread_mm"].astype(np.float64),
        )
