"""Body models behind one protocol (BodyModel): the embedded Anny, later SMPL-X / FLAME."""

from __future__ import annotations

import functools

from avatarforge.bodies.base import BodyModel, BodyOutput
from avatarforge.bodies.params_file import ParamsFile
from avatarforge.bodies.poses import POSE_PRESETS, pose_preset
from avatarforge.bodies.spec import ParamSet, ParamSpec
from avatarforge.errors import UserInputError

__all__ = [
    "BodyModel", "BodyOutput", "ParamSpec", "ParamSet", "ParamsFile",
    "POSE_PRESETS", "pose_preset", "load_body", "BACKENDS",
]

BACKENDS = ("anny",)


@functools.lru_cache(maxsize=4)
def load_body(backend: str = "anny", local_changes: str = "default", facial_actions: str = "all") -> BodyModel:
    """The body model of ``backend``, built once per process (Anny: first run ~1-2 min)."""
    if backend == "anny":
        from avatarforge.bodies.anny_body import AnnyBody

        return AnnyBody(local_changes=local_changes, facial_actions=facial_actions)
    raise UserInputError(f"unknown body backend {backend!r}: choose one of {', '.join(BACKENDS)}")
