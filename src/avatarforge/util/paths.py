"""Where avatarforge keeps caches (user-overridable, never relative to the current directory)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "numba_cache_dir"]


def cache_dir() -> Path:
    """The cache root: ``$AVATARFORGE_CACHE_DIR``, else ``$XDG_CACHE_HOME/avatarforge``,
    else ``~/.cache/avatarforge``."""
    env = os.environ.get("AVATARFORGE_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "avatarforge").absolute()


def numba_cache_dir() -> Path:
    """Where numba keeps avatarforge's compiled kernels: ``$NUMBA_CACHE_DIR`` if set, else
    ``cache_dir() / "numba"`` (works for a read-only site-packages, survives reinstalls)."""
    env = os.environ.get("NUMBA_CACHE_DIR")
    if env:
        return Path(env).expanduser().absolute()
    return cache_dir() / "numba"
