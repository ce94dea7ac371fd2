"""Person/background segmentation: MediaPipe's bundled selfie segmentation model."""

from __future__ import annotations

import numpy as np
from jaxtyping import Float, UInt8

__all__ = ["person_mask"]


def person_mask(rgb: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "H W"] | None:
    """Soft person mask in [0, 1] (0.5 = the boundary), or None when the model gives none."""
    from avatarforge.perception import _mediapipe

    m = getattr(_mediapipe.run("selfie", rgb), "segmentation_mask", None)
    return None if m is None else np.asarray(m, np.float32)
