"""Texel-grid and surface helpers shared by :mod:`.transfer` and :mod:`.seams`.

Texel ``(i, j)`` of an ``H x W`` texture is centred at ``u = (j + 0.5) / W``, ``v = 1 - (i + 0.5) / H``
(:mod:`avatarforge.render.uv`); texel coordinates ``x = u W - 0.5``, ``y = (1 - v) H - 0.5``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from jaxtyping import Bool, Float, Int, Real
from scipy.sparse.csgraph import connected_components

from avatarforge.util.jit import njit_cached
from avatarforge.util.geometry import face_normals

__all__ = ["as_array", "uv_to_texel", "bilinear_taps", "sample", "propagate", "pad", "chart_labels", "uv_laplacian",
           "interp", "closest_among"]

_OFFSETS = np.array([(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)], dtype=np.int64)


def as_array(a, dtype=None) -> np.ndarray:
    """Numpy view of an array or a (detached, CPU) torch tensor."""
    return np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, dtype=dtype)


def uv_to_texel(uv: Float[np.ndarray, "*N 2"], shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """UVs -> continuous texel coordinates ``(x, y)`` (float64) of an ``(H, W)`` texture."""
    uv = np.asarray(uv, dtype=np.float64)
    return uv[..., 0] * shape[1] - 0.5, (1.0 - uv[..., 1]) * shape[0] - 0.5


def bilinear_taps(x: Float[np.ndarray, " N"], y: Float[np.ndarray, " N"], valid: Bool[np.ndarray, "H W"],
                  labels: Int[np.ndarray, "H W"] | None = None, want: Int[np.ndarray, " N"] | None = None,
                  ) -> tuple[Int[np.ndarray, "N 4"], Float[np.ndarray, "N 4"]]:
    """The 4 bilinear taps of each point: flat texel indices and weights renormalised over the
    taps that are ``valid`` (and, with ``labels``, whose label is ``want``). A point with no
    usable tap gets all-zero weights. Reference for :func:`sample`; cheap for seam samples."""
    h, w = valid.shape
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = x - x0, y - y0
    idx, wts = np.zeros((len(x), 4), np.int64), np.zeros((len(x), 4), np.float64)
    for k, (dy, dx) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        xi, yi = x0.astype(np.int64) + dx, y0.astype(np.int64) + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        flat = np.where(inside, np.clip(yi, 0, h - 1) * w + np.clip(xi, 0, w - 1), 0)
        ok = inside & valid.ravel()[flat]
        if labels is not None:
            ok &= labels.ravel()[flat] == want
        idx[:, k] = flat
        wts[:, k] = np.where(ok, (fx if dx else 1 - fx) * (fy if dy else 1 - fy), 0.0)
    total = wts.sum(1, keepdims=True)
    return idx, np.divide(wts, total, out=np.zeros_like(wts), where=total > 1e-12)


@njit_cached
def _sample_kernel(tex, valid, x, y, out, wsum):  # pragma: no cover - jitted
    h, w, c = tex.shape
    for n in range(x.shape[0]):
        fx0, fy0 = np.floor(x[n]), np.floor(y[n])
        if not (np.isfinite(fx0) and np.isfinite(fy0)):
            continue
        x0, y0 = int(fx0), int(fy0)
        fx, fy = x[n] - fx0, y[n] - fy0
        for dy in range(2):
            yi = y0 + dy
            if yi < 0 or yi >= h:
                continue
            for dx in range(2):
                xi = x0 + dx
                if xi < 0 or xi >= w or not valid[yi, xi]:
                    continue
                wt = (fx if dx else 1.0 - fx) * (fy if dy else 1.0 - fy)
                wsum[n] += wt
                for ch in range(c):
                    out[n, ch] += wt * tex[yi, xi, ch]
        if wsum[n] > 1e-12:
            for ch in range(c):
                out[n, ch] /= wsum[n]


def sample(tex: Real[np.ndarray, "H W C"], x: Float[np.ndarray, " N"], y: Float[np.ndarray, " N"],
           valid: Bool[np.ndarray, "H W"] | None = None) -> tuple[Float[np.ndarray, "N C"], Bool[np.ndarray, " N"]]:
    """Bilinear samples over the ``valid`` texels only (weights renormalised, exact float maths):
    float32 values (0 where no valid tap) and whether any valid tap was found."""
    tex = np.ascontiguousarray(tex, dtype=np.float32)
    valid = np.ones(tex.shape[:2], bool) if valid is None else np.ascontiguousarray(valid, dtype=bool)
    out = np.zeros((len(x), tex.shape[2]), np.float32)
    wsum = np.zeros(len(x), np.float64)
    _sample_kernel(tex, valid, np.ascontiguousarray(x, np.float64), np.ascontiguousarray(y, np.float64), out, wsum)
    return out, wsum > 1e-12


@njit_cached
def _propagate_kernel(values, ring, labels, rings, offsets):  # pragma: no cover - jitted
    h, w, c = values.shape
    front = np.empty(h * w, np.int64)
    n_front = 0
    for i in range(h * w):  # known texels with an unknown 4-neighbour (reaches all 8 of them)
        r, q = i // w, i % w
        if ring[r, q] != 0:
            continue
        for o in (1, 3, 4, 6):
            rr, qq = r + offsets[o, 0], q + offsets[o, 1]
            if 0 <= rr < h and 0 <= qq < w and ring[rr, qq] < 0 and labels[rr, qq] == labels[r, q]:
                front[n_front] = i
                n_front += 1
                break
    new = np.empty(h * w, np.int64)
    acc = np.empty(c, np.float64)
    for k in range(1, rings + 1):
        n_new = 0
        for f in range(n_front):
            r, q = front[f] // w, front[f] % w
            for o in range(8):
                rr, qq = r + offsets[o, 0], q + offsets[o, 1]
                if 0 <= rr < h and 0 <= qq < w and ring[rr, qq] < 0 and labels[rr, qq] == labels[r, q]:
                    ring[rr, qq] = k
                    new[n_new] = rr * w + qq
                    n_new += 1
        for f in range(n_new):  # each new texel: mean of its older same-label neighbours
            r, q = new[f] // w, new[f] % w
            acc[:] = 0.0
            cnt = 0
            for o in range(8):
                rr, qq = r + offsets[o, 0], q + offsets[o, 1]
                if 0 <= rr < h and 0 <= qq < w and 0 <= ring[rr, qq] < k and labels[rr, qq] == labels[r, q]:
                    cnt += 1
                    for ch in range(c):
                        acc[ch] += values[rr, qq, ch]
            for ch in range(c):
                values[r, q, ch] = acc[ch] / cnt
        front[:n_new] = new[:n_new]
        n_front = n_new


def propagate(values: Real[np.ndarray, "H W C"], known: Bool[np.ndarray, "H W"], labels: Int[np.ndarray, "H W"],
              rings: int) -> tuple[Real[np.ndarray, "H W C"], Int[np.ndarray, "H W"]]:
    """Extend ``known`` values ring by ring (8-neighbourhood) into unknown texels of the same
    label (label -1: never reached), each new texel the mean of its already-set neighbours.
    Returns the float32 values and each texel's ring: 0 known, k reached at step k, -1 never."""
    out = np.array(values, dtype=np.float32, order="C")
    ring = np.where(known & (labels >= 0), 0, -1).astype(np.int32)
    _propagate_kernel(out, ring, np.ascontiguousarray(labels, np.int32), int(rings), _OFFSETS)
    return out, ring


