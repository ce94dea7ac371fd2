"""The studio: a local web GUI to create and edit avatars in real time (``avatarforge studio``).

The state (`StudioState`), expressions and upload checks are plain Python; the server
(`StudioServer`) needs the ``studio`` extra (viser), imported only when it starts.
"""

from __future__ import annotations

from avatarforge.studio.expressions import EXPRESSION_PRESETS, load_expressions, save_expression
from avatarforge.studio.state import MeshFrame, StudioState

__all__ = ["StudioState", "MeshFrame", "EXPRESSION_PRESETS", "save_expression", "load_expressions",
           "StudioConfig", "StudioServer"]


def __getattr__(name: str):
    if name in ("StudioConfig", "StudioServer"):
        from avatarforge.studio import server

        return getattr(server, name)
    raise AttributeError(name)
