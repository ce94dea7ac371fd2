"""The body-model protocol every backend (Anny, SMPL-X, FLAME) implements.

Frame of every output: metres, +Y up, the body faces +Z, +X is the body's left (glTF's
frame), the soles of the rest pose at y = 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import torch
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.bodies.spec import ParamSet

__all__ = ["BodyOutput", "BodyModel"]


@dataclass
class BodyOutput:
    """Result of a body model's forward pass (batch B, V vertices, J joints)."""

    vertices: Float[Tensor, "B V 3"]
    """Posed vertices."""
    rest_vertices: Float[Tensor, "B V 3"]
    """Vertices in the model's rest pose (shape and expression applied, no pose)."""
    joints_world: Float[Tensor, "B J 4 4"]
    """Posed world transform of each joint (rotation + its head position)."""
    rest_joints_world: Float[Tensor, "B J 4 4"]
    """Rest-pose world transform of each joint."""
    skinning_transforms: Float[Tensor, "B J 4 4"]
    """joints_world @ inverse(rest_joints_world): what linear blend skinning applies."""
    faces: Int[Tensor, "F 3"]
    """Triangles, counter-clockwise seen from outside."""
    uvs: Float[Tensor, "T 2"]
    """Texture coordinates, OBJ convention ((0, 0) = image bottom-left)."""
    uv_faces: Int[Tensor, "F 3"]
    """Per-triangle indices into ``uvs``."""
    skin_indices: Int[Tensor, "V K"]
    """Joint index of each skinning influence."""
    skin_weights: Float[Tensor, "V K"]
    """Weight of each skinning influence (rows sum to 1)."""
    joint_names: list[str]
    joint_parents: list[int]
    """Parent index per joint, -1 for the root."""

    @property
    def joints(self) -> Float[Tensor, "B J 3"]:
        """Posed joint positions."""
        return self.joints_world[..., :3, 3]


@runtime_checkable
class BodyModel(Protocol):
    """A parametric body: named parameters in, a BodyOutput out."""

    name: str
    params: ParamSet
    """Every parameter this model takes, with range and default."""

    def forward_params(self, values: Mapping[str, float]) -> BodyOutput:
        """Forward pass from named values (validated against ``params``; missing = default)."""
        ...

    def morph_targets(self, values: Mapping[str, float]) -> tuple[list[str], torch.Tensor]:
        """Names and (M, V, 3) rest-pose vertex offsets of the expression morph targets."""
        ...