def pad(tex: Real[np.ndarray, "H W C"], known: Bool[np.ndarray, "H W"], allowed: Bool[np.ndarray, "H W"],
        pixels: int) -> tuple[Real[np.ndarray, "H W C"], Bool[np.ndarray, "H W"]]:
    """Dilate ``known`` texels by ``pixels`` rings into ``allowed`` ones; returns (values, filled)."""
    labels = np.where(known | allowed, 0, -1).astype(np.int32)
    out, ring = propagate(tex, known, labels, pixels)
    return out, ring >= 0


def chart_labels(uvs: Float[np.ndarray, "T 2"], uv_faces: Int[np.ndarray, "F 3"]) -> tuple[np.ndarray, np.ndarray]:
    """UV charts: ``(chart id per face (F,), welded uv id per uv (T,))``. UVs with identical
    coordinates are welded; faces sharing a welded uv belong to one chart."""
    _, welded = np.unique(np.asarray(uvs), axis=0, return_inverse=True)
    welded = welded.ravel()
    corner = welded[uv_faces]  # (F, 3) welded uv per corner
    n_f, n_t = len(uv_faces), int(welded.max()) + 1
    graph = sp.coo_matrix((np.ones(corner.size), (np.repeat(np.arange(n_f), 3), n_f + corner.ravel())),
                          shape=(n_f + n_t, n_f + n_t))
    _, comp = connected_components(graph, directed=False)
    _, chart = np.unique(comp[:n_f], return_inverse=True)
    return chart.astype(np.int32), welded


