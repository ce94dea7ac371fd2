"""Read the research assets without executing code from them.

The released FLAME/SMPL files are Python-2 pickles holding numpy arrays, scipy sparse
matrices and *chumpy* objects; DECA's ``landmark_embedding.npy`` is a pickled dict inside an
``.npy`` that also holds torch tensors. :class:`RestrictedUnpickler` resolves only an explicit
allow-list of globals (numpy array reconstruction, scipy.sparse matrix classes, torch tensor
rebuilding whose storage bytes go through ``torch.load(weights_only=True)``) and maps every
``chumpy.*`` class to :class:`ChumpyStub`, which keeps the object's state and exposes its
array ``x``. Anything else (``os.system``, ``builtins.eval``, ...) raises
:class:`UnsafePickleError` before it is called. Checkpoints go through
``torch.load(weights_only=True)``; npz files through ``np.load(allow_pickle=False)``.
"""

from __future__ import annotations

import io
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

from avatarforge.errors import UserInputError

__all__ = [
    "UnsafePickleError", "ChumpyStub", "RestrictedUnpickler", "safe_load_pickle", "safe_load_npy",
    "load_npz", "load_checkpoint", "to_numpy",
]


class UnsafePickleError(UserInputError, pickle.UnpicklingError):
    """A pickle referenced a global outside the allow-list (refused, nothing was run)."""


class ChumpyStub:
    """Stand-in for any chumpy object: the pickled state, plus its array ``x`` as numpy.

    Chumpy objects pickle their ``__dict__``; the value of a plain ``Ch`` is its ``x``.
    Derived chumpy expressions (no ``x``) stay stubs and :func:`to_numpy` refuses them.
    """

    def __new__(cls, *args, **kwargs):  # NEWOBJ / REDUCE may pass arguments: ignore them
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots)
            state = state[0] or {}
        self.__dict__["state"] = dict(state) if isinstance(state, dict) else {}

    @property
    def has_array(self) -> bool:
        return "x" in self.__dict__.get("state", {})

    def __array__(self, dtype=None, copy=None):
        if not self.has_array:
            raise TypeError("chumpy object without an array value (a derived expression)")
        return np.asarray(self.state["x"], dtype=dtype)


