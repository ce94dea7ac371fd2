"""The thesis's graft: a reconstructed FLAME head onto the SMPL-X body, and the body's shape
from the head (SYSTEMS.md §1).

1. Pose correction: the head is evaluated with its global (and neck) rotation undone; the jaw
   rotation is not baked into the offsets but handed to the body's own jaw joint, so the mouth
   opens with SMPL-X's jaw skinning (which covers the FLAME region) and the lips stay apart.
2. Alignment: FLAME's neutral head -> the body's head region (``SMPL-X__FLAME_vertex_ids``):
   initialised by matching vertex means, then Adam over rotation (axis-angle), translation and
   log-scale minimising the squared vertex distances over the head vertices.
3. Offsets: (personalised - neutral FLAME), rotated and scaled into the body's frame, added to
   the head region; the expression offsets (expression - identity head) likewise, as a morph.
4. Seam: the offset field is extended harmonically (uniform graph Laplacian) over a band of
   body vertices around the region (neck, clavicles) and the region's own outer rings, so the
   transition is smooth instead of a step.
5. Body from head: Adam over the body's betas (+ a rigid placement) so that the body model's own
   head region matches the reconstructed head (same squared-vertex loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, Int
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.util.geometry import axis_angle_to_matrix, umeyama
from avatarforge.util.threads import torch_threads

__all__ = [
    "Similarity", "procrustes", "align_similarity", "HeadOffsets", "head_offsets", "ring_distance",
    "smooth_offsets", "GraftResult", "graft_offsets", "BetaFit", "infer_betas", "check_vertex_ids",
]


@dataclass
class Similarity:
    """x -> scale * R x + t."""

    rotation: Float[np.ndarray, "3 3"]
    translation: Float[np.ndarray, "3"]
    scale: float = 1.0

    def apply(self, points: np.ndarray) -> np.ndarray:
        return self.scale * np.asarray(points) @ self.rotation.T + self.translation

    def apply_vector(self, vectors: np.ndarray) -> np.ndarray:
        """Offsets (differences of points): rotated and scaled, not translated."""
        return self.scale * np.asarray(vectors) @ self.rotation.T


def procrustes(src: Float[np.ndarray, "N 3"], dst: Float[np.ndarray, "N 3"], scale: bool = True) -> Similarity:
    """Closed-form least-squares similarity (Umeyama), the reference for :func:`align_similarity`."""
    return Similarity(*umeyama(src, dst, scale=scale))


def align_similarity(src: Float[np.ndarray, "N 3"], dst: Float[np.ndarray, "N 3"], steps: int = 400,
                     lr: float = 0.02, scale: bool = True) -> tuple[Similarity, float]:
    """The thesis's alignment: t0 = mean(dst) - mean(src), then Adam over (rotation, translation,
    log-scale) minimising sum_i |s R src_i + t - dst_i|^2. Returns (similarity, RMS metres)."""
    with torch_threads(1):
        return _align_similarity(src, dst, steps, lr, scale)


def _align_similarity(src, dst, steps, lr, scale):
    src_t = torch.as_tensor(src, dtype=torch.float64)
    dst_t = torch.as_tensor(dst, dtype=torch.float64)
    c = src_t.mean(0)
    # parametrised about the source centroid so rotation and translation decouple
    r = torch.full((3,), 1e-8, dtype=torch.float64, requires_grad=True)
    t = (dst_t.mean(0) - c).clone().requires_grad_(True)
    log_s = torch.zeros((), dtype=torch.float64, requires_grad=scale)
    extent = float((src_t - c).norm(dim=1).mean()) or 1.0
    opt = torch.optim.Adam([{"params": [r, log_s], "lr": lr}, {"params": [t], "lr": lr * extent}])
    for _ in range(steps):
        opt.zero_grad()
        pred = torch.exp(log_s) * (src_t - c) @ axis_angle_to_matrix(r).T + c + t
        loss = ((pred - dst_t) ** 2).sum() / (extent**2 * len(src_t))
        loss.backward()
        opt.step()
    with torch.no_grad():
        rot = axis_angle_to_matrix(r).numpy()
        s = float(torch.exp(log_s))
        trans = (c + t).numpy() - s * rot @ c.numpy()
        sim = Similarity(rot, trans, s)
        rms = float(np.sqrt(((sim.apply(src) - dst) ** 2).sum(1).mean()))
    return sim, rms


@dataclass
class HeadOffsets:
    """The reconstructed head in FLAME's frame, global pose undone."""

    neutral: Float[np.ndarray, "N 3"]
    """FLAME template (zero shape, expression, pose)."""
    identity: Float[np.ndarray, "N 3"]
    """Personalised head: shape applied, neutral expression, jaw closed."""
    expression: Float[np.ndarray, "N 3"]
    """Expression offsets (shape + expression head - identity head), jaw closed."""
    jaw: Float[np.ndarray, "3"]
    """Jaw rotation, axis-angle radians (for the body's jaw joint)."""


