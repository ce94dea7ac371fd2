"""A Gauss-Newton solver of the face fit's objective for a fixed identity and camera.

With the head shape (phenotypes, local changes) and the focal length fixed, the face model is
linear in the 52 ARKit actions (plain blend shapes) and the head and eyes are rigid
rotations of that rest shape, so the face fit's objective (:func:`.face_fit._loss`: robust
landmark reprojection, the lower-contour silhouette, the eye/mouth closure relations, the
detector's relative depth, the L1 prior on the actions and the L2 prior on the eye
rotation) is a small nonlinear least-squares problem in 64 unknowns: head translation (3),
head rotation (3), eye rotations (6) and the actions (52, bounded to [0, 1]). Each
iteration linearises it (the actions' Jacobian in closed form, the six rotation angles'
by finite differences), reweights the robust terms (IRLS) and solves the bounded
Levenberg-Marquardt step with an active set, in numpy: a few milliseconds, where one Adam
step of the torch fit costs about as much and a warm-started frame needs a dozen.

Used by the video face tracker (:mod:`.face_track`: two or three iterations per frame after
the first) and by the photo fit (:func:`.face_fit.fit_face_state`: it finishes the
expression and pose after the identity's Adam steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float

from avatarforge.perception.landmark_groups import EYE_PAIRS, LIP_PAIRS

__all__ = ["ExpressionPoseSolver", "SolveStats", "N_UNKNOWNS"]

N_UNKNOWNS = 64
"""t (3), head rotation (3, degrees), eye rotations (2 x 3, degrees), ARKit actions (52)."""
_T, _HEAD, _EYES, _EXPR = slice(0, 3), slice(3, 6), slice(6, 12), slice(12, 64)
_DELTA = 0.01
"""The robust function's scale (as :func:`.face_fit._robust`)."""