def _reconstructor(cls, base, state):
    """copyreg._reconstructor restricted to allow-listed classes over ``object``/``ndarray``."""
    if base is object:
        obj = object.__new__(cls)
    elif base is np.ndarray:
        obj = np.ndarray.__new__(cls, state)
    else:
        raise UnsafePickleError(f"pickle reconstructs over {base!r}: refused")
    return obj


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles of bytes use it: latin-1 only."""
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1") or not isinstance(text, str):
        raise UnsafePickleError(f"pickle encodes with {encoding!r}: refused")
    return text.encode("latin-1")


def _storage_from_bytes(b: bytes):
    """torch.storage._load_from_bytes, through the weights-only unpickler."""
    import torch

    return torch.load(io.BytesIO(b), weights_only=True, map_location="cpu")


def _np_core(sub: str):
    import importlib

    try:
        return importlib.import_module(f"numpy._core.{sub}")
    except ImportError:  # numpy < 2
        return importlib.import_module(f"numpy.core.{sub}")


def _allowed(module: str, name: str):
    """The object for an allow-listed global, else None."""
    if module.startswith("chumpy"):
        return ChumpyStub
    if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in ("_reconstruct", "scalar"):
        return getattr(_np_core("multiarray"), name)
    if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
        return _np_core("numeric")._frombuffer
    if module == "numpy" and name in ("ndarray", "dtype"):
        return getattr(np, name)
    if module.startswith("numpy") and name.endswith("DType") and name[0].isupper():
        import numpy.dtypes as dts  # numpy >= 1.25 pickles dtypes by class

        return getattr(dts, name, None)
    if module.startswith("scipy.sparse") and name in (
            "csc_matrix", "csr_matrix", "coo_matrix", "lil_matrix", "dok_matrix", "bsr_matrix", "dia_matrix"):
        import scipy.sparse

        return getattr(scipy.sparse, name)
    if module in ("copyreg", "copy_reg") and name == "_reconstructor":
        return _reconstructor
    if module in ("builtins", "__builtin__") and name in ("object", "set", "frozenset", "complex", "slice"):
        import builtins

        return getattr(builtins, name)
    if module == "collections" and name == "OrderedDict":
        return OrderedDict
    if module == "_codecs" and name == "encode":
        return _latin1_encode
    if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
        import torch._utils

        return getattr(torch._utils, name)
    if module == "torch.storage" and name == "_load_from_bytes":
        return _storage_from_bytes
    return None


class RestrictedUnpickler(pickle.Unpickler):
    """A pickle.Unpickler that resolves only allow-listed globals (see module docstring)."""

    def find_class(self, module: str, name: str):  # noqa: D401 - pickle API
        obj = _allowed(module, name)
        if obj is None:
            raise UnsafePickleError(f"pickle references {module}.{name}, which is not an array type: refused "
                                    "(the file may be corrupt or malicious)")
        return obj

    def persistent_load(self, pid):
        raise UnsafePickleError("pickle uses persistent ids: refused")


def _finish(obj: Any) -> Any:
    """Replace chumpy stubs holding an array by that array, recursively in dicts/lists/tuples."""
    if isinstance(obj, ChumpyStub):
        return np.asarray(obj) if obj.has_array else obj
    if isinstance(obj, dict):
        return {k: _finish(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_finish(v) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype == object:
        if obj.ndim == 0:
            return _finish(obj.item())
        out = np.empty(obj.shape, dtype=object)
        for i, v in enumerate(obj.ravel()):
            out.flat[i] = _finish(v)
        return out
    return obj


def _unpickle(fp, path: Path) -> Any:
    try:
        return _finish(RestrictedUnpickler(fp, encoding="latin1").load())
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"{path}: {exc}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as exc:
        raise UserInputError(f"{path}: not a readable pickle ({type(exc).__name__}: {exc})") from None


def safe_load_pickle(path: str | os.PathLike) -> Any:
    """Unpickle ``path`` with the restricted unpickler; chumpy arrays come back as numpy."""
    path = Path(path)
    with open(path, "rb") as fp:
        return _unpickle(fp, path)


def safe_load_npy(path: str | os.PathLike) -> Any:
    """An ``.npy``: plain arrays as numpy; pickled object arrays through the restricted
    unpickler (a 0-d object array, e.g. a pickled dict, comes back as that object)."""
    path = Path(path)
    with open(path, "rb") as fp:
        try:
            version = np.lib.format.read_magic(fp)
            read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, dtype = read(fp)
        except ValueError as exc:
            raise UserInputError(f"{path}: not an .npy file ({exc})") from None
        if not dtype.hasobject:
            fp.seek(0)
            return np.load(fp, allow_pickle=False)
        return _unpickle(fp, path)


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every non-object array of an ``.npz`` (object arrays, which need pickle, are skipped)."""
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as z:
            for k in z.files:
                try:
                    out[k] = z[k]
                except ValueError:  # object array: would need pickle
                    continue
    except (OSError, ValueError) as exc:
        raise UserInputError(f"{path}: not a readable .npz ({exc})") from None
    return out


def load_checkpoint(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` on CPU, with a one-line error for a bad file."""
    import torch

    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for bad files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserInputError(f"{path}: not a loadable weights-only checkpoint ({first[:200]})") from None


def to_numpy(obj: Any, dtype=np.float64) -> np.ndarray:
    """numpy array of an unpickled value: ndarray, chumpy stub, scipy sparse or torch tensor."""
    if isinstance(obj, ChumpyStub):
        return np.asarray(obj, dtype=dtype)
    if hasattr(obj, "toarray") and "scipy.sparse" in type(obj).__module__:
        return np.asarray(obj.toarray(), dtype=dtype)
    if type(obj).__module__.startswith("torch"):
        return obj.detach().cpu().numpy().astype(dtype)
    return np.asarray(obj, dtype=dtype)
