"""``numba.njit`` with an on-disk cache that degrades to no cache instead of failing.

Numba stores compiled kernels next to the source (``__pycache__``), or, when that is not
writable (a read-only site-packages), in ``$NUMBA_CACHE_DIR`` or the user cache directory.
Set ``NUMBA_CACHE_DIR`` to choose the place. If no location is writable, numba refuses
``cache=True`` at import time; we then compile without caching (each process pays the
JIT warm-up, ~1-2 s) and warn once instead of crashing the import.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable

import numba

__all__ = ["njit_cached"]


def njit_cached(func: Callable, **options) -> Callable:
    """``numba.njit(cache=True, **options)(func)``, falling back to ``cache=False`` if no cache dir works.

    numba compiles the plain function: a runtime type-checking wrapper around it (the test
    suite's jaxtyping import hook) is removed first -- it cannot run inside compiled code, and
    numba's cache cannot pickle it.
    """
    func = inspect.unwrap(func)
    try:
        return numba.njit(cache=True, **options)(func)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        warnings.warn(
            f"numba cannot cache {func.__qualname__} ({exc}); compiling it in memory only. "
            "Set NUMBA_CACHE_DIR to a writable directory to keep compiled kernels.",
            RuntimeWarning,
            stacklevel=2,
        )
        return numba.njit(cache=False, **options)(func)
