"""Robust statistics shared by the texture and portrait code."""

from __future__ import annotations

import numpy as np

__all__ = ["robust_std"]


def robust_std(values: np.ndarray) -> float:
    """Standard deviation estimated from the median absolute deviation (1.4826 x MAD: equal to
    the standard deviation for normal data, unmoved by a minority of outliers); 0 for no values."""
    v = np.asarray(values)
    return float(1.4826 * np.median(np.abs(v - np.median(v)))) if v.size else 0.0