def _mm(a: np.ndarray, b: np.ndarray, transpose_a: bool = False) -> np.ndarray:
    """a @ b (a.T @ b with ``transpose_a``, without copying a) through torch, which the callers
    keep to one thread (numpy's OpenBLAS runs these products on both cores and, on a loaded
    machine, waits for the second: measured 5x the wall time per tracked frame); small ones
    in numpy (below OpenBLAS's threading sizes, where torch's call overhead dominates)."""
    if a.size * (b.size // max(b.shape[0], 1)) < 20_000:
        return (a.T if transpose_a else a) @ b
    ta = torch.from_numpy(np.ascontiguousarray(a))
    return ((ta.T if transpose_a else ta) @ torch.from_numpy(np.ascontiguousarray(b))).numpy()


def _rotation(angles_deg: Float[np.ndarray, " 3"]) -> tuple[np.ndarray, np.ndarray]:
    """R = Rz Ry Rx (extrinsic X, Y, Z; degrees), the body model's convention
    (:func:`avatarforge.bodies.rotation.euler_xyz_to_matrix`), in numpy float64, and its
    derivatives (3, 3, 3) w.r.t. the three angles (per degree); written out (scalar maths:
    this runs a few times per solver evaluation, where numpy's per-call cost would dominate)."""
    ax, ay, az = (math.radians(float(a)) for a in angles_deg)
    cx, cy, cz, sx, sy, sz = math.cos(ax), math.cos(ay), math.cos(az), math.sin(ax), math.sin(ay), math.sin(az)
    k = math.pi / 180.0
    m = np.array([
        [[cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx],
         [sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx],
         [-sy, cy * sx, cy * cx]],
        [[0.0, k * (cz * sy * cx + sz * sx), k * (sz * cx - cz * sy * sx)],  # d / d x
         [0.0, k * (sz * sy * cx - cz * sx), -k * (sz * sy * sx + cz * cx)],
         [0.0, k * cy * cx, -k * cy * sx]],
        [[-k * cz * sy, k * cz * cy * sx, k * cz * cy * cx],  # d / d y
         [-k * sz * sy, k * sz * cy * sx, k * sz * cy * cx],
         [-k * cy, -k * sy * sx, -k * sy * cx]],
        [[-k * sz * cy, -k * (sz * sy * sx + cz * cx), k * (cz * sx - sz * sy * cx)],  # d / d z
         [k * cz * cy, k * (cz * sy * sx - sz * cx), k * (cz * sy * cx + sz * sx)],
         [0.0, 0.0, 0.0]]])
    return m[0], m[1:]


@dataclass(frozen=True)
class _PointTables:
    """Points that are fixed combinations of slice vertices (a landmark: its triangle's corners
    with barycentric weights; a vertex: itself) for :meth:`ExpressionPoseSolver._pose`: per
    skinning-weight column c (other, head, eye.L, eye.R), ``base`` (12, n), row 3c + xyz, the
    weighted rest positions with the pivots folded in, and ``shapes`` (12 n, 52), row
    (3c + xyz) n + point, the weighted action shapes, in float32: they only carry the actions'
    offsets (centimetres; float32's relative 6e-8 is far below a pixel), and the products
    with them, which read the largest arrays, take half the time. ``shapes_t`` (52, 12 n): the
    same transposed, one action per row, so that posing reads only the active actions' rows
    (the L1 prior holds most at 0: 12 of 52 on a tracked video)."""

    base: np.ndarray
    shapes: np.ndarray
    shapes_t: np.ndarray

    def subset(self, rows: np.ndarray) -> _PointTables:
        """The tables of the points ``rows``."""
        n = self.base.shape[1]

        def pick(m: np.ndarray) -> np.ndarray:
            return np.ascontiguousarray(m.reshape(12, n, -1)[:, rows].reshape(12 * len(rows), -1))

        shapes = pick(self.shapes)
        return _PointTables(np.ascontiguousarray(self.base[:, rows]), shapes, np.ascontiguousarray(shapes.T))


@dataclass
class SolveStats:
    """What :meth:`ExpressionPoseSolver.solve` did."""

    iterations: int
    loss_before: float
    loss_after: float


class ExpressionPoseSolver:
    """The fit's objective for one identity and camera, in numpy (see the module docstring).

    ``prob`` is a :class:`.face_fit._Problem` (its detected points may change between
    :meth:`solve` calls: a tracker swaps them per frame); ``phen``, ``local_sub`` and
    ``log_f`` are the fixed identity and focal (tensors of a :class:`.face_fit.FitState`).
    """

    def __init__(self, prob, phen: torch.Tensor, local_sub: torch.Tensor, log_f: torch.Tensor):
        from avatarforge.fitting.face_fit import _full_local

        self.prob = prob
        model = prob.model
        with torch.no_grad():
            er = model.expression_rest(phen, _full_local(prob, local_sub))
        to = model.to_ours.double().numpy()
        root = er.bones0[0, 0].double().numpy()
        # Everything in avatarforge axes relative to the root joint, as HeadModel.pose.
        self.rest0 = (er.rest0[0].double().numpy() - root) @ to.T  # (S, 3)
        self.shapes = np.ascontiguousarray(er.shapes.double().numpy() @ to.T)  # (52, S, 3)
        joints = (er.bones0[0, 1:4].double().numpy() - root) @ to.T
        self.head_pivot, self.eye_pivots = joints[0], joints[1:3]
        self.weights = model.weights.double().numpy()  # (S, 4): other, head, eye.L, eye.R
        if float(er.bone_shapes.abs().max()) > 0:  # the joints must not move with the expression
            raise ValueError("the body's facial actions move the head or eye joints: not supported")
        self.bary = prob.bary.double().numpy()  # (478, 3)
        # The 478 landmarks (barycentric points on their triangles' corners, slice rows) and
        # every vertex of the contour's marching lines, as constant tables (built once).
        self.tables_lm = self._point_tables(prob.lm_local.numpy(), self.bary)
        self.line_ids = np.unique(np.concatenate([np.zeros(0, np.int64), *(ln.numpy() for ln in prob.line_local)]))
        self.tables_lines = self._point_tables(self.line_ids[:, None], np.ones((len(self.line_ids), 1)))
        self.line_rows = [np.searchsorted(self.line_ids, ln.numpy()) for ln in prob.line_local]
        # per side (+1 the subject's left, -1 the right), the lines marched when it is turned away
        self.lower_oval = np.asarray(prob.lower_oval)
        self.side_lines = {}
        for side in (-1, 1):
            marched = [k for k, rows in enumerate(self.line_rows) if len(rows) and np.sign(prob.oval_x[k]) == side]
            rows = np.concatenate([np.zeros(0, np.int64), *(self.line_rows[k] for k in marched)])
            starts = np.cumsum([0] + [len(self.line_rows[k]) for k in marched])
            self.side_lines[side] = (marched, starts, self.tables_lines.subset(rows))
        self.log_f = log_f.detach().clone()
        self.f = float(prob.f0 * np.exp(float(log_f.reshape(-1)[0])))
        self.cxy = prob.cxy.double().numpy()
        self.w_lm = prob.w.double().numpy()
        self.pairs = [(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])) for pairs in (EYE_PAIRS, LIP_PAIRS)]
        self._last = None  # (x, rotations, posed landmarks) of the last evaluation
        self._picked = None  # (picks, their tables)
        self.lo = np.full(N_UNKNOWNS, -np.inf)
        self.hi = np.full(N_UNKNOWNS, np.inf)
        self.lo[_EYES], self.hi[_EYES] = -30.0, 30.0
        self.lo[_EXPR], self.hi[_EXPR] = 0.0, 1.0

    # -- the model ---------------------------------------------------------------------------

    def _point_tables(self, corners: np.ndarray, bary: np.ndarray) -> _PointTables:
        """Tables of points that are fixed combinations of slice vertices: point l =
        sum_k bary[l, k] * vertex corners[l, k] ((n, k) each; k = 1 for vertices themselves).

        A vertex with weights w (other, head, eye.L, eye.R) and rest position v is posed
        (:meth:`HeadModel.pose`) to w0 v + Rh [w1 (v - h) + w2 (Rl (v - l) + l - h) +
        w3 (Rr (v - r) + r - h)] + (1 - w0) h (h, l, r: the head and eye pivots), which is
        p0 + Rh (p1 + Rl p2 + Rr p3) with p0 = w0 v + (1 - w0) h, p1 = w1 (v - h) + w2 (l - h)
        + w3 (r - h), p2 = w2 (v - l), p3 = w3 (v - r): linear in v for fixed rotations, so a
        point's p_c are its corners' summed, and v = rest + shapes . actions makes each p_c
        = base_c + shapes_c . actions."""
        w = self.weights[corners] * bary[:, :, None]  # (n, k, 4): each corner's skinning weights times its share
        # l: point, k: corner, c: weight column, d: xyz, e: action
        base = np.einsum("lkc,lkd->cld", w, self.rest0[corners])  # (4, n, 3)
        wsum = w.sum(1).T[:, :, None]  # (4, n, 1)
        h, (el, er) = self.head_pivot, self.eye_pivots
        base[0] += (bary.sum(1)[:, None] - wsum[0]) * h
        base[1] += -wsum[1] * h + wsum[2] * (el - h) + wsum[3] * (er - h)
        base[2] -= wsum[2] * el
        base[3] -= wsum[3] * er
        shapes = np.einsum("lkc,elkd->cdle", w, self.shapes[:, corners]).reshape(-1, self.shapes.shape[0])
        shapes = np.ascontiguousarray(shapes, dtype=np.float32)
        return _PointTables(np.ascontiguousarray(base.transpose(0, 2, 1).reshape(12, -1)), shapes,
                            np.ascontiguousarray(shapes.T))

    @staticmethod
    def _rotations(x: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        """(R, dR) of the head, the left eye and the right eye at ``x`` (:func:`_rotation`)."""
        return _rotation(x[_HEAD]), _rotation(x[_EYES][:3]), _rotation(x[_EYES][3:])

    def _pose(self, tab: _PointTables, x: np.ndarray, rotations, jacobian: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Posed points (n, 3) of ``tab`` at ``x`` (:meth:`_point_tables`: p0 + Rh (p1 + Rl p2
        + Rr p3)) and their Jacobian (n, 3, 64) w.r.t. the rotations and the actions (the
        translation's columns are left zero: it is added at projection). ``rotations``:
        :meth:`_rotations` of ``x``."""
        n = tab.base.shape[1]
        active = np.flatnonzero(x[_EXPR])
        p = tab.base.reshape(-1)
        if len(active):
            p = p + _mm(x[_EXPR][active][None].astype(np.float32), tab.shapes_t[active])[0]
        p = p.reshape(4, 3, n).transpose(0, 2, 1)
        (rh, drh), (rl, drl), (rr, drr) = rotations
        about_head = p[1] + p[2] @ rl.T + p[3] @ rr.T
        posed = p[0] + about_head @ rh.T
        if not jacobian:
            return posed, None
        jac = np.empty((n, 3, N_UNKNOWNS))
        jac[:, :, _T] = 0.0
        # n: point, a: angle, i/j: xyz
        jac[:, :, 3:6] = np.einsum("aij,nj->nia", drh, about_head)
        jac[:, :, 6:9] = np.einsum("aij,nj->nia", rh @ drl, p[2])
        jac[:, :, 9:12] = np.einsum("aij,nj->nia", rh @ drr, p[3])
        # d posed / d actions = sum_c A_c S_c, A = (I, Rh, Rh Rl, Rh Rr), S_c (3, n * 52) the
        # action shapes of column c
        a = np.concatenate([np.eye(3), rh, rh @ rl, rh @ rr], axis=1).astype(np.float32)  # (3, 12)
        jac[:, :, _EXPR] = _mm(a, tab.shapes.reshape(12, -1)).reshape(3, n, -1).transpose(1, 0, 2)
        return posed, jac

    def _landmarks(self, x: np.ndarray, jacobian: bool):
        """Rotations (:meth:`_rotations`), posed landmarks (478, 3) and their Jacobian (None
        without ``jacobian``) at ``x``; the last result without the Jacobian is kept (a
        tracker's next contour pick and its landmarks_uv read the x its solve ended on)."""
        if not jacobian and self._last is not None and np.array_equal(self._last[0], x):
            return self._last[1], self._last[2], None
        rotations = self._rotations(x)
        lm, j_lm = self._pose(self.tables_lm, x, rotations, jacobian)
        self._last = (x.copy(), rotations, lm)
        return rotations, lm, j_lm

    def _picked_tables(self, picks: np.ndarray) -> _PointTables:
        """The tables of the marched vertices ``picks`` (>= 0), kept while the picks stay."""
        key = picks.tobytes()
        if self._picked is None or self._picked[0] != key:
            self._picked = (key, self.tables_lines.subset(np.searchsorted(self.line_ids, picks[picks >= 0])))
        return self._picked[1]

    def _points(self, x: np.ndarray, picks: np.ndarray, jacobian: bool):
        """Model points of the residuals: the 478 landmarks, then the lower contour's (the
        marched vertex where ``picks`` >= 0, else the landmark), with their Jacobians
        (N, 3, 64) w.r.t. ``x`` (the translation's columns are left zero: added at projection)."""
        rotations, lm, j_lm = self._landmarks(x, jacobian)
        picked = picks >= 0
        points = np.concatenate([lm, lm[self.lower_oval]])
        jp = None if j_lm is None else np.concatenate([j_lm, j_lm[self.lower_oval]])
        if picked.any():
            posed, jv = self._pose(self._picked_tables(picks), x, rotations, jacobian)
            rows = len(lm) + np.flatnonzero(picked)
            points[rows] = posed
            if jp is not None:
                jp[rows] = jv
        return points, jp

    def _terms(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray, jacobian: bool):
        """The objective as groups (residual vectors a (m, d), their Jacobians (m, d, 64) or
        None, per-residual weights c (m,), robust scale): loss = sum c rho(|a|) + priors,
        rho(r) = sqrt(r^2 + delta^2) - delta."""
        prob = self.prob
        points, jp = self._points(x, picks, jacobian)
        cam = points * np.array([1.0, -1.0, -1.0]) + x[_T]  # CAMERA_ROTATION is diag(1, -1, -1)
        z = cam[:, 2]
        uv = self.f * cam[:, :2] / z[:, None] + self.cxy
        det = prob.det.double().numpy()
        s = prob.scale
        n_lm = len(self.bary)
        j_uv = j_z = None
        if jacobian:  # d cam = diag(1, -1, -1) d point + d t; u = f cam_x / z (+ c), v likewise
            fz = (self.f / s / z)[:, None]
            up, vp = (cam[:, 0] / z)[:, None], (cam[:, 1] / z)[:, None]
            jx, jy, jz = jp[:, 0], jp[:, 1], jp[:, 2]
            j_uv = np.empty((len(z), 2, N_UNKNOWNS))
            j_uv[:, 0] = fz * (jx + up * jz)  # (1/s) d u
            j_uv[:, 1] = fz * (vp * jz - jy)
            j_uv[:, 0, _T] = fz * np.concatenate([np.ones_like(up), np.zeros_like(up), -up], axis=1)
            j_uv[:, 1, _T] = fz * np.concatenate([np.zeros_like(vp), np.ones_like(vp), -vp], axis=1)
            j_z = -jz
            j_z[:, _T] = (0.0, 0.0, 1.0)
        groups = []
        # Landmarks (the lower contour's own weights are 0: that term is next).
        groups.append(((uv[:n_lm] - det) / s, None if j_uv is None else j_uv[:n_lm],
                       self.w_lm / self.w_lm.sum(), _DELTA))
        cfg = prob.cfg
        k = len(self.lower_oval)
        groups.append(((uv[n_lm:] - targets) / s, None if j_uv is None else j_uv[n_lm:],
                       np.full(k, cfg.w_contour / k), _DELTA))
        for a_ids, b_ids in self.pairs:
            a = ((uv[a_ids] - uv[b_ids]) - (det[a_ids] - det[b_ids])) / s
            ja = None if j_uv is None else j_uv[a_ids] - j_uv[b_ids]
            groups.append((a, ja, np.full(len(a_ids), cfg.w_closure / len(a_ids)), 0.0))
        if cfg.w_depth > 0:
            zl = z[:n_lm]
            zm = zl.mean()
            zp = (zl - zm) * self.f / zm
            zd = prob.det_z.double().numpy()
            zd = zd - zd.mean()
            jd = None
            if jacobian:
                jz = j_z[:n_lm]
                jzm = jz.mean(0)
                jd = (self.f / (s * zm) * jz - np.outer(self.f * zl / (s * zm**2), jzm))[:, None]  # d zp / s
            groups.append((((zp - zd) / s)[:, None], jd, np.full(n_lm, cfg.w_depth / n_lm), _DELTA))
        return groups

    def loss(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray) -> float:
        """The objective at ``x`` (:func:`.face_fit._loss` without the fixed identity's and
        focal's priors)."""
        return self._loss(x, self._terms(x, picks, targets, False))

    def _loss(self, x: np.ndarray, groups) -> float:
        total = 0.0
        for a, _, c, delta in groups:
            r = np.linalg.norm(a, axis=1)
            total += float((c * (np.sqrt(r * r + delta * delta) - delta)).sum())
        cfg = self.prob.cfg
        return total + cfg.w_expression * float(np.abs(x[_EXPR]).sum()) + cfg.w_eyes * float((x[_EYES] ** 2).sum())

    def normal_equations(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray):
        """IRLS Gauss-Newton model at ``x``: (H, g), g the objective's exact gradient."""
        h, g, _ = self._linearise(x, picks, targets)
        return h, g

    def _linearise(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        """(H, g) of :meth:`normal_equations` and the loss at ``x``, from one evaluation of the
        terms: all residual groups stacked into one weighted product."""
        groups = self._terms(x, picks, targets, True)
        res, jac, wts = [], [], []
        for a, j, c, delta in groups:
            r = np.linalg.norm(a, axis=1)
            omega = c / np.sqrt(r * r + max(delta, 1e-6) ** 2)  # rho'(r) / r
            if delta == 0.0:  # rho(r) = r: exact gradient a / r
                omega = c / np.maximum(r, 1e-9)
            res.append(a.reshape(-1))
            jac.append(j.reshape(-1, N_UNKNOWNS))
            wts.append(np.repeat(omega, a.shape[1]))
        jf = np.concatenate(jac)  # (M, 64)
        wf = np.concatenate(wts)
        g = _mm((wf * np.concatenate(res))[None], jf)[0]  # the exact gradient, float64
        js = np.multiply(jf, np.sqrt(wf)[:, None], out=np.empty(jf.shape, np.float32), casting="same_kind")
        h = _mm(js, js, transpose_a=True).astype(np.float64)  # the step's model: float32 is plenty
        cfg = self.prob.cfg
        # The actions live in [0, 1], where the L1 prior is linear: its gradient is the constant
        # weight, also at 0 (sign(0) = 0 would hide the prior from the bound test of _bounded_step).
        g[_EXPR] += cfg.w_expression
        g[_EYES] += 2.0 * cfg.w_eyes * x[_EYES]
        h[_EYES, _EYES] += 2.0 * cfg.w_eyes * np.eye(6)
        return h, g, self._loss(x, groups)

    def _bounded_step(self, x: np.ndarray, h: np.ndarray, g: np.ndarray) -> np.ndarray:
        """argmin_d g.d + d.H d / 2 with lo <= x + d <= hi (H positive definite: the damped
        normal equations), by an active set: variables at a bound that the gradient pushes
        outwards are held there; a free variable whose step crosses its bound is clamped to it
        and held; repeat."""
        from scipy.linalg.lapack import dposv  # LAPACK's Cholesky solve: no wrapper overhead

        d = np.zeros_like(x)
        held = ((x <= self.lo + 1e-9) & (g > 0)) | ((x >= self.hi - 1e-9) & (g < 0))
        for _ in range(6):
            free = np.flatnonzero(~held)
            moved = np.flatnonzero(held & (d != 0))  # held variables clamped by an earlier pass (the rest: d = 0)
            rhs = -(g[free] + h[free][:, moved] @ d[moved])
            hf = h[free][:, free]
            _, sol, info = dposv(hf, rhs)
            d[free] = sol if info == 0 else torch.linalg.solve(torch.from_numpy(hf), torch.from_numpy(rhs)).numpy()
            new = x + d
            out = ~held & ((new < self.lo) | (new > self.hi))
            if not out.any():
                break
            d[out] = np.clip(new[out], self.lo[out], self.hi[out]) - x[out]
            held |= out
        return np.clip(x + d, self.lo, self.hi) - x

    def solve(self, x: Float[np.ndarray, " 64"], picks: np.ndarray, targets: np.ndarray,
              iterations: int = 3, damping: float = 1e-3) -> tuple[np.ndarray, SolveStats]:
        """``iterations`` Levenberg-Marquardt steps from ``x`` (returned updated), with the
        lower-contour correspondences ``picks``/``targets`` of :func:`.face_fit._pick_contour`."""
        from avatarforge.util.threads import torch_threads

        with torch_threads(1):
            return self._solve(np.clip(np.asarray(x, dtype=np.float64), self.lo, self.hi), picks, targets,
                               iterations, damping)

    def _solve(self, x, picks, targets, iterations, damping) -> tuple[np.ndarray, SolveStats]:
        f0 = f = None  # the loss at x: from the first linearisation (one evaluation fewer)
        lam = damping
        done = 0
        for _ in range(iterations):
            h, g, f_x = self._linearise(x, picks, targets)
            if f is None:
                f0 = f = f_x
            scale = np.diag(h) + 1e-6 * np.diag(h).max()  # actions no landmark sees get a floor
            for _ in range(4):  # raise the damping until the step lowers the loss
                step = self._bounded_step(x, h + lam * np.diag(scale), g)
                x_new = x + step
                f_new = self.loss(x_new, picks, targets)
                if f_new <= f:
                    x, f = x_new, f_new
                    lam = max(lam * 0.3, 1e-6)
                    break
                lam *= 10.0
            done += 1
        if f is None:
            f0 = f = self.loss(x, picks, targets)
        return x, SolveStats(done, f0, f)

    # -- conversions -------------------------------------------------------------------------

    @staticmethod
    def pack(state) -> np.ndarray:
        """The 64 unknowns of a :class:`.face_fit.FitState`."""
        return np.concatenate([state.t[0].double().numpy(), state.head_rot[0].double().numpy(),
                               state.eye_rot[0].reshape(-1).double().numpy(), state.expr[0].double().numpy()])

    @staticmethod
    def unpack(x: np.ndarray, state) -> None:
        """Write the unknowns back into ``state``'s tensors (in place)."""
        with torch.no_grad():
            state.t.copy_(torch.as_tensor(x[_T])[None])
            state.head_rot.copy_(torch.as_tensor(x[_HEAD])[None])
            state.eye_rot.copy_(torch.as_tensor(x[_EYES]).reshape(1, 2, 3))
            state.expr.copy_(torch.as_tensor(x[_EXPR])[None])

    def contour(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The lower-contour correspondences at ``x``: :func:`.face_fit._pick_contour`'s
        landmark marching in numpy on the marching lines' vertices only (their tables are
        built once): slice rows of the marched vertices (-1: the landmark itself) and their
        (K, 2) targets, pixels."""
        from avatarforge.fitting.face_fit import detected_silhouette
        from avatarforge.fitting.ibug68 import far_side, march

        prob = self.prob
        det = prob.det.double().numpy()
        picks = np.full(len(self.lower_oval), -1, dtype=np.int64)
        targets = det[self.lower_oval].copy()
        if not prob.cfg.march_fit:
            return picks, targets
        rotations, lm, _ = self._landmarks(x, False)
        uv, z = self._project(lm, x)
        side = far_side(z[self.lower_oval], prob.oval_x)
        if side == 0:
            return picks, targets
        left_dir = uv[454] - uv[234]  # image direction of the subject's left
        left_dir = left_dir / max(float(np.linalg.norm(left_dir)), 1e-9)
        marched, starts, tables = self.side_lines[side]  # the far side's lines only
        line_uv, _ = self._project(self._pose(tables, x, rotations, False)[0], x)
        sil = detected_silhouette(det, self.lower_oval, prob.scale, side)
        for i, k in enumerate(marched):
            picks[k] = int(prob.line_local[k][march(line_uv[starts[i]:starts[i + 1]], side * left_dir)])
            targets[k] = sil[k]
        return picks, targets

    def _project(self, points: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixels (n, 2) and camera depth (n,) of model points (n, 3) (:meth:`.face_fit._Problem.project`)."""
        cam = points * np.array([1.0, -1.0, -1.0]) + x[_T]  # CAMERA_ROTATION is diag(1, -1, -1)
        return self.f * cam[:, :2] / cam[:, 2:3] + self.cxy, cam[:, 2]

    def landmarks_uv(self, x: np.ndarray) -> Float[np.ndarray, "478 2"]:
        """The model's 478 landmarks at ``x`` projected into the image (pixels)."""
        return self._project(self._landmarks(np.asarray(x, dtype=np.float64), False)[1], x)[0]

    def posed_slice(self, x: np.ndarray) -> torch.Tensor:
        """(1, S, 3) float32 posed slice vertices (what :func:`.face_fit._pick_contour` reads)."""
        every = np.arange(len(self.rest0))[:, None]
        posed, _ = self._pose(self._point_tables(every, np.ones((len(every), 1))), x, self._rotations(x), False)
        return torch.as_tensor(posed, dtype=torch.float32)[None]
