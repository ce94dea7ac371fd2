"""Named groups of the 478 MediaPipe face-mesh landmarks used by the fitting losses,
derived from MediaPipe's own connection sets (subject's left/right)."""

from __future__ import annotations

import functools

__all__ = ["oval", "EYE_PAIRS", "LIP_PAIRS", "IRIS_RIGHT", "IRIS_LEFT", "IRIS"]

#: Upper-lid / lower-lid landmark pairs (subject's right eye, then left eye).
EYE_PAIRS = ((160, 144), (159, 145), (158, 153), (385, 380), (386, 374), (387, 373))
#: Upper / lower inner-lip pairs (mouth opening).
LIP_PAIRS = ((82, 87), (13, 14), (312, 317))
#: Iris centre + 4 ring points: subject's right eye (image left), then left eye.
IRIS_RIGHT = (468, 469, 470, 471, 472)
IRIS_LEFT = (473, 474, 475, 476, 477)
IRIS = IRIS_RIGHT + IRIS_LEFT


@functools.lru_cache(maxsize=1)
def oval() -> tuple[int, ...]:
    """The face-oval (outline) landmarks."""
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    return tuple(sorted({i for edge in FACEMESH_FACE_OVAL for i in edge}))
