"""Temporal filters of per-frame values: the one-euro filter and hold-and-ease over gaps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float, Int

__all__ = ["one_euro", "hold_and_ease", "HoldEase"]


def _alpha(cutoff: np.ndarray | float, fps: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * np.asarray(cutoff))
    return 1.0 / (1.0 + tau * fps)


def one_euro(x: Float[np.ndarray, "F ..."], fps: float, min_cutoff: float = 1.5, beta: float = 0.3,
             d_cutoff: float = 1.0) -> Float[np.ndarray, "F ..."]:
    """One-euro filter (Casiez et al., CHI 2012) along axis 0, run forwards then backwards
    (zero phase lag, as the whole clip is known).

    Each component is low-pass filtered with a cutoff ``min_cutoff + beta * |speed|`` (Hz,
    speed in units per second, itself low-passed at ``d_cutoff``): still values are smoothed
    hard, fast movements keep their timing.
    """
    def once(v: np.ndarray) -> np.ndarray:
        out = np.empty_like(v)
        out[0] = v[0]
        dx = np.zeros_like(v[0])
        a_d = _alpha(d_cutoff, fps)
        for i in range(1, len(v)):
            dx = a_d * (v[i] - out[i - 1]) * fps + (1 - a_d) * dx
            a = _alpha(min_cutoff + beta * np.abs(dx), fps)
            out[i] = a * v[i] + (1 - a) * out[i - 1]
        return out

    x = np.asarray(x, np.float64)
    if len(x) < 2:
        return x.copy()
    return once(once(x)[::-1])[::-1]


@dataclass
class HoldEase:
    """Which tracked frame drives each output frame, and how strongly."""

    source: np.ndarray
    """(F,) int64: the tracked frame whose pose is shown (the last valid one in a gap; -1
    before the first valid frame)."""
    weight: np.ndarray
    """(F,) float in [0, 1]: 1 = that pose, 0 = the neutral pose."""


def hold_and_ease(valid: Bool[np.ndarray, " F"], fps: float, hold_s: float = 0.5, ease_s: float = 0.5) -> HoldEase:
    """Frames without a detection hold the last pose for ``hold_s`` seconds, then ease to the
    neutral pose over ``ease_s`` seconds (smoothstep); when tracking returns the pose eases
    back in from wherever the weight had fallen to over ``ease_s``. Frames before the first
    detection are neutral and ease in the same way."""
    valid = np.asarray(valid, bool)
    n = len(valid)
    source: Int[np.ndarray, " F"] = np.full(n, -1, np.int64)
    weight = np.zeros(n)
    hold, ease = hold_s * fps, max(ease_s * fps, 1e-9)
    last, missing = -1, 0
    for i in range(n):
        if valid[i]:
            weight[i] = 1.0 if i == 0 else min(1.0, weight[i - 1] + 1.0 / ease)
            source[i], last, missing = i, i, 0
            continue
        missing += 1
        source[i] = last
        if last >= 0:
            t = float(np.clip((missing - hold) / ease, 0.0, 1.0))
            weight[i] = min(weight[i - 1], 1.0 - t * t * (3 - 2 * t))
    return HoldEase(source, weight)
