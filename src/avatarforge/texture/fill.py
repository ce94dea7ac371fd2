"""Generic image fills: push-pull hole filling, feathering and band-limited noise.

* :func:`push_pull` fills every pixel from the weighted pixels around it, smoothly (a
  pyramid version of membrane interpolation: pull weighted averages down to coarse levels,
  push them back up where the fine level has no weight). Vectorised, O(pixels).
* :func:`band_noise` is reproducible multi-scale Gaussian noise whose feature size is given in
  texels of a 1024 texture, so a texture looks the same at every resolution.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
from jaxtyping import Float

__all__ = ["push_pull", "feather", "band_noise", "blur", "lowpass", "nearest_fill"]


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur (reflecting borders); ``sigma`` in pixels, 0 = identity."""
    if sigma <= 0:
        return image
    return cv2.GaussianBlur(image, (0, 0), sigmaX=float(sigma), borderType=cv2.BORDER_REFLECT)


def _down(values: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Half resolution: weighted 2 x 2 means (odd sizes padded with zero weight)."""
    h, w = weight.shape
    h2, w2 = (h + 1) // 2, (w + 1) // 2
    pw = np.zeros((2 * h2, 2 * w2), np.float32)
    pw[:h, :w] = weight
    pv = np.zeros((2 * h2, 2 * w2, values.shape[2]), np.float32)
    pv[:h, :w] = values * weight[..., None]
    # INTER_AREA at exactly half size is the 2 x 2 box mean (the 1/4 cancels in the ratio).
    ws = cv2.resize(pw, (w2, h2), interpolation=cv2.INTER_AREA)
    vs = cv2.resize(pv, (w2, h2), interpolation=cv2.INTER_AREA).reshape(h2, w2, -1)
    return vs / np.maximum(ws, 1e-12)[..., None], np.minimum(4.0 * ws, 1.0)


def push_pull(values: Float[np.ndarray, "H W C"], weight: Float[np.ndarray, "H W"],
              skip: int = 0) -> Float[np.ndarray, "H W C"]:
    """Fill pixels of low ``weight`` (0..1) from the weighted pixels around them, smoothly.

    Where ``weight`` is 1 the result equals ``values``; where it is 0 it is a smooth
    interpolation of the nearest weighted values (at any distance). All-zero weights give 0.
    ``skip > 0`` leaves out the ``skip`` finest levels: a result smooth at ``2**skip`` pixels,
    several times cheaper (for low-frequency fills).
    """
    squeeze = values.ndim == 2
    v = (values[..., None] if squeeze else values).astype(np.float32)
    w = np.clip(weight, 0.0, 1.0).astype(np.float32)
    if skip > 0:  # one area-downsampling to the coarse level, one upsampling back
        f = 2 ** int(skip)
        h, ww = w.shape
        small = (max(1, ww // f), max(1, h // f))
        sw = cv2.resize(w, small, interpolation=cv2.INTER_AREA)
        sv = cv2.resize(v * w[..., None], small, interpolation=cv2.INTER_AREA).reshape(small[1], small[0], -1)
        filled = push_pull(sv / np.maximum(sw, 1e-12)[..., None], np.minimum(sw * f * f, 1.0))
        out = cv2.resize(filled, (ww, h), interpolation=cv2.INTER_LINEAR).reshape(h, ww, -1)
        return out[..., 0] if squeeze else out
    levels = [(v, w)]
    while max(levels[-1][1].shape) > 1:
        levels.append(_down(*levels[-1]))
    filled = levels[-1][0]
    for lv, lw in reversed(levels[:-1]):
        h, ww = lw.shape
        hc, wc = filled.shape[:2]
        up = cv2.resize(filled, (2 * wc, 2 * hc), interpolation=cv2.INTER_LINEAR)
        up = (up[..., None] if up.ndim == 2 else up)[:h, :ww]
        filled = lv * lw[..., None] + up * (1.0 - lw[..., None])
    return filled[..., 0] if squeeze else filled


def lowpass(image: np.ndarray, factor: int) -> np.ndarray:
    """A cheap blur of about ``factor`` pixels: area-downsample by ``factor``, upsample linearly."""
    if factor <= 1:
        return image
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return out.reshape(image.shape)


def nearest_fill(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Every pixel not ``known`` takes the value of the nearest known pixel (L2 distance)."""
    if known.all() or not known.any():
        return values
    _, labels = cv2.distanceTransformWithLabels((~known).astype(np.uint8), cv2.DIST_L2, 3,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    # labels number the zero (known) pixels in row-major order, from 1.
    source = np.flatnonzero(known.ravel())
    flat = values.reshape(known.size, -1)
    return flat[source[labels.ravel() - 1]].reshape(values.shape)


def feather(mask: np.ndarray, sigma: float) -> Float[np.ndarray, "H W"]:
    """A soft 0..1 version of a boolean mask (blurred, and never below the mask itself)."""
    m = mask.astype(np.float32)
    return np.maximum(m, blur(m, sigma)) if sigma > 0 else m


def band_noise(shape: tuple[int, int], scales: tuple[float, ...] = (0.8, 3.0, 12.0),
               amplitudes: tuple[float, ...] = (0.5, 0.35, 0.15), seed: int = 0,
               reference_size: int = 1024) -> Float[np.ndarray, "H W"]:
    """Zero-mean, unit-std noise: a sum of Gaussian-filtered white noises of feature size
    ``scales`` (texels at ``reference_size``), mixed with ``amplitudes``. Deterministic for its
    arguments and cached in memory (treat the result as read-only)."""
    return _band_noise(tuple(int(s) for s in shape), tuple(map(float, scales)), tuple(map(float, amplitudes)),
                       int(seed), int(reference_size))


@functools.lru_cache(maxsize=12)
def _band_noise(shape, scales, amplitudes, seed, reference_size) -> np.ndarray:
    rng = np.random.default_rng(seed)
    factor = max(shape) / reference_size
    out = np.zeros(shape, np.float32)
    for s, a in zip(scales, amplitudes):
        sigma = s * factor
        # Coarse bands are drawn at a lower resolution (cheaper, same statistics after upsampling).
        step = max(1, int(sigma // 2))
        small = rng.standard_normal(((shape[0] + step - 1) // step, (shape[1] + step - 1) // step), np.float32)
        small = blur(small, sigma / step)
        small /= small.std() + 1e-12
        layer = cv2.resize(small, (shape[1], shape[0]), interpolation=cv2.INTER_CUBIC) if step > 1 else small
        out += a * layer
    out /= out.std() + 1e-12
    out.setflags(write=False)
    return out
