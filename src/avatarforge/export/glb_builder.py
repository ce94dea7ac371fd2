"""A minimal GLB writer: one binary buffer of 4-byte-aligned views, accessors, and packing.

We write the container ourselves instead of going through pygltflib's object model: the
accessors are plain numpy arrays already, the JSON is a small dict, and skipping pygltflib's
dataclass-to-JSON round trip keeps the whole export of a 14k-vertex, 52-morph avatar in the
tens of milliseconds. pygltflib is used to *read* the result back in the tests.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

__all__ = ["GlbBuilder", "ARRAY_BUFFER", "ELEMENT_ARRAY_BUFFER"]

ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963

_COMPONENT_TYPES = {
    np.dtype(np.int8): 5120,
    np.dtype(np.uint8): 5121,
    np.dtype(np.int16): 5122,
    np.dtype(np.uint16): 5123,
    np.dtype(np.uint32): 5125,
    np.dtype(np.float32): 5126,
}
_TYPES = {1: "SCALAR", 2: "VEC2", 3: "VEC3", 4: "VEC4", 16: "MAT4"}


def _bounds(flat: np.ndarray) -> tuple[list[Any], list[Any]]:
    """Per-component min and max as JSON numbers that equal the stored values exactly."""
    return flat.min(axis=0).tolist(), flat.max(axis=0).tolist()


class GlbBuilder:
    """Accumulates binary data into one buffer and describes it with bufferViews/accessors."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._length = 0
        self.buffer_views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def add_view(self, data: bytes, target: int | None = None) -> int:
        """Append ``data`` as a new bufferView starting at a 4-byte boundary; return its index."""
        view: dict[str, Any] = {"buffer": 0, "byteOffset": self._length, "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self._parts.append(data)
        pad = -len(data) % 4
        if pad:
            self._parts.append(b"\0" * pad)
        self._length += len(data) + pad
        self.buffer_views.append(view)
        return len(self.buffer_views) - 1

    def add_accessor(
        self, array: np.ndarray, target: int | None = None, bounds: bool = False
    ) -> int:
        """Store ``array`` ((N,) scalars or (N, C) vectors, C in 2/3/4/16) as a tightly packed
        accessor; ``bounds`` adds exact per-component min/max. Returns the accessor index."""
        arr = np.ascontiguousarray(array)
        flat = arr.reshape(arr.shape[0], -1)
        comp = _COMPONENT_TYPES.get(arr.dtype)
        if comp is None or flat.shape[1] not in _TYPES:
            raise TypeError(f"unsupported accessor data {arr.dtype} {arr.shape}")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(flat)):
            raise ValueError(f"accessor data {arr.shape} contains NaN or infinity")
        accessor: dict[str, Any] = {
            "bufferView": self.add_view(arr.tobytes(), target),
            "componentType": comp,
            "count": int(arr.shape[0]),
            "type": _TYPES[flat.shape[1]],
        }
        if bounds:
            accessor["min"], accessor["max"] = _bounds(flat)
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def add_sparse_vec3(self, dense: np.ndarray, rows: np.ndarray | None = None) -> int:
        """Store an (N, 3) float32 array, mostly zero rows, as a sparse accessor with min/max.

        Only the non-zero rows (``rows``, computed when None) are written, as uint16/uint32
        indices + values; with no non-zero row the accessor has neither bufferView nor
        sparse, which glTF defines as all zeros.
        """
        arr = np.asarray(dense, dtype=np.float32)
        if rows is None:
            rows = np.flatnonzero(np.any(arr != 0, axis=1))
        values = np.ascontiguousarray(arr[rows])
        if not np.all(np.isfinite(values)):
            raise ValueError(f"accessor data {arr.shape} contains NaN or infinity")
        accessor: dict[str, Any] = {"componentType": 5126, "count": int(arr.shape[0]), "type": "VEC3"}
        # Rows not listed are 0, so the bounds are those of the values and 0 (when any is left).
        with_zero = np.concatenate([values, np.zeros((1 if len(rows) < len(arr) else 0, 3), np.float32)])
        accessor["min"], accessor["max"] = _bounds(with_zero) if len(with_zero) else ([0.0] * 3, [0.0] * 3)
        if len(rows):
            index_dtype = np.uint16 if arr.shape[0] <= 65536 else np.uint32
            accessor["sparse"] = {
                "count": int(len(rows)),
                "indices": {
                    "bufferView": self.add_view(rows.astype(index_dtype).tobytes()),
                    "componentType": _COMPONENT_TYPES[np.dtype(index_dtype)],
                },
                "values": {"bufferView": self.add_view(values.tobytes())},
            }
        self.accessors.append(accessor)
        return len(self.accessors) - 1

    def pack(self, gltf: dict[str, Any]) -> bytes:
        """The GLB file: ``gltf`` completed with buffers/bufferViews/accessors, plus the BIN chunk."""
        doc = dict(gltf)
        if self.accessors:
            doc["accessors"] = self.accessors
        if self.buffer_views:
            doc["bufferViews"] = self.buffer_views
            doc["buffers"] = [{"byteLength": self._length}]
        json_bytes = json.dumps(doc, separators=(",", ":"), allow_nan=False).encode("utf-8")
        json_bytes += b" " * (-len(json_bytes) % 4)
        chunks = [struct.pack("<II", len(json_bytes), 0x4E4F534A), json_bytes]  # "JSON"
        if self.buffer_views:
            chunks += [struct.pack("<II", self._length, 0x004E4942), *self._parts]  # "BIN\0"
        body = b"".join(chunks)
        return struct.pack("<4sII", b"glTF", 2, 12 + len(body)) + body
