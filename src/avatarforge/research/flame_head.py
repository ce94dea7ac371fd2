"""FLAME head (5023 vertices, 5 joints) behind the BodyModel protocol, from the user's
licensed ``generic_model.pkl`` read without executing code. Frame: FLAME's own (metres,
+Y up, facing +Z: already avatarforge's axes); the origin is FLAME's, not grounded."""

from __future__ import annotations

import os

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.research.model_data import FLAME_JOINTS, load_flame_arrays
from avatarforge.research.smpl_family import SmplFamilyBody

__all__ = ["FlameHead", "read_obj_uvs"]


def read_obj_uvs(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vt (T, 2), f (F, 3) vertex ids, ft (F, 3) uv ids) of a triangle OBJ (DECA's head_template.obj)."""
    vt, f, ft = [], [], []
    with open(path, encoding="utf-8", errors="replace") as fp:
        for line in fp:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "vt":
                vt.append([float(parts[1]), float(parts[2])])
            elif parts[0] == "f":
                corners = [p.split("/") for p in parts[1:4]]
                f.append([int(c[0]) - 1 for c in corners])
                ft.append([int(c[1]) - 1 if len(c) > 1 and c[1] else -1 for c in corners])
    return np.asarray(vt, np.float64), np.asarray(f, np.int64), np.asarray(ft, np.int64)


class FlameHead(SmplFamilyBody):
    """FLAME: ``shape.0..`` (of 300), ``expr.0..`` (of 100), pose of its 5 joints.

    Args:
        model_path: ``generic_model.pkl``.
        template_obj: optional ``head_template.obj`` for the UV layout.
        n_shape / n_expression: components exposed (DECA uses 100 / 50).
    """

    name = "flame"

    def __init__(self, model_path: str | os.PathLike, template_obj: str | os.PathLike | None = None,
                 n_shape: int = 100, n_expression: int = 50):
        arrays = load_flame_arrays(model_path)
        if template_obj is not None:
            # DECA renders FLAME's vertices with the template's own triangles: take them with
            # their UV triangles (same triangles as the pickle's ``f``, possibly in another order).
            vt, f, ft = read_obj_uvs(template_obj)
            if len(f) and f.max() < len(arrays.v_template) and f.min() >= 0 and (ft >= 0).all():
                arrays.faces, arrays.uvs, arrays.uv_faces = f, vt, ft
        super().__init__(arrays, FLAME_JOINTS, FLAME_JOINTS, n_shape, n_expression, ground=False)

    def rotations_from_axis_angle(self, global_pose: Float[Tensor, "B 3"], jaw: Float[Tensor, "B 3"] | None = None,
                                  neck: Float[Tensor, "B 3"] | None = None,
                                  eyes: Float[Tensor, "B 6"] | None = None) -> Float[Tensor, "B 5 3 3"]:
        """Local rotations of the 5 joints from axis-angle vectors (DECA's pose layout)."""
        from avatarforge.util.geometry import axis_angle_to_matrix

        b = global_pose.shape[0]
        z = torch.zeros(b, 3, dtype=global_pose.dtype)
        eyes = torch.zeros(b, 6, dtype=global_pose.dtype) if eyes is None else eyes
        aa = torch.stack([global_pose, z if neck is None else neck, z if jaw is None else jaw, eyes[:, :3], eyes[:, 3:]], 1)
        return axis_angle_to_matrix(aa)
