"""glTF animation: add one clip (node rotation/translation channels, morph weight channels)
to a GLB, keeping everything the GLB already holds.

The samplers are LINEAR, one keyframe per video frame (times ``i / fps`` seconds); rotations
are unit quaternions (x, y, z, w) made sign-continuous so that the interpolation between
keyframes takes the short way. New data is appended to the binary chunk as new bufferViews.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass, field

import numpy as np
from jaxtyping import Float

from avatarforge.util.atomic import atomic_write_bytes

__all__ = ["AnimationClip", "add_animation", "write_animated_glb", "split_glb", "pack_glb"]


@dataclass
class AnimationClip:
    """One animation: per-frame values of some nodes' TRS and one node's morph weights."""

    fps: float
    rotations: dict[int, Float[np.ndarray, "F 4"]] = field(default_factory=dict)
    """node index -> local rotation per frame (x, y, z, w)."""
    translations: dict[int, Float[np.ndarray, "F 3"]] = field(default_factory=dict)
    """node index -> local translation per frame."""
    weights: dict[int, Float[np.ndarray, "F M"]] = field(default_factory=dict)
    """node index (a node with a mesh) -> morph target weights per frame (all M of its targets)."""
    name: str = "animation"

    @property
    def n_frames(self) -> int:
        for d in (self.rotations, self.translations, self.weights):
            for v in d.values():
                return int(len(v))
        return 0


def split_glb(data: bytes) -> tuple[dict, bytes]:
    """(JSON document, binary chunk) of a GLB."""
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2:
        raise ValueError("not a glTF 2.0 binary file")
    n, kind = struct.unpack_from("<II", data, 12)
    if kind != 0x4E4F534A:
        raise ValueError("the GLB's first chunk is not JSON")
    doc = json.loads(data[20 : 20 + n].decode("utf-8"))
    blob = b""
    pos = 20 + n
    if pos + 8 <= length:
        m, kind = struct.unpack_from("<II", data, pos)
        if kind == 0x004E4942:
            blob = data[pos + 8 : pos + 8 + m]
    return doc, blob


def pack_glb(doc: dict, blob: bytes) -> bytes:
    """A GLB from a JSON document and its binary chunk (``buffers[0].byteLength`` set)."""
    blob = blob + b"\0" * (-len(blob) % 4)
    if blob:
        doc["buffers"] = [{**(doc.get("buffers") or [{}])[0], "byteLength": len(blob)}]
    js = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
    js += b" " * (-len(js) % 4)
    body = struct.pack("<II", len(js), 0x4E4F534A) + js
    if blob:
        body += struct.pack("<II", len(blob), 0x004E4942) + blob
    return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs so that consecutive keys are in the same hemisphere."""
    q = np.asarray(q, np.float64) / np.linalg.norm(q, axis=1, keepdims=True)
    out = q.copy()
    for i in range(1, len(out)):
        if np.dot(out[i], out[i - 1]) < 0:
            out[i] = -out[i]
    return out


def add_animation(data: bytes, clip: AnimationClip) -> bytes:
    """The GLB ``data`` with ``clip`` added as a new animation."""
    doc, blob = split_glb(data)
    parts = [blob + b"\0" * (-len(blob) % 4)]
    length = len(parts[0])
    views, accessors = doc.setdefault("bufferViews", []), doc.setdefault("accessors", [])

    def accessor(arr: np.ndarray, kind: str, bounds: bool = False) -> int:
        nonlocal length
        a = np.ascontiguousarray(arr, dtype=np.float32)
        if not np.all(np.isfinite(a)):
            raise ValueError("animation values contain NaN or infinity")
        raw = a.tobytes()
        views.append({"buffer": 0, "byteOffset": length, "byteLength": len(raw)})
        parts.append(raw + b"\0" * (-len(raw) % 4))
        length += len(parts[-1])
        acc = {"bufferView": len(views) - 1, "componentType": 5126, "count": int(len(a)), "type": kind}
        if bounds:
            acc["min"], acc["max"] = [float(a.min())], [float(a.max())]
        accessors.append(acc)
        return len(accessors) - 1

    n = clip.n_frames
    if n == 0:
        raise ValueError("the animation has no frames")
    times = accessor(np.arange(n, dtype=np.float64) / clip.fps, "SCALAR", bounds=True)
    samplers, channels = [], []

    def channel(node: int, path: str, output: int) -> None:
        samplers.append({"input": times, "output": output, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": int(node), "path": path}})

    for node, q in sorted(clip.rotations.items()):
        channel(node, "rotation", accessor(_continuous(q), "VEC4"))
    for node, t in sorted(clip.translations.items()):
        channel(node, "translation", accessor(t, "VEC3"))
    for node, w in sorted(clip.weights.items()):
        w = np.asarray(w, np.float64)
        if w.ndim != 2 or len(w) != n:
            raise ValueError(f"morph weights must be (frames, targets), got {w.shape}")
        channel(node, "weights", accessor(w.reshape(-1), "SCALAR"))
    for d in (clip.rotations, clip.translations):
        if any(len(v) != n for v in d.values()):
            raise ValueError("every channel needs the same number of frames")
    doc.setdefault("animations", []).append({"name": clip.name, "samplers": samplers, "channels": channels})
    return pack_glb(doc, b"".join(parts))


def write_animated_glb(source: bytes, clip: AnimationClip, path: str | os.PathLike):
    """Write ``source`` (GLB bytes) with ``clip`` added to ``path``, atomically."""
    return atomic_write_bytes(path, add_animation(source, clip))
