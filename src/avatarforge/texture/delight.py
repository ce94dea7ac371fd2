"""De-lighting: low-frequency lighting as 2nd-order spherical harmonics, divided out.

Lighting model (Lambertian, distant light, as DECA): the colour of a texel with unit normal
``n`` (world frame: x = the body's left, y up, z out of the face) and albedo ``a`` is
``a_c * shading_c(n)``, ``shading_c(n) = sum_k coeffs[k, c] * basis_k(n)`` with the 9 basis
functions, in this order,

    1, x, y, z, xy, xz, yz, x^2 - y^2, 3 z^2 - 1

each scaled by its real-SH normalisation times the Lambertian band factor
(pi, 2 pi / 3, pi / 4 for bands 0, 1, 2) and divided by pi, so that ``coeffs`` are radiance
SH coefficients of the light and a uniform white sky of radiance 1 gives shading 1.

The fit models the albedo of reliable skin as one constant colour: linear least squares of
the baked colour on the basis (9 unknowns per channel), reweighted to drop outliers (hair,
brows, cast shadows), with a small ridge on bands 1-2 because a face only shows one hemisphere
of normals. The product albedo x light is what a photo determines; it is split so that the
mean shading over the fitted texels is 1 per channel: the albedo keeps the photo's average
skin colour (the light's colour cannot be told from the skin's) and only the spatial variation
of the light is removed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Float

from avatarforge.errors import UserInputError

__all__ = ["SHLighting", "sh_basis", "sh_shading", "fit_sh", "delight", "SH_FACTORS"]

_Y = np.array([0.282095, 0.488603, 0.488603, 0.488603, 1.092548, 1.092548, 1.092548, 0.546274, 0.315392])
_A = np.array([np.pi] + [2 * np.pi / 3] * 3 + [np.pi / 4] * 5)
#: Per-basis factor: real-SH normalisation x Lambertian band factor / pi.
SH_FACTORS = (_Y * _A / np.pi).astype(np.float32)


@dataclass
class SHLighting:
    """Estimated lighting."""

    coeffs: Float[np.ndarray, "9 3"]
    """Radiance SH coefficients per linear RGB channel (basis order in the module docstring),
    normalised so that the mean shading over the fitted skin is 1 per channel."""
    skin_albedo: Float[np.ndarray, "3"]
    """The constant linear-RGB skin albedo of the fit (the mean colour of the fitted skin)."""
    residual: float
    """Root-mean-square colour residual of the kept texels (linear units)."""
    n_texels: int
    """How many texels the final fit kept."""


def sh_basis(normals: Float[np.ndarray, "N 3"]) -> Float[np.ndarray, "N 9"]:
    """The 9 scaled basis functions at unit normals."""
    n = np.asarray(normals, dtype=np.float32)
    x, y, z = n[:, 0], n[:, 1], n[:, 2]
    one = np.ones_like(x)
    return np.stack([one, x, y, z, x * y, x * z, y * z, x * x - y * y, 3 * z * z - 1], -1) * SH_FACTORS


def sh_shading(normals: Float[np.ndarray, "N 3"], coeffs: Float[np.ndarray, "9 3"]) -> Float[np.ndarray, "N 3"]:
    """Shading per channel, ``basis(n) @ coeffs``."""
    return sh_basis(normals) @ np.asarray(coeffs, dtype=np.float32)


def fit_sh(colour: Float[np.ndarray, "N 3"], normals: Float[np.ndarray, "N 3"],
           weight: Float[np.ndarray, " N"] | None = None,
           albedo: Float[np.ndarray, "3"] | None = None, ridge: float = 1e-3, iterations: int = 3,
           max_samples: int = 40000, seed: int = 0, chroma: float = 1.0) -> SHLighting:
    """Fit SH lighting to linear colours of texels with known normals (see module docstring).

    With a known constant ``albedo`` the coefficients are returned unnormalised (``colour =
    albedo * shading``); otherwise they are normalised as documented. ``ridge`` is relative to
    the mean diagonal of the normal equations and applies to bands 1 and 2. ``chroma`` < 1
    pulls each channel's (normalised) band 1-2 coefficients towards their mean over the
    channels: directional light of one colour, which extrapolates without colour casts to
    normals the face does not show.
    """
    colour, normals = np.asarray(colour, np.float32), np.asarray(normals, np.float32)
    w = np.ones(len(colour), np.float32) if weight is None else np.asarray(weight, np.float32)
    keep = w > 0
    if keep.sum() < 30:
        raise UserInputError(f"SH lighting needs at least 30 weighted texels, got {int(keep.sum())}; "
                             "is the face visible in the photo?")
    idx = np.flatnonzero(keep)
    if len(idx) > max_samples:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_samples, replace=False))
    c, B, w = colour[idx].astype(np.float64), sh_basis(normals[idx]).astype(np.float64), w[idx].astype(np.float64)
    lum = c @ np.array([0.2126, 0.7152, 0.0722])
    reg = np.r_[0.0, np.full(8, ridge)]
    active = np.ones(len(idx), bool)
    for _ in range(max(1, iterations)):
        ww = w * active
        A = B.T @ (B * ww[:, None])
        M = np.linalg.solve(A + np.diag(reg * np.trace(A) / 9 + 1e-12), B.T @ (c * ww[:, None]))  # (9, 3)
        r = lum - (B @ M) @ np.array([0.2126, 0.7152, 0.0722])
        mad = 1.4826 * np.median(np.abs(r[active] - np.median(r[active]))) + 1e-6
        active = np.abs(r - np.median(r[active])) < 2.5 * mad
    pred = B @ M
    resid = float(np.sqrt(np.mean(((c - pred)[active]) ** 2)))
    if albedo is not None:
        a = np.asarray(albedo, np.float64)
        return SHLighting((M / a).astype(np.float32), a.astype(np.float32), resid, int(active.sum()))
    a = np.maximum((pred * (w * active)[:, None]).sum(0) / max((w * active).sum(), 1e-12), 1e-6)
    coeffs = M / a
    if chroma < 1.0:
        mean = coeffs[1:].mean(1, keepdims=True)
        coeffs[1:] = mean + chroma * (coeffs[1:] - mean)
        ww = (w * active)[:, None]
        shade = B @ coeffs
        a = np.maximum((ww * shade * c).sum(0) / np.maximum((ww * shade ** 2).sum(0), 1e-12), 1e-6)  # refit albedo
        m = (ww * shade).sum(0) / max(float(ww.sum()), 1e-12)
        coeffs, a = coeffs / m, a * m  # mean shading 1 again
    return SHLighting(coeffs.astype(np.float32), a.astype(np.float32), resid, int(active.sum()))


def delight(colour: Float[np.ndarray, "N 3"], normals: Float[np.ndarray, "N 3"], lighting: SHLighting,
            shading_range: tuple[float, float] = (0.45, 1.6)) -> tuple[np.ndarray, np.ndarray]:
    """``(albedo, shading)`` of texels: colour divided by the shading, clipped to ``shading_range``
    (deep in shadow the division would only amplify noise; those texels are inpainted later)."""
    shading = np.clip(sh_shading(normals, lighting.coeffs), *shading_range)
    return (np.asarray(colour, np.float32) / shading).astype(np.float32), shading.astype(np.float32)


