"""Meshopt compression of a GLB with gltfpack (npm ``gltfpack``, installed under ``tools/``).

gltfpack re-encodes the geometry with ``EXT_meshopt_compression`` (three.js decodes it with
``MeshoptDecoder``; Babylon.js and glTFast read it too). Options used: ``-cc`` (the higher
compression mode), ``-kn -km -ke`` (keep node names, material names and extras, which hold
the morph target names) and ``-vpf`` (float positions: gltfpack's integer positions put the
skinned mesh under a dequantisation node, which the validator warns about). The texture is
left as it is. Set ``AVATARFORGE_GLTFPACK`` to use another gltfpack executable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from avatarforge.errors import MissingDependencyError

__all__ = ["find_gltfpack", "meshopt_compress", "GLTFPACK_ARGS"]

GLTFPACK_ARGS = ("-cc", "-kn", "-km", "-ke", "-vpf")


def find_gltfpack() -> str:
    """The gltfpack executable, or `MissingDependencyError` saying how to install it."""
    env = os.environ.get("AVATARFORGE_GLTFPACK")
    if env:
        if not os.path.isfile(env):
            raise MissingDependencyError(f"AVATARFORGE_GLTFPACK={env} is not a file")
        return env
    for parent in Path(__file__).resolve().parents:  # a source checkout: <repo>/tools/node_modules/.bin
        exe = parent / "tools" / "node_modules" / ".bin" / "gltfpack"
        if exe.is_file():
            return str(exe)
    found = shutil.which("gltfpack")
    if found:
        return found
    raise MissingDependencyError("gltfpack is not installed: run `npm ci --prefix tools` in the source checkout "
                                 "(or `npm install -g gltfpack`), or set AVATARFORGE_GLTFPACK")


def meshopt_compress(src: str | os.PathLike, dst: str | os.PathLike, timeout: float = 300.0) -> Path:
    """Write ``dst``: ``src`` (a .glb) compressed with gltfpack; returns ``dst``."""
    exe = find_gltfpack()
    cmd = [exe, "-i", str(src), "-o", str(dst), *GLTFPACK_ARGS]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not Path(dst).is_file():
        raise RuntimeError(f"gltfpack failed on {src} (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")
    return Path(dst)