def uv_laplacian(p: np.ndarray, corner: np.ndarray, n: int) -> tuple[sp.csr_matrix, np.ndarray]:
    """Cotangent Laplacian and lumped area of the UV triangles ``p`` (F, 3, 2) whose corners
    are the unknowns ``corner`` (F, 3)."""
    cots = []
    for k in range(3):
        e1, e2 = p[:, (k + 1) % 3] - p[:, k], p[:, (k + 2) % 3] - p[:, k]
        cross = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
        cots.append((e1 * e2).sum(1) / np.maximum(cross, 1e-300))
        areas = cross / 2
    cot = np.stack(cots, 1)
    bad = ~(np.abs(cot) < 1e3).all(1)  # slivers: uniform weights keep the energy positive
    w = np.where(bad[:, None], 1.0, 0.5 * cot)
    i = np.concatenate([corner[:, (k + 1) % 3] for k in range(3)])
    j = np.concatenate([corner[:, (k + 2) % 3] for k in range(3)])
    w = w.T.ravel()  # weight of the edge opposite corner k
    off = sp.coo_matrix((-w, (i, j)), shape=(n, n))
    off = off + off.T
    lap = off - sp.diags(np.asarray(off.sum(1)).ravel())
    mass = np.bincount(corner.ravel(), np.repeat(areas / 3, 3), minlength=n)
    return lap.tocsr(), mass


@njit_cached
def _interp_kernel(corner_values, tri, bary, out):  # pragma: no cover - jitted
    for n in range(tri.shape[0]):
        t = tri[n]
        for c in range(out.shape[1]):
            out[n, c] = (bary[n, 0] * corner_values[t, 0, c] + bary[n, 1] * corner_values[t, 1, c]
                         + bary[n, 2] * corner_values[t, 2, c])


def interp(corner_values: Float[np.ndarray, "F 3 C"], tri: Int[np.ndarray, " N"],
           bary: Float[np.ndarray, "N 3"]) -> Float[np.ndarray, "N C"]:
    """``sum_k bary[n, k] corner_values[tri[n], k]`` (float64): per-corner values at surface points."""
    out = np.empty((len(tri), corner_values.shape[2]))
    _interp_kernel(np.ascontiguousarray(corner_values, np.float64), np.ascontiguousarray(tri),
                   np.ascontiguousarray(bary), out)
    return out


@njit_cached
def _closest_kernel(p, cand, corners, normals, face_normals, back_cost, tri, bary, dist2):  # pragma: no cover
    check_normals = normals.shape[0] > 0
    for n in range(p.shape[0]):
        best = np.inf
        px, py, pz = p[n, 0], p[n, 1], p[n, 2]
        for j in range(cand.shape[1]):
            f = cand[n, j]
            if f < 0:
                continue
            t = corners[f]
            u, v, w = _closest_scalar(px, py, pz, t[0, 0], t[0, 1], t[0, 2], t[1, 0], t[1, 1], t[1, 2],
                                      t[2, 0], t[2, 1], t[2, 2])
            qx = u * t[0, 0] + v * t[1, 0] + w * t[2, 0] - px
            qy = u * t[0, 1] + v * t[1, 1] + w * t[2, 1] - py
            qz = u * t[0, 2] + v * t[1, 2] + w * t[2, 2] - pz
            d2 = qx * qx + qy * qy + qz * qz
            score = d2
            if check_normals and (normals[n, 0] * face_normals[f, 0] + normals[n, 1] * face_normals[f, 1]
                                  + normals[n, 2] * face_normals[f, 2]) < 0.0:
                score += back_cost
            if score < best:
                best, tri[n], dist2[n] = score, f, d2
                bary[n, 0], bary[n, 1], bary[n, 2] = u, v, w


