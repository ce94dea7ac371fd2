"""Research backends on licensed, user-supplied assets: SMPL-X body, FLAME head, DECA
reconstruction and the thesis's head-to-body graft (see README "Research backends").

Nothing here ships or downloads a licensed file; :mod:`.assets` resolves them from a folder
the user names (``--assets DIR`` or ``AVATARFORGE_ASSETS``) and :mod:`.safe_pickle` reads
them without executing code.
"""

from avatarforge.research.assets import ASSETS, AssetPaths, resolve_assets

__all__ = ["ASSETS", "AssetPaths", "resolve_assets"]
