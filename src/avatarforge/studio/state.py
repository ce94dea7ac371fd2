"""The editable avatar behind one studio tab: parameter values, undo/redo, presets, the mesh.

Pure Python + the body model: no web server here, so everything the GUI does can be done
(and tested) from Python in a few lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from avatarforge.bodies import BodyModel, pose_preset
from avatarforge.errors import UserInputError
from avatarforge.studio.look import Look

__all__ = ["StudioState", "MeshFrame", "UNDO_DEPTH", "COALESCE_SECONDS"]

#: Snapshots kept for undo.
UNDO_DEPTH = 200
#: Successive changes of the same control closer than this are one undo step (a slider drag).
COALESCE_SECONDS = 1.0

# One forward pass at a time: the body model is shared by every tab of the server.
_FORWARD_LOCK = threading.Lock()


@dataclass
class MeshFrame:
    """The posed mesh for the current values (what the 3D view shows)."""

    vertices: np.ndarray
    """(V, 3) float32, metres, +Y up."""
    joints: np.ndarray
    """(J, 3) float32 posed joint heads."""
    seconds: float
    """Wall time of the forward pass."""
    output: object = None
    """The forward pass's bodies.BodyOutput (hair and garments are built on it)."""
    cpu_seconds: float = 0.0
    """CPU time of the forward pass (this thread)."""


@dataclass
class StudioState:
    """Current parameter values of one avatar, with undo/redo and a reset target.

    ``values`` is always complete (every parameter of ``body.params``) and valid.
    """

    body: BodyModel
    values: dict[str, float] = field(default_factory=dict)
    """Every parameter, current value."""
    base: dict[str, float] = field(default_factory=dict)
    """What reset returns to (the loaded/created avatar, or the defaults)."""
    texture: np.ndarray | None = None
    """(H, W, 3) uint8 albedo of a created/loaded avatar, None for an untextured body."""
    source: str = "default body"
    """Where the current avatar came from (for the status line)."""
    pose_name: str = "a"
    """Last pose preset applied (written to params.json as the export's rest pose)."""
    look: Look = field(default_factory=Look)
    """Hair and outfit (not part of the undo history)."""
    _undo: list[dict[str, float]] = field(default_factory=list, repr=False)
    _redo: list[dict[str, float]] = field(default_factory=list, repr=False)
    _last_key: str | None = field(default=None, repr=False)
    _last_time: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.values = self.body.params.complete(self.values)
        self.base = self.body.params.complete(self.base or self.values)

    # ------------------------------------------------------------------ edits
    def _snapshot(self, key: str | None) -> None:
        now = time.monotonic()
        if key is None or key != self._last_key or now - self._last_time > COALESCE_SECONDS:
            self._undo.append(dict(self.values))
            del self._undo[:-UNDO_DEPTH]
            self._redo.clear()
        self._last_key, self._last_time = key, now

    def set(self, changes: Mapping[str, float | str], key: str | None = None) -> dict[str, float]:
        """Apply validated ``changes``; returns those that differ from the current values.

        ``key`` names the control making the change: repeated changes from one control within
        ``COALESCE_SECONDS`` form one undo step. Raises UserInputError (nothing applied) for an
        unknown name or an out-of-range / non-finite value.
        """
        given = self.body.params.validate(changes)
        diff = {k: v for k, v in given.items() if self.values[k] != v}
        if diff:
            self._snapshot(key)
            self.values.update(diff)
        return diff

    def replace(self, values: Mapping[str, float]) -> dict[str, float]:
        """Set every parameter (missing ones to their default) as one undo step."""
        full = self.body.params.complete(values)
        return self.set(full)

    def undo(self) -> bool:
        """Back one step; False when there is nothing to undo."""
        if not self._undo:
            return False
        self._redo.append(dict(self.values))
        self.values = self._undo.pop()
        self._last_key = None
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        self._undo.append(dict(self.values))
        self.values = self._redo.pop()
        self._last_key = None
        return True

    def reset(self) -> dict[str, float]:
        """Back to ``base`` (one undo step)."""
        return self.set(self.base)

    def load(self, values: Mapping[str, float], texture: np.ndarray | None, source: str,
             pose_name: str = "a", look: Look | None = None) -> None:
        """Make another avatar current; it becomes the reset target and the undo history starts over."""
        self.values = self.body.params.complete(values)
        self.look = look or Look()
        self.pose_name = pose_name
        self.base = dict(self.values)
        self.texture = texture
        self.source = source
        self._undo.clear()
        self._redo.clear()
        self._last_key = None

    # ---------------------------------------------------------------- presets
    def group_values(self, group: str) -> dict[str, float]:
        return {n: self.values[n] for n in self.body.params.names(group)}

    def apply_pose_preset(self, name: str) -> dict[str, float]:
        """Put the body in rest pose ``name`` (a, t, relaxed): every ``pose.*`` of the arms is
        recomputed for the current shape; other joints keep their rotation."""
        preset = pose_preset(self.body, name, self.values)
        arm_joints = ("upperarm01.", "lowerarm01.")
        changes = {k: 0.0 for k in self.body.params.names("pose") if k[5:].startswith(arm_joints)}
        changes.update(preset)
        diff = self.set(changes, key=f"pose-preset:{name}")
        self.pose_name = name.lower()
        return diff

    def apply_expression(self, expression: Mapping[str, float]) -> dict[str, float]:
        """Replace the whole facial expression (actions not given go to 0)."""
        names = self.body.params.names("expression")
        unknown = [k for k in expression if k not in names]
        if unknown:
            raise UserInputError(f"{unknown[0]!r} is not a facial action: choose among {', '.join(names)}")
        changes = {n: float(expression.get(n, 0.0)) for n in names}
        return self.set(changes, key="expression-preset")

    # ------------------------------------------------------------------ output
    def mesh(self) -> MeshFrame:
        """Forward pass for the current values (~10-20 ms for Anny on one core)."""
        start, cpu = time.perf_counter(), time.thread_time()
        with _FORWARD_LOCK:
            out = self.body.forward_params(self.values)
        return MeshFrame(
            vertices=out.vertices[0].numpy().astype(np.float32),
            joints=out.joints[0].numpy().astype(np.float32),
            seconds=time.perf_counter() - start,
            output=out,
            cpu_seconds=time.thread_time() - cpu,
        )

    def avatar(self):
        """The current avatar (avatar.Avatar) for export, values as they are, with its hair and outfit."""
        from avatarforge.avatar import Avatar, dress
        from avatarforge.bodies.hair import build_hair

        with _FORWARD_LOCK:
            out = self.body.forward_params(self.values)
        garments = self.look.garments
        return Avatar(self.body, dict(self.values), self.pose_name, out, self.texture,
                      hair=build_hair(out, self.look.hair), hair_srgb=self.look.hair_srgb, outfit=garments,
                      garments=dress(out, garments))
