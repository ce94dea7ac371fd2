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


def _mm(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b through torch, which the callers keep to one thread (numpy's OpenBLAS runs these
    products on both cores and, on a loaded machine, waits for the second: measured 5x the
    wall time per tracked frame)."""
    return (torch.from_numpy(np.ascontiguousarray(a)) @ torch.from_numpy(np.ascontiguousarray(b))).numpy()


def _rotation(angles_deg: Float[np.ndarray, " 3"]) -> tuple[np.ndarray, np.ndarray]:
    """R = Rz Ry Rx (extrinsic X, Y, Z; degrees), the body model's convention
    (:func:`avatarforge.bodies.rotation.euler_xyz_to_matrix`), in numpy float64, and its
    derivatives (3, 3, 3) w.r.t. the three angles (per degree)."""
    cx, cy, cz = np.cos(np.radians(angles_deg))
    sx, sy, sz = np.sin(np.radians(angles_deg))
    rx = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    ry = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    rz = np.array([[cz, -sz, 0.0], [sz, cz, 0.0], [0.0, 0.0, 1.0]])
    drx = np.array([[0.0, 0.0, 0.0], [0.0, -sx, -cx], [0.0, cx, -sx]])
    dry = np.array([[-sy, 0.0, cy], [0.0, 0.0, 0.0], [-cy, 0.0, -sy]])
    drz = np.array([[-sz, -cz, 0.0], [cz, -sz, 0.0], [0.0, 0.0, 0.0]])
    d = np.stack([rz @ ry @ drx, rz @ dry @ rx, drz @ ry @ rx]) * (np.pi / 180.0)
    return rz @ ry @ rx, d


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
        corners = prob.lm_local.numpy().ravel()  # the 478 landmarks' triangle corners (slice rows)
        self.rest0_c, self.weights_c = self.rest0[corners], self.weights[corners]
        self.shapes_c = np.ascontiguousarray(self.shapes[:, corners].reshape(len(self.shapes), -1))  # (52, 3n)
        self.tables_lm = self._tables(self.shapes[:, corners], self.weights_c, prob.bary.double().numpy())
        if float(er.bone_shapes.abs().max()) > 0:  # the joints must not move with the expression
            raise ValueError("the body's facial actions move the head or eye joints: not supported")
        self.log_f = log_f.detach().clone()
        self.f = float(prob.f0 * np.exp(float(log_f.reshape(-1)[0])))
        self.cxy = prob.cxy.double().numpy()
        self.bary = prob.bary.double().numpy()  # (478, 3)
        self.w_lm = prob.w.double().numpy()
        self.lower_oval = np.asarray(prob.lower_oval)
        self.pairs = [(np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])) for pairs in (EYE_PAIRS, LIP_PAIRS)]
        self.lo = np.full(N_UNKNOWNS, -np.inf)
        self.hi = np.full(N_UNKNOWNS, np.inf)
        self.lo[_EYES], self.hi[_EYES] = -30.0, 30.0
        self.lo[_EXPR], self.hi[_EXPR] = 0.0, 1.0

    # -- the model ---------------------------------------------------------------------------

    def _posed(self, rest: np.ndarray, w: np.ndarray, head: np.ndarray, eyes: np.ndarray,
               jacobian: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Posed vertices of rest positions ``rest`` (n, 3) with skinning weights ``w`` (n, 4)
        (:meth:`HeadModel.pose`), and their Jacobian (n, 3, 64) w.r.t. the rotations and the
        actions (the translation's columns are left zero: it is added at projection)."""
        rh, drh = _rotation(head)
        (rl, drl), (rr, drr) = _rotation(eyes[:3]), _rotation(eyes[3:])
        h, (el, er) = self.head_pivot, self.eye_pivots
        u_l = (rest - el) @ rl.T + el - h  # eye-posed, relative to the head pivot
        u_r = (rest - er) @ rr.T + er - h
        about_head = w[:, 1:2] * (rest - h) + w[:, 2:3] * u_l + w[:, 3:4] * u_r
        posed = w[:, :1] * rest + about_head @ rh.T + (1.0 - w[:, 0:1]) * h
        if not jacobian:
            return posed, None
        jac = np.zeros((len(rest), 3, 9))  # head x, y, z; eye L x, y, z; eye R x, y, z
        jac[:, :, 0:3] = (about_head @ drh.transpose(0, 2, 1)).transpose(1, 2, 0)  # (angle, n, xyz) -> (n, xyz, angle)
        for col, d_eye, pivot in ((2, drl, el), (3, drr, er)):
            on = np.flatnonzero(w[:, col])  # the eyeballs' vertices only
            if len(on):
                m = rh @ d_eye  # (angle, 3, 3)
                first = 3 * col - 3
                jac[on, :, first:first + 3] = w[on, col, None, None] * ((rest[on] - pivot) @ m.transpose(0, 2, 1)).transpose(1, 2, 0)
        return posed, jac

    @staticmethod
    def _expression_jacobian(tables: np.ndarray, head: np.ndarray, eyes: np.ndarray) -> np.ndarray:
        """(n, 3, 52) d point / d actions from ``tables`` (4, 3, n, 52), the action shapes of
        each point weighted by its skinning weights (other, head, eye.L, eye.R): the skinning
        maps a rest offset by A = w0 I + w1 Rh + w2 Rh Rl + w3 Rh Rr."""
        rh, rl, rr = _rotation(head)[0], _rotation(eyes[:3])[0], _rotation(eyes[3:])[0]
        _, _, n, e = tables.shape
        out = tables[0].copy()
        for col, m in ((1, rh), (2, rh @ rl), (3, rh @ rr)):
            out += _mm(m, tables[col].reshape(3, -1)).reshape(3, n, e)
        return out.transpose(1, 0, 2)

    @staticmethod
    def _tables(shapes: np.ndarray, w: np.ndarray, bary: np.ndarray | None = None) -> np.ndarray:
        """(4, 3, n, 52) skinning-weighted action shapes of points: vertices (``shapes``
        (52, n, 3), weights (n, 4)) or, with ``bary`` (n, 3), barycentric points on corners
        (``shapes`` (52, 3n, 3), ``w`` (3n, 4))."""
        t = np.einsum("evd,vc->cdve", shapes, w)  # e: action, v: vertex, d: xyz, c: weight column
        if bary is not None:
            t = np.einsum("cdlke,lk->cdle", t.reshape(4, 3, -1, 3, t.shape[-1]), bary)  # l: landmark, k: corner
        return np.ascontiguousarray(t)

    def _points(self, x: np.ndarray, picks: np.ndarray, jacobian: bool):
        """Model points of the residuals: the 478 landmarks, then the lower contour's (the
        marched vertex where ``picks`` >= 0, else the landmark), with their Jacobians
        (N, 3, 64) w.r.t. ``x`` (the translation's columns are left zero: added at projection)."""
        picked = picks >= 0
        pv = picks[picked]
        expr = x[_EXPR]
        rest = np.concatenate([self.rest0_c + _mm(expr[None], self.shapes_c).reshape(-1, 3),
                               self.rest0[pv] + np.einsum("e,evd->vd", expr, self.shapes[:, pv])])  # e: action
        w = np.concatenate([self.weights_c, self.weights[pv]])
        posed, jv = self._posed(rest, w, x[_HEAD], x[_EYES], jacobian)
        n_c = len(self.weights_c)
        lm = (self.bary[:, :, None] * posed[:n_c].reshape(-1, 3, 3)).sum(1)
        contour = lm[self.lower_oval].copy()
        contour[picked] = posed[n_c:]
        points = np.concatenate([lm, contour])
        if not jacobian:
            return points, None
        j_lm = np.zeros((len(lm), 3, N_UNKNOWNS))
        j_lm[:, :, 3:12] = (self.bary[:, :, None, None] * jv[:n_c].reshape(-1, 3, 3, 9)).sum(1)
        j_lm[:, :, _EXPR] = self._expression_jacobian(self.tables_lm, x[_HEAD], x[_EYES])
        j_contour = j_lm[self.lower_oval].copy()
        if len(pv):
            j_contour[picked, :, 3:12] = jv[n_c:]
            j_contour[picked, :, _EXPR] = self._expression_jacobian(
                self._tables(self.shapes[:, pv], self.weights[pv]), x[_HEAD], x[_EYES])
        return points, np.concatenate([j_lm, j_contour])

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
        if jacobian:
            jc = jp * np.array([1.0, -1.0, -1.0])[None, :, None]
            jc[:, :, _T] += np.eye(3)
            j_z = jc[:, 2]
            j_uv = self.f / z[:, None, None] * (jc[:, :2] - (cam[:, :2] / z[:, None])[:, :, None] * j_z[:, None])
        if j_uv is not None:
            j_uv = j_uv / s
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
                jd = (self.f * (jz - jzm) / zm - self.f * (zl - zm)[:, None] * jzm / zm**2)[:, None] / s
            groups.append((((zp - zd) / s)[:, None], jd, np.full(n_lm, cfg.w_depth / n_lm), _DELTA))
        return groups

    def loss(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray) -> float:
        """The objective at ``x`` (:func:`.face_fit._loss` without the fixed identity's and
        focal's priors)."""
        total = 0.0
        for a, _, c, delta in self._terms(x, picks, targets, False):
            r = np.linalg.norm(a, axis=1)
            total += float((c * (np.sqrt(r * r + delta * delta) - delta)).sum())
        cfg = self.prob.cfg
        return total + cfg.w_expression * float(np.abs(x[_EXPR]).sum()) + cfg.w_eyes * float((x[_EYES] ** 2).sum())

    def normal_equations(self, x: np.ndarray, picks: np.ndarray, targets: np.ndarray):
        """IRLS Gauss-Newton model at ``x``: (H, g), g the objective's exact gradient."""
        h = np.zeros((N_UNKNOWNS, N_UNKNOWNS))
        g = np.zeros(N_UNKNOWNS)
        for a, j, c, delta in self._terms(x, picks, targets, True):
            r = np.linalg.norm(a, axis=1)
            omega = c / np.sqrt(r * r + max(delta, 1e-6) ** 2)  # rho'(r) / r
            if delta == 0.0:  # rho(r) = r: exact gradient a / r
                omega = c / np.maximum(r, 1e-9)
            jf = j.reshape(-1, N_UNKNOWNS)
            wf = np.repeat(omega, a.shape[1])
            jw = jf.T * wf
            g += _mm(jw, a.reshape(-1, 1))[:, 0]
            h += _mm(jw, jf)
        cfg = self.prob.cfg
        # The actions live in [0, 1], where the L1 prior is linear: its gradient is the constant
        # weight, also at 0 (sign(0) = 0 would hide the prior from the bound test of _bounded_step).
        g[_EXPR] += cfg.w_expression
        g[_EYES] += 2.0 * cfg.w_eyes * x[_EYES]
        h[_EYES, _EYES] += 2.0 * cfg.w_eyes * np.eye(6)
        return h, g

    def _bounded_step(self, x: np.ndarray, h: np.ndarray, g: np.ndarray) -> np.ndarray:
        """argmin_d g.d + d.H d / 2 with lo <= x + d <= hi, by an active set: variables at a
        bound that the gradient pushes outwards are held there; a free variable whose step
        crosses its bound is clamped to it and held; repeat."""
        d = np.zeros_like(x)
        held = ((x <= self.lo + 1e-9) & (g > 0)) | ((x >= self.hi - 1e-9) & (g < 0))
        for _ in range(6):
            free = ~held
            rhs = -(g[free] + h[np.ix_(free, held)] @ d[held])
            d[free] = torch.linalg.solve(torch.from_numpy(h[np.ix_(free, free)]), torch.from_numpy(rhs)).numpy()
            new = x + d
            out = free & ((new < self.lo) | (new > self.hi))
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
        f0 = f = self.loss(x, picks, targets)
        lam = damping
        done = 0
        for _ in range(iterations):
            h, g = self.normal_equations(x, picks, targets)
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
        """The lower-contour correspondences at ``x`` (:func:`.face_fit._pick_contour`'s
        landmark marching): slice rows of the marched vertices (-1: the landmark itself) and
        their (K, 2) targets, pixels."""
        from avatarforge.fitting.face_fit import _pick_contour

        t = torch.as_tensor(x[_T], dtype=torch.float32)[None]
        picks, targets = _pick_contour(self.prob, self.posed_slice(x), t, self.log_f)
        return picks.numpy(), targets.double().numpy()

    def landmarks_uv(self, x: np.ndarray) -> Float[np.ndarray, "478 2"]:
        """The model's 478 landmarks at ``x`` projected into the image (pixels)."""
        points, _ = self._points(x, np.full(len(self.lower_oval), -1), False)
        cam = points[: len(self.bary)] * np.array([1.0, -1.0, -1.0]) + x[_T]
        return self.f * cam[:, :2] / cam[:, 2:3] + self.cxy

    def posed_slice(self, x: np.ndarray) -> torch.Tensor:
        """(1, S, 3) float32 posed slice vertices (what :func:`.face_fit._pick_contour` reads)."""
        rest = self.rest0 + np.einsum("e,evd->vd", x[_EXPR], self.shapes)  # e: action, v: vertex
        posed, _ = self._posed(rest, self.weights, x[_HEAD], x[_EYES], False)
        return torch.as_tensor(posed, dtype=torch.float32)[None]