def head_offsets(flame, shape: Float[Tensor, "1 S"], expression: Float[Tensor, "1 E"],
                 pose: Float[Tensor, "1 6"] | None = None) -> HeadOffsets:
    """Evaluate the FLAME head with its global rotation undone (DECA's pose: global 3 + jaw 3)."""
    with torch.no_grad():
        zero_s, zero_e = torch.zeros_like(shape), torch.zeros_like(expression)
        neutral = flame.lbs(zero_s, zero_e).vertices[0].double().numpy()
        ident = flame.lbs(shape, zero_e).vertices[0].double().numpy()
        expr = flame.lbs(shape, expression).vertices[0].double().numpy()
    jaw = np.zeros(3) if pose is None else pose[0, 3:6].double().numpy()
    return HeadOffsets(neutral, ident, expr - ident, jaw)


def _adjacency(faces: np.ndarray, n: int):
    import scipy.sparse as sp

    f = np.asarray(faces, np.int64)
    i = np.concatenate([f[:, 0], f[:, 1], f[:, 2], f[:, 1], f[:, 2], f[:, 0]])
    j = np.concatenate([f[:, 1], f[:, 2], f[:, 0], f[:, 0], f[:, 1], f[:, 2]])
    a = sp.coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)).tocsr()
    a.data[:] = 1.0
    return a


def ring_distance(faces: np.ndarray, n: int, region: np.ndarray, max_rings: int) -> np.ndarray:
    """Graph rings from the region's boundary, inside the region (boundary = 1; -1 = further
    than ``max_rings`` or outside the region)."""
    adj = _adjacency(faces, n)
    inside = np.zeros(n, bool)
    inside[region] = True
    touches_out = (adj @ (~inside).astype(float)) > 0
    ring = np.full(n, -1)
    front = inside & touches_out
    k = 1
    while front.any() and k <= max_rings:
        ring[front] = k
        nxt = (adj @ front.astype(float)) > 0
        front = nxt & inside & (ring < 0)
        k += 1
    return ring


def smooth_offsets(vertices: Float[np.ndarray, "V 3"], faces: Int[np.ndarray, "F 3"], region: Int[np.ndarray, " N"],
                   offsets: Float[np.ndarray, "V C"], band_m: float = 0.05, blend_rings: int = 3) -> np.ndarray:
    """Harmonic extension of a region's offset field: vertices outside the region within
    ``band_m`` of it, and region vertices within ``blend_rings`` rings of its boundary, are
    re-solved from the uniform graph Laplacian (Dirichlet: the other region vertices keep their
    offsets, everything beyond the band keeps 0)."""
    import scipy.sparse as sp
    from scipy.sparse.linalg import spsolve
    from scipy.spatial import cKDTree

    n = len(vertices)
    inside = np.zeros(n, bool)
    inside[region] = True
    ring = ring_distance(faces, n, region, blend_rings)
    boundary = np.flatnonzero(ring == 1)
    free = ring > 0
    if band_m > 0 and len(boundary):
        d, _ = cKDTree(vertices[boundary]).query(vertices[~inside], distance_upper_bound=band_m)
        outside = np.flatnonzero(~inside)
        free[outside[np.isfinite(d)]] = True
    out = np.where(inside[:, None], offsets, 0.0).astype(np.float64)
    if not free.any():
        return out
    adj = _adjacency(faces, n)
    lap = sp.diags(np.asarray(adj.sum(1)).ravel()) - adj
    fi, ci = np.flatnonzero(free), np.flatnonzero(~free)
    lff = lap[fi][:, fi].tocsc()
    rhs = -(lap[fi][:, ci] @ out[ci])
    isolated = np.asarray(lff.diagonal()) == 0
    if isolated.any():  # vertices with no edges: keep their value
        lff = lff + sp.diags(isolated.astype(float))
    sol = spsolve(lff, rhs)
    out[fi] = np.where(isolated[:, None], out[fi], sol.reshape(len(fi), -1))
    return out


