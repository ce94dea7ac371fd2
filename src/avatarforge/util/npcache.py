"""An on-disk cache for dataclasses of NumPy arrays (UV region maps, seam layouts, ...).

Precomputed geometry that depends only on the body model and the texture size is built once
and read back in milliseconds by later processes. Files are plain ``.npz`` read with
``allow_pickle=False`` (nothing in them can execute code) plus a JSON description of the
non-array fields; a file that does not match the expected layout is ignored and rebuilt.

Supported fields: NumPy arrays, ``scipy.sparse`` CSR matrices, nested dataclasses of the same,
and JSON scalars / tuples. Fields whose name starts with ``_`` (private caches) are not stored
and take their default.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from avatarforge.util.paths import cache_dir

__all__ = ["array_digest", "save_dataclass", "load_dataclass", "disk_cached"]

T = TypeVar("T")
_FORMAT = 1


def array_digest(*arrays: Any, extra: str = "") -> str:
    """A short hex digest of arrays' dtypes, shapes and bytes (plus ``extra``)."""
    h = hashlib.sha1(extra.encode())
    for a in arrays:
        a = np.ascontiguousarray(a.detach().cpu().numpy() if hasattr(a, "detach") else a)
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def _flatten(obj: Any, prefix: str, arrays: dict[str, np.ndarray]) -> Any:
    """Arrays of ``obj`` into ``arrays`` (keys ``prefix.field``); returns the JSON description."""
    import scipy.sparse as sp

    if dataclasses.is_dataclass(obj):
        return {"dataclass": {f.name: _flatten(getattr(obj, f.name), f"{prefix}.{f.name}", arrays)
                              for f in dataclasses.fields(obj) if not f.name.startswith("_")}}
    if isinstance(obj, np.ndarray):
        arrays[prefix] = obj
        return {"array": prefix}
    if sp.issparse(obj):
        m = sp.csr_matrix(obj)
        for part in ("data", "indices", "indptr"):
            arrays[f"{prefix}.{part}"] = getattr(m, part)
        return {"csr": prefix, "shape": list(m.shape)}
    if isinstance(obj, tuple):
        return {"tuple": [_flatten(x, f"{prefix}.{i}", arrays) for i, x in enumerate(obj)]}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return {"value": obj}
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return {"value": obj.item()}
    raise TypeError(f"cannot store field {prefix} of type {type(obj).__name__}")


def _unflatten(cls: type | None, desc: dict, arrays) -> Any:
    import scipy.sparse as sp

    if "dataclass" in desc:
        if cls is None or not dataclasses.is_dataclass(cls):
            raise ValueError("stored dataclass where none is expected")
        hints = _field_types(cls)
        kwargs = {name: _unflatten(hints.get(name), d, arrays) for name, d in desc["dataclass"].items()}
        expected = {f.name for f in dataclasses.fields(cls) if f.init and not f.name.startswith("_")}
        if set(kwargs) != expected:
            raise ValueError("fields changed")
        return cls(**kwargs)
    if "array" in desc:
        return arrays[desc["array"]]
    if "csr" in desc:
        p = desc["csr"]
        return sp.csr_matrix((arrays[f"{p}.data"], arrays[f"{p}.indices"], arrays[f"{p}.indptr"]),
                             shape=tuple(desc["shape"]))
    if "tuple" in desc:
        return tuple(_unflatten(None, d, arrays) for d in desc["tuple"])
    return desc["value"]


def _field_types(cls: type) -> dict[str, type | None]:
    """Dataclass field classes (only nested dataclasses matter), resolving string annotations."""
    import sys
    import typing

    module = sys.modules.get(cls.__module__)
    out: dict[str, type | None] = {}
    for f in dataclasses.fields(cls):
        t = f.type
        if isinstance(t, str):
            try:
                t = typing.get_type_hints(cls, vars(module) if module else None).get(f.name)
            except Exception:  # unresolvable annotations (jaxtyping strings): not a dataclass
                t = getattr(module, t, None)
        out[f.name] = t if isinstance(t, type) and dataclasses.is_dataclass(t) else None
    return out


def save_dataclass(path: str | os.PathLike[str], obj: Any) -> Path:
    """Write a dataclass of arrays to ``path`` (.npz), atomically."""
    arrays: dict[str, np.ndarray] = {}
    desc = _flatten(obj, "root", arrays)
    meta = json.dumps({"format": _FORMAT, "type": type(obj).__qualname__, "desc": desc})
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp.npz")
    os.close(fd)
    try:
        np.savez(tmp, __meta__=np.frombuffer(meta.encode(), np.uint8), **arrays)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def load_dataclass(path: str | os.PathLike[str], cls: type[T]) -> T:
    """Read what :func:`save_dataclass` wrote; ``ValueError`` if it is not a ``cls``."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(bytes(z["__meta__"]).decode())
        if meta.get("format") != _FORMAT or meta.get("type") != cls.__qualname__:
            raise ValueError(f"{path} holds no {cls.__qualname__}")
        arrays = {k: z[k] for k in z.files if k != "__meta__"}
    return _unflatten(cls, meta["desc"], arrays)


def disk_cached(kind: str, key: str, cls: type[T], build: Callable[[], T]) -> T:
    """``build()`` once per ``key``, kept in ``cache_dir()/kind/<key>.npz``.

    An unreadable or mismatched file is rebuilt; a read-only cache only costs the rebuild.
    """
    path = cache_dir() / kind / f"{cls.__name__}-{key}.npz"
    if path.is_file():
        try:
            return load_dataclass(path, cls)
        except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
            pass
    obj = build()
    try:
        save_dataclass(path, obj)
    except OSError:
        pass
    return obj
