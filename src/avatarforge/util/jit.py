"""``numba.njit`` with an on-disk cache that degrades to no cache instead of failing.

Compiled kernels go to :func:`avatarforge.util.paths.numba_cache_dir` (``$NUMBA_CACHE_DIR``,
else ``<avatarforge cache>/numba``), not next to the source: an installed package's
site-packages may be read-only, and one fixed place means a second process loads every
kernel instead of compiling it (~1-2 s). If no location is writable, numba refuses
``cache=True`` at decoration time; we then compile without caching and warn once instead
of crashing the import.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
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
        kernel = numba.njit(cache=True, **options)(func)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        warnings.warn(
            f"numba cannot cache {func.__qualname__} ({exc}); compiling it in memory only. "
            "Set NUMBA_CACHE_DIR to a writable directory to keep compiled kernels.",
            RuntimeWarning,
            stacklevel=2,
        )
        kernel = numba.njit(cache=False, **options)(func)
    return _keeping_torch_threads(kernel) if options.get("parallel") else kernel


def _keeping_torch_threads(kernel: Callable) -> Callable:
    """Call a ``parallel=True`` kernel without changing torch's thread count.

    numba's OpenMP threading layer sets the calling thread's OpenMP thread count to the core
    count, and torch reads its own from there: after one parallel kernel, code that asked
    torch for one thread silently ran on two (on a loaded 2-core machine an IMavatar step then
    cost ~20x the CPU, an OpenMP worker spin-waiting). Plain Python wrapper, so the kernel
    cannot be called from other compiled code (none of ours does)."""

    @functools.wraps(kernel)
    def call(*args):
        torch = sys.modules.get("torch")  # only if the process uses torch: never imported here
        threads = torch.get_num_threads() if torch is not None else None
        try:
            return kernel(*args)
        finally:
            if threads is not None and torch.get_num_threads() != threads:
                torch.set_num_threads(threads)

    return call