def check_vertex_ids(ids: np.ndarray, n_body: int, n_head: int) -> np.ndarray:
    """``SMPL-X__FLAME_vertex_ids.npy``: one distinct body vertex per head vertex."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or len(ids) != n_head or not np.issubdtype(ids.dtype, np.integer):
        raise UserInputError(f"the SMPL-X<->FLAME vertex ids must be {n_head} integers, got {ids.dtype} {ids.shape}")
    if ids.min() < 0 or ids.max() >= n_body or len(np.unique(ids)) != len(ids):
        raise UserInputError(f"the SMPL-X<->FLAME vertex ids must be distinct vertices in [0, {n_body})")
    return ids.astype(np.int64)


@dataclass
class GraftResult:
    """Per-vertex offsets to add to the body's rest vertices (body frame)."""

    identity: Float[np.ndarray, "V 3"]
    """Personalised head (smoothed into the neck/clavicles)."""
    expression: Float[np.ndarray, "V 3"]
    """The photo's expression as a morph target (smoothed likewise)."""
    alignment: Similarity
    """FLAME frame -> body frame."""
    align_rms_m: float
    """RMS distance of the aligned neutral FLAME head to the body's head region."""
    jaw: Float[np.ndarray, "3"]
    """Jaw rotation for the body's jaw joint (axis-angle radians)."""


def graft_offsets(body_rest: Float[np.ndarray, "V 3"], body_faces: Int[np.ndarray, "F 3"], ids: Int[np.ndarray, " N"],
                  head: HeadOffsets, band_m: float = 0.05, blend_rings: int = 3, steps: int = 400) -> GraftResult:
    """Align the neutral FLAME head to the body's head region and carry the head's offsets over."""
    ids = check_vertex_ids(ids, len(body_rest), len(head.neutral))
    sim, rms = align_similarity(head.neutral, body_rest[ids], steps=steps)
    full = np.zeros((len(body_rest), 6))
    full[ids, :3] = sim.apply_vector(head.identity - head.neutral)
    full[ids, 3:] = sim.apply_vector(head.expression)
    sm = smooth_offsets(body_rest, body_faces, ids, full, band_m, blend_rings)
    return GraftResult(sm[:, :3], sm[:, 3:], sim, rms, head.jaw)


@dataclass
class BetaFit:
    """Body shape inferred from a head."""

    betas: Float[np.ndarray, " K"]
    placement: Similarity
    """Rigid placement of the head (FLAME frame) on the body's head region (scale 1)."""
    rms_m: float
    """RMS vertex distance after the fit."""


def infer_betas(body, ids: Int[np.ndarray, " N"], head_vertices: Float[np.ndarray, "N 3"], n_betas: int = 10,
                steps: int = 300, lr: float = 0.05, prior: float = 0.0) -> BetaFit:
    """Adam over the body's first ``n_betas`` shape coefficients and a rigid placement so that
    the body's rest head region matches ``head_vertices`` (squared vertex loss; ``prior`` is an optional
    tiny L2 pull of the betas towards 0, in m^2 per unit^2)."""
    ids = check_vertex_ids(ids, body.num_vertices, len(head_vertices))
    with torch_threads(1):
        return _infer_betas(body, ids, head_vertices, n_betas, steps, lr, prior)


def _infer_betas(body, ids, head_vertices, n_betas, steps, lr, prior) -> BetaFit:
    head = torch.as_tensor(head_vertices, dtype=torch.float32)
    idx = torch.as_tensor(ids)
    template, dirs = body.v_template[idx], body.shapedirs[idx, :, :n_betas]

    def region(b):  # the body's rest head region: template + shape blend shapes (no pose: rest)
        return template + torch.einsum("vck,k->vc", dirs, b[0])  # v: vertex, c: xyz, k: beta

    with torch.no_grad():
        start = region(torch.zeros(1, n_betas))
    init = procrustes(head.double().numpy(), start.double().numpy(), scale=False)
    r0 = torch.as_tensor(init.rotation, dtype=torch.float32)
    c = head.mean(0)
    betas = torch.zeros(1, n_betas, requires_grad=True)
    r = torch.full((3,), 1e-8, requires_grad=True)
    t = torch.as_tensor(init.apply(c.double().numpy()), dtype=torch.float32).clone().requires_grad_(True)
    opt = torch.optim.Adam([{"params": [betas], "lr": lr}, {"params": [r], "lr": lr * 0.2},
                            {"params": [t], "lr": lr * 0.01}])
    # step size decays to 2% (Adam's steps otherwise keep the betas jittering about the optimum)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 0.02 ** (i / max(steps - 1, 1)))
    for _ in range(steps):
        opt.zero_grad()
        rot = axis_angle_to_matrix(r) @ r0
        target = (head - c) @ rot.T + t
        pred = region(betas)
        loss = ((pred - target) ** 2).sum(1).mean() + prior * (betas**2).sum()
        loss.backward()
        opt.step()
        sched.step()
    with torch.no_grad():
        rot = (axis_angle_to_matrix(r) @ r0).double().numpy()
        place = Similarity(rot, t.double().numpy() - rot @ c.double().numpy(), 1.0)
        pred = region(betas).double().numpy()
        rms = float(np.sqrt(((place.apply(head_vertices) - pred) ** 2).sum(1).mean()))
    return BetaFit(betas.detach()[0].double().numpy(), place, rms)
