"""Seam correction: make a texture's colours continuous across the seams of its UV atlas.

A seam edge is a mesh edge whose two triangles give its vertices different UVs. Points along it
are sampled in pairs, one UV location per side (one 3D point), each read as the bilinear mean of
its own chart's texels. The correction has two bands:

* coarse (gradient domain): one value per welded UV vertex, linear over triangles, minimising its
  Dirichlet energy over the atlas (UV cotangent weights) + ``seam_weight`` x the squared steps
  left at the pairs. Smooth inside charts, so their pattern is kept; an offset chart moves as a
  whole. Its level is the smallest total change (two equal charts meet at their average).
* fine: what is left at each pair, half into each side's seam texels, faded over
  ``detail_texels`` texels.

:func:`seam_error` is the figure of merit. A :class:`SeamLayout` holds what depends on the mesh
and texture size only (:func:`seam_layout`): build it once to correct many textures.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from jaxtyping import Bool, Float, Int, Real
from scipy.sparse.linalg import factorized

from avatarforge.errors import UserInputError
from avatarforge.render.uv import rasterize_uv
from avatarforge.texture.uv_geometry import (as_array, bilinear_taps, chart_labels, interp, pad, propagate, uv_laplacian,
                                        uv_to_texel)

__all__ = ["SEAMS_VERSION", "SeamEdges", "SeamLayout", "SeamResult", "find_seam_edges", "seam_layout", "seam_error", "correct_seams"]


#: Bump when :func:`seam_layout` changes what it computes (invalidates the on-disk cache).
SEAMS_VERSION = 1


@dataclass
class SeamEdges:
    """Mesh edges along which the UV atlas is cut."""

    vertices: Int[np.ndarray, "E 2"]
    """int64 3D endpoints ``(a, b)`` of each edge, ``a < b``."""
    faces: Int[np.ndarray, "E 2"]
    """int64 the triangle on side 0 and on side 1."""
    uv: Int[np.ndarray, "E 2 2"]
    """int64 UV index ``[edge, side, endpoint]`` of ``a`` and ``b`` in that side's triangle."""


@dataclass
class SeamLayout:
    """Seam samples and solver data of one mesh's atlas at one texture size."""

    shape: tuple[int, int]
    """Texture (H, W)."""
    edges: SeamEdges
    pair_uv: Float[np.ndarray, "P 2 2"]
    """float64 UV ``[pair, side]`` of the two sides of each sample (one 3D point)."""
    pair_edge: Int[np.ndarray, " P"]
    """Seam edge of each pair."""
    pair_t: Float[np.ndarray, " P"]
    """Position along the edge: the 3D point is ``(1 - t) X[a] + t X[b]``."""
    taps: Int[np.ndarray, "P 2 4"]
    """Flat texel indices of each side's bilinear taps (within its own chart)."""
    tap_weights: Float[np.ndarray, "P 2 4"]
    """Their weights (each side sums to 1)."""
    chart_map: Int[np.ndarray, "H W"]
    """int32 UV chart of each texel, -1 on empty atlas space."""
    texel_tri: Int[np.ndarray, " N"]
    """Triangle of each covered texel (row-major order of ``chart_map >= 0``)."""
    texel_bary: Float[np.ndarray, "N 3"]
    """Its float32 barycentrics."""
    corner_unknown: Int[np.ndarray, "F 3"]
    """Coarse-correction unknown (welded UV vertex) of each triangle corner."""
    pair_unknown: Int[np.ndarray, "P 2 2"]
    """Unknowns at the endpoints of each pair's edge, per side."""
    stiffness: sp.csr_matrix
    """Cotangent Laplacian of the UV layout over the unknowns (Dirichlet energy)."""
    mass: Float[np.ndarray, " U"]
    """Lumped UV area per unknown (fixes the correction's level)."""
    pair_length: Float[np.ndarray, " P"]
    """UV length of seam each pair stands for."""
    uv_edge: float
    """Median UV edge length of the mesh (scales ``seam_weight``)."""
    _solvers: dict = field(default_factory=dict, repr=False)


@dataclass
class SeamResult:
    """A seam-corrected texture and how much the seams improved."""

    texture: Real[np.ndarray, "H W C"]
    """Corrected texture, dtype and shape of the input."""
    correction: Float[np.ndarray, "H W C"]
    """float32 correction that was added (0 away from the charts and their padding)."""
    error_before: float
    """:func:`seam_error` of the input."""
    error_after: float
    """:func:`seam_error` of the output."""
    n_pairs: int
    """Seam sample pairs used."""


