"""``numba.njit`` with an on-disk cache that degrades to no cache instead of failing.

Compiled kernels go to :func:`avatarforge.util.paths.numba_cache_dir` (``$NUMBA_CACHE_DIR``,
else ``<avatarforge cache>/numba``), not next to the source: an installed package's
site-packages may be read-only, and one fixed place means a second process loads every
kernel instead of compiling it (~1-2 s). If no location is writable, numba refuses
``cache=True`` at decoration time; we then compile without caching and warn once instead
of crashing the import.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Callable

from avatarforge.util.paths import numba_cache_dir

if not os.environ.get("NUMBA_CACHE_DIR"):
    # Before numba reads its config; if numba was imported already, set it there too.
    os.environ["NUMBA_CACHE_DIR"] = str(numba_cache_dir())

import numba  # noqa: E402
import numba.core.config  # noqa: E402

if not numba.core.config.CACHE_DIR:
    numba.core.config.CACHE_DIR = os.environ["NUMBA_CACHE_DIR"]

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
