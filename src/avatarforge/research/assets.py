"""One resolver for the licensed research assets (explicit folder or ``AVATARFORGE_ASSETS``).

Expected tree (names as released by their authors)::

    ASSETS/
      smplx/SMPLX_NEUTRAL.npz              SMPL-X body            https://smpl-x.is.tue.mpg.de
      smplx/SMPL-X__FLAME_vertex_ids.npy   SMPL-X <-> FLAME ids   https://smpl-x.is.tue.mpg.de
      flame/generic_model.pkl              FLAME 2020 head        https://flame.is.tue.mpg.de
      flame/FLAME_texture.npz              FLAME texture space    https://flame.is.tue.mpg.de
        (or flame/FLAME_albedo_from_BFM.npz, https://github.com/TimoBolkart/BFM_to_FLAME)
      flame/landmark_embedding.npy         DECA's landmark embedding  https://github.com/yfeng95/DECA
      flame/head_template.obj              FLAME UV layout (DECA's)   https://github.com/yfeng95/DECA
      deca/deca_model.tar                  DECA weights               https://github.com/yfeng95/DECA

Paths are never taken relative to the current directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from avatarforge.errors import UserInputError

__all__ = ["AssetSpec", "ASSETS", "AssetPaths", "resolve_assets", "ENV_VAR"]

ENV_VAR = "AVATARFORGE_ASSETS"

SMPLX_PAGE = "https://smpl-x.is.tue.mpg.de"
FLAME_PAGE = "https://flame.is.tue.mpg.de"
DECA_PAGE = "https://github.com/yfeng95/DECA"
BFM_PAGE = "https://github.com/TimoBolkart/BFM_to_FLAME"


@dataclass(frozen=True)
class AssetSpec:
    """One licensed file of the asset tree."""

    key: str
    """Short name used in code and in ``doctor`` output."""
    relpaths: tuple[str, ...]
    """Accepted locations inside the assets folder, first = preferred."""
    page: str
    """Where the file is obtained (registration and licence there)."""
    enables: str
    """What the file enables, one line."""


ASSETS: tuple[AssetSpec, ...] = (
    AssetSpec("smplx", ("smplx/SMPLX_NEUTRAL.npz",), SMPLX_PAGE, "SMPL-X body backend (--backend smplx)"),
    AssetSpec("smplx_flame_ids", ("smplx/SMPL-X__FLAME_vertex_ids.npy",), SMPLX_PAGE,
              "graft: FLAME head vertices inside SMPL-X"),
    AssetSpec("flame", ("flame/generic_model.pkl",), FLAME_PAGE, "FLAME head backend"),
    AssetSpec("flame_texture", ("flame/FLAME_texture.npz", "flame/FLAME_albedo_from_BFM.npz"),
              f"{FLAME_PAGE} (FLAME_texture.npz) or {BFM_PAGE} (FLAME_albedo_from_BFM.npz)",
              "DECA albedo from the FLAME texture space"),
    AssetSpec("landmarks", ("flame/landmark_embedding.npy",), DECA_PAGE,
              "FLAME 68 landmarks (landmark fitting without DECA weights)"),
    AssetSpec("head_template", ("flame/head_template.obj",), DECA_PAGE, "FLAME UV layout (head texture)"),
    AssetSpec("deca", ("deca/deca_model.tar",), DECA_PAGE, "DECA photo -> FLAME reconstruction"),
)
_BY_KEY = {a.key: a for a in ASSETS}


@dataclass(frozen=True)
class AssetPaths:
    """The resolved assets folder; :meth:`get` finds a file, :meth:`require` insists on it."""

    root: Path
    """Absolute assets folder."""

    def get(self, key: str) -> Path | None:
        """Path of asset ``key`` if present, else None."""
        for rel in _BY_KEY[key].relpaths:
            p = self.root / rel
            if p.is_file():
                return p
        return None

    def has(self, key: str) -> bool:
        return self.get(key) is not None

    def require(self, key: str) -> Path:
        """Path of asset ``key``; raises a one-line UserInputError naming it and its page."""
        p = self.get(key)
        if p is None:
            spec = _BY_KEY[key]
            where = " or ".join(str(self.root / r) for r in spec.relpaths)
            raise UserInputError(f"missing licensed file {where} (needed for {spec.enables}); "
                                 f"obtain it from {spec.page}")
        return p


def resolve_assets(path: str | os.PathLike | None = None) -> AssetPaths:
    """The assets folder from ``path`` or, when None, ``$AVATARFORGE_ASSETS``.

    Raises UserInputError when neither is given or the folder does not exist.
    """
    raw = path if path is not None else os.environ.get(ENV_VAR)
    if raw is None or str(raw).strip() == "":
        raise UserInputError(f"no research assets folder: pass --assets DIR or set {ENV_VAR} "
                             "(see README, 'Research backends', for the expected tree)")
    root = Path(raw).expanduser()
    if not root.is_absolute() and path is None:
        raise UserInputError(f"{ENV_VAR} must be an absolute path, got {raw!r}")
    root = root.resolve()
    if not root.is_dir():
        raise UserInputError(f"research assets folder {root} does not exist")
    return AssetPaths(root)