@njit_cached
def _closest_scalar(px, py, pz, ax, ay, az, bx, by, bz, cx, cy, cz):  # pragma: no cover - Ericson 5.1.5
    abx, aby, abz, acx, acy, acz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
    d1 = abx * (px - ax) + aby * (py - ay) + abz * (pz - az)
    d2 = acx * (px - ax) + acy * (py - ay) + acz * (pz - az)
    if d1 <= 0.0 and d2 <= 0.0:
        return 1.0, 0.0, 0.0
    d3 = abx * (px - bx) + aby * (py - by) + abz * (pz - bz)
    d4 = acx * (px - bx) + acy * (py - by) + acz * (pz - bz)
    if d3 >= 0.0 and d4 <= d3:
        return 0.0, 1.0, 0.0
    vc = d1 * d4 - d3 * d2
    if vc <= 0.0 and d1 >= 0.0 and d3 <= 0.0 and d1 - d3 > 0.0:
        t = d1 / (d1 - d3)
        return 1.0 - t, t, 0.0
    d5 = abx * (px - cx) + aby * (py - cy) + abz * (pz - cz)
    d6 = acx * (px - cx) + acy * (py - cy) + acz * (pz - cz)
    if d6 >= 0.0 and d5 <= d6:
        return 0.0, 0.0, 1.0
    vb = d5 * d2 - d1 * d6
    if vb <= 0.0 and d2 >= 0.0 and d6 <= 0.0 and d2 - d6 > 0.0:
        t = d2 / (d2 - d6)
        return 1.0 - t, 0.0, t
    va = d3 * d6 - d5 * d4
    if va <= 0.0 and d4 - d3 >= 0.0 and d5 - d6 >= 0.0 and (d4 - d3) + (d5 - d6) > 0.0:
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        return 0.0, 1.0 - t, t
    denom = va + vb + vc
    if denom > 0.0:
        return va / denom, vb / denom, vc / denom
    # A zero-area triangle is the segment along its longest side.
    lab, lac, lbc = abx * abx + aby * aby + abz * abz, acx * acx + acy * acy + acz * acz, (
        (cx - bx) ** 2 + (cy - by) ** 2 + (cz - bz) ** 2)
    if lab >= lbc and lab >= lac:
        t = min(1.0, max(0.0, d1 / lab)) if lab > 0.0 else 0.0
        return 1.0 - t, t, 0.0
    if lac >= lbc:
        t = min(1.0, max(0.0, d2 / lac))
        return 1.0 - t, 0.0, t
    t = min(1.0, max(0.0, ((px - bx) * (cx - bx) + (py - by) * (cy - by) + (pz - bz) * (cz - bz)) / lbc))
    return 0.0, 1.0 - t, t


def closest_among(p: Float[np.ndarray, "N 3"], cand: Int[np.ndarray, "N K"], verts: Float[np.ndarray, "V 3"],
                  faces: Int[np.ndarray, "F 3"], normals: Float[np.ndarray, "N 3"] | None = None,
                  back_cost: float = 0.0,
                  ) -> tuple[Int[np.ndarray, " N"], Float[np.ndarray, "N 3"], Float[np.ndarray, " N"]]:
    """For each point, the closest of its candidate triangles (-1 = no candidate): triangle
    (-1 if none), barycentrics, squared distance. With ``normals``, candidates facing away cost
    ``back_cost`` extra when choosing. Ericson 5.1.5; tests hold a vectorised numpy reference."""
    n = len(p)
    tri, bary, d2 = np.full(n, -1, np.int64), np.zeros((n, 3)), np.full(n, np.inf)
    normals, fn = (np.zeros((0, 3)),) * 2 if normals is None else (normals, face_normals(verts, faces))
    corners = np.ascontiguousarray(np.asarray(verts, np.float64)[faces])  # (F, corner, xyz)
    _closest_kernel(np.ascontiguousarray(p, np.float64), np.ascontiguousarray(cand, np.int64), corners,
                    np.ascontiguousarray(normals, np.float64), fn, float(back_cost), tri, bary, d2)
    return tri, bary, d2