def find_seam_edges(
    faces: Int[np.ndarray, "F 3"], uv_faces: Int[np.ndarray, "F 3"], uvs: Float[np.ndarray, "T 2"]
) -> SeamEdges:
    """Edges shared by exactly two triangles that give a shared vertex different UV coordinates
    (comparing coordinates, so duplicated UV indices at the same place are no seam)."""
    f, uf, uvs = as_array(faces, np.int64), as_array(uv_faces, np.int64), as_array(uvs, np.float64)
    if f.shape != uf.shape or f.ndim != 2 or f.shape[1] != 3:
        raise UserInputError(f"faces {f.shape} and uv_faces {uf.shape} must both be (F, 3)")
    nxt = [1, 2, 0]
    a, b = f.ravel(), f[:, nxt].ravel()  # half-edges a -> b, corner order per face
    ua, ub = uf.ravel(), uf[:, nxt].ravel()
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    flip = a > b  # make every half-edge run lo -> hi, its uv indices too
    ua, ub = np.where(flip, ub, ua), np.where(flip, ua, ub)
    key = lo * (int(f.max()) + 1) + hi
    order = np.argsort(key, kind="stable")
    _, start, count = np.unique(key[order], return_index=True, return_counts=True)
    two = start[count == 2]
    h0, h1 = order[two], order[two + 1]
    uv = np.stack([np.stack([ua[h0], ub[h0]], 1), np.stack([ua[h1], ub[h1]], 1)], 1)  # (E, side, end)
    differ = (uvs[uv[:, 0]] != uvs[uv[:, 1]]).any((1, 2))
    return SeamEdges(np.stack([lo[h0], hi[h0]], 1)[differ], np.stack([h0 // 3, h1 // 3], 1)[differ], uv[differ])


def seam_layout(
    uvs: Float[np.ndarray, "T 2"],
    uv_faces: Int[np.ndarray, "F 3"],
    faces: Int[np.ndarray, "F 3"],
    size: int | tuple[int, int],
    spacing: float = 1.0,
) -> SeamLayout:
    """Seam pairs about every ``spacing`` texels along each seam edge of a ``size`` texture, and
    the coarse solver's matrices. Pairs with no texel of their chart nearby on a side are dropped."""
    uvs, uf = as_array(uvs, np.float64), as_array(uv_faces, np.int64)
    shape = (size, size) if np.isscalar(size) else tuple(int(s) for s in size)
    edges = find_seam_edges(faces, uf, uvs)
    ends = uvs[edges.uv]  # (E, side, end, 2)
    texels = np.abs(ends[:, :, 1] - ends[:, :, 0]) * [shape[1], shape[0]]
    n_per = np.maximum(1, np.ceil(np.linalg.norm(texels, axis=-1).max(1) / spacing)).astype(np.int64)
    pair_edge = np.repeat(np.arange(len(n_per)), n_per)
    first = np.cumsum(n_per) - n_per
    t = (np.arange(len(pair_edge)) - first[pair_edge] + 0.5) / n_per[pair_edge]
    e = ends[pair_edge]
    pair_uv = (1 - t)[:, None, None] * e[:, :, 0] + t[:, None, None] * e[:, :, 1]  # (P, side, 2)
    chart, welded = chart_labels(uvs, uf)
    raster = rasterize_uv(uvs, uf, shape)
    chart_map = np.where(raster.mask, chart[np.maximum(raster.triangle_id, 0)], -1).astype(np.int32)
    taps, wts = np.zeros((len(t), 2, 4), np.int64), np.zeros((len(t), 2, 4))
    for s in range(2):
        x, y = uv_to_texel(pair_uv[:, s], shape)
        taps[:, s], wts[:, s] = bilinear_taps(x, y, chart_map >= 0, chart_map, chart[edges.faces[pair_edge, s]])
    keep = (wts.sum(2) > 0).all(1)
    unknown = welded[edges.uv[pair_edge[keep]]]  # (P, side, end)
    idx = raster.covered()
    stiffness, mass = uv_laplacian(uvs[uf], welded[uf], int(welded.max()) + 1)
    length = np.linalg.norm(ends[:, :, 1] - ends[:, :, 0], axis=-1).mean(1) / n_per
    return SeamLayout(
        shape, edges, pair_uv[keep], pair_edge[keep], t[keep], taps[keep], wts[keep], chart_map,
        raster.triangle_id[idx], raster.bary[idx], welded[uf], unknown,
        stiffness, mass, length[pair_edge[keep]],
        float(np.median(np.linalg.norm(uvs[uf] - uvs[uf[:, [1, 2, 0]]], axis=-1))),
    )


def _prepare(texture, uvs, uv_faces, faces, mask, layout) -> tuple[np.ndarray, SeamLayout, np.ndarray]:
    tex = as_array(texture)
    if tex.ndim not in (2, 3):
        raise UserInputError(f"texture must be (H, W) or (H, W, C), got {tex.shape}")
    if layout is None:
        if uvs is None or uv_faces is None or faces is None:
            raise UserInputError("give the mesh (uvs, uv_faces, faces) or a layout from seam_layout()")
        layout = seam_layout(uvs, uv_faces, faces, tex.shape[:2])
    elif layout.shape != tex.shape[:2]:
        raise UserInputError(f"the seam layout was built for {layout.shape}, the texture is {tex.shape[:2]}")
    w = layout.tap_weights
    if mask is not None:
        m = as_array(mask, bool)
        if m.shape != layout.shape:
            raise UserInputError(f"mask {m.shape} must match the texture's {layout.shape}")
        w = w * m.ravel()[layout.taps]
        total = w.sum(2, keepdims=True)
        w = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    return tex, layout, w


def _side_values(values: np.ndarray, layout: SeamLayout, w: np.ndarray) -> np.ndarray:
    """(P, side, C) bilinear values of each pair's sides."""
    flat = values.reshape(-1, values.shape[-1] if values.ndim == 3 else 1)
    return np.einsum("psk,pskc->psc", w, flat[layout.taps].astype(np.float64))  # p: pair, s: side, k: tap, c: channel


def _error(sides: np.ndarray, ok: np.ndarray) -> float:
    return float(np.linalg.norm(sides[ok, 1] - sides[ok, 0], axis=-1).mean()) if ok.any() else 0.0


def seam_error(
    texture: Real[np.ndarray, "H W C"],  # uint8 or float
    uvs: Float[np.ndarray, "T 2"] | None = None,
    uv_faces: Int[np.ndarray, "F 3"] | None = None,
    faces: Int[np.ndarray, "F 3"] | None = None,
    mask: Bool[np.ndarray, "H W"] | None = None,
    layout: SeamLayout | None = None,
) -> float:
    """Mean colour distance (Euclidean over channels, texture units) between the two sides of
    the seam pairs: texel neighbourhoods that meet at the same 3D point. With ``mask``, only
    texels where it is True count; pairs with a side outside it are skipped."""
    tex, layout, w = _prepare(texture, uvs, uv_faces, faces, mask, layout)
    return _error(_side_values(tex, layout, w), (w.sum(2) > 0).all(1))


def correct_seams(
    texture: Real[np.ndarray, "H W C"],  # uint8 or float
    uvs: Float[np.ndarray, "T 2"] | None = None,
    uv_faces: Int[np.ndarray, "F 3"] | None = None,
    faces: Int[np.ndarray, "F 3"] | None = None,
    mask: Bool[np.ndarray, "H W"] | None = None,
    layout: SeamLayout | None = None,
    seam_weight: float = 100.0,
    detail_texels: int = 8,
    pad_texels: int = 4,
) -> SeamResult:
    """Remove the colour steps across UV seams (see the module docstring).

    ``texture``: (H, W) or (H, W, C), uint8 (result rounded and clipped) or float (clipped to
    [0, 1] only if the input lies within it). ``mask``: texels holding real colour; only they
    are read at the seams (the correction is still applied over whole charts). Give either the
    mesh (``uvs, uv_faces, faces``) or a ``layout`` from :func:`seam_layout`. ``seam_weight``:
    how strictly the coarse band closes the steps against its smoothness (relative, per UV edge
    length); ``detail_texels``: width of the fine band (0: coarse only); ``pad_texels``: rings of
    empty atlas space around the charts overwritten by dilating the corrected charts, so that
    old padding does not bleed the steps back in under bilinear/mipmapped sampling (0: keep).
    """
    tex, layout, w = _prepare(texture, uvs, uv_faces, faces, mask, layout)
    values = tex.reshape(*layout.shape, -1).astype(np.float32)
    ok = (w.sum(2) > 0).all(1)
    sides = _side_values(values, layout, w)
    before = _error(sides, ok)
    x = _solve(layout, ok, sides[:, 1] - sides[:, 0], seam_weight)  # (U, C) per unknown
    covered = layout.chart_map >= 0
    out = values.copy()
    out[covered] += interp(x[layout.corner_unknown], layout.texel_tri, layout.texel_bary).astype(np.float32)
    if detail_texels > 0:
        band, fine = _fine_band(out, layout, w, ok, detail_texels)
        out.reshape(-1, out.shape[2])[band] += fine
    out, _ = pad(out, covered, ~covered, pad_texels)  # re-dilate into empty space; the rest is kept
    after = _error(_side_values(out, layout, w), ok)
    correction = out - values
    if np.issubdtype(tex.dtype, np.integer):
        info = np.iinfo(tex.dtype)
        out = np.clip(np.rint(out, out=out), info.min, info.max, out=out)
    elif tex.size and tex.min() >= 0 and tex.max() <= 1:
        out = np.clip(out, 0, 1, out=out)
    return SeamResult(out.astype(tex.dtype).reshape(tex.shape), correction, before, after, int(ok.sum()))


def _solve(layout: SeamLayout, ok: np.ndarray, step: np.ndarray, seam_weight: float) -> np.ndarray:
    """Coarse band: per-unknown correction ``x`` with ``x(side 0) - x(side 1) ~= step`` at pairs."""
    n = len(layout.mass)
    key = (hash(ok.tobytes()), float(seam_weight))
    if key not in layout._solvers:
        t = layout.pair_t[ok]
        u = layout.pair_unknown[ok].reshape(-1, 4)  # side 0 (a, b), side 1 (a, b)
        coef = np.stack([1 - t, t, t - 1, -t], 1)
        rows = sp.csr_matrix((coef.ravel(), (np.repeat(np.arange(len(t)), 4), u.ravel())), shape=(len(t), n))
        # A step left across one triangle costs ~ seam_weight times its smoothing energy.
        weight = seam_weight / max(layout.uv_edge, 1e-12) * layout.pair_length[ok]
        gauge = 1e-6 * layout.mass / max(layout.mass.mean(), 1e-300) + 1e-9  # + unused uvs
        system = (layout.stiffness + rows.T @ sp.diags(weight) @ rows + sp.diags(gauge)).tocsc()
        layout._solvers.clear()
        layout._solvers[key] = (factorized(system), rows.T @ sp.diags(weight))
    solve, rhs = layout._solvers[key]
    b = rhs @ step[ok]
    return np.stack([solve(b[:, c]) for c in range(b.shape[1])], 1)


def _fine_band(values: np.ndarray, layout: SeamLayout, w: np.ndarray, ok: np.ndarray, rings: int):
    """Fine band: half the remaining step into each side's seam texels, faded over ``rings``.
    Returns the flat indices of the texels it changes and the (N, C) changes."""
    sides = _side_values(values, layout, w)[ok]
    half = (sides[:, 1] - sides[:, 0]) / 2  # side 0 goes up by half the step, side 1 down
    signed = half[:, None, None, :] * np.array([1.0, -1.0])[:, None, None]  # (P, side, 1, C)
    texel, taps = np.unique(layout.taps[ok].ravel(), return_inverse=True)  # seam texels
    wt = w[ok].ravel()
    wsum = np.bincount(taps, wt, minlength=len(texel))
    acc = np.stack([np.bincount(taps, (signed[..., c] * w[ok]).ravel(), minlength=len(texel))
                    for c in range(values.shape[2])], 1)
    seed = np.zeros(values.shape, np.float32)
    known = np.zeros(values.shape[:2], bool)
    hit = wsum > 1e-9
    seed.reshape(-1, values.shape[2])[texel[hit]] = acc[hit] / wsum[hit, None]
    known.ravel()[texel[hit]] = True
    spread, ring = propagate(seed, known, layout.chart_map, rings)
    band = np.flatnonzero(ring >= 0)
    fade = 0.5 + 0.5 * np.cos(np.pi * ring.ravel()[band] / (rings + 1))  # 1 on the seam, 0 past the band
    return band, spread.reshape(-1, values.shape[2])[band] * fade[:, None].astype(np.float32)
