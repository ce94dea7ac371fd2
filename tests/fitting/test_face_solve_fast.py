"""The fast solver paths (landmarks posed from per-avatar tables, float32 action products, the
numpy contour pick, the stacked normal equations, the Cholesky bounded step) against the
previous solver kept here as a slow reference: the skinning of every triangle corner vertex,
the actions' Jacobian from per-vertex tables, float64 normal equations per residual group, a
general linear solve, and the torch contour pick of :func:`face_fit._pick_contour`."""

import numpy as np
import pytest
import torch

from avatarforge.dev import face_synthetic as BENCH
from avatarforge.fitting.face_fit import FaceFitConfig, _full_local, _pick_contour, fit_face_state
from avatarforge.fitting.face_solve import N_UNKNOWNS, ExpressionPoseSolver, _rotation

_EXPR = slice(12, 64)


class VertexLevelSolver(ExpressionPoseSolver):
    """The previous solver: the same objective and Levenberg-Marquardt loop, evaluated vertex
    by vertex in float64 (slow: the reference the fast paths are held to)."""

    def __init__(self, prob, phen, local_sub, log_f):
        super().__init__(prob, phen, local_sub, log_f)
        corners = prob.lm_local.numpy().ravel()
        self.rest0_c, self.weights_c = self.rest0[corners], self.weights[corners]
        self.shapes_c = self.shapes[:, corners].reshape(len(self.shapes), -1)
        self.tables_c = self._vertex_tables(self.shapes[:, corners], self.weights_c, self.bary)

    @staticmethod
    def _vertex_tables(shapes, w, bary=None):
        t = np.einsum("evd,vc->cdve", shapes, w)  # e: action, v: vertex, d: xyz, c: weight column
        if bary is not None:
            t = np.einsum("cdlke,lk->cdle", t.reshape(4, 3, -1, 3, t.shape[-1]), bary)  # l: landmark, k: corner
        return t

    def _posed(self, rest, w, head, eyes):
        rh, drh = _rotation(head)
        (rl, drl), (rr, drr) = _rotation(eyes[:3]), _rotation(eyes[3:])
        h, (el, er) = self.head_pivot, self.eye_pivots
        u_l = (rest - el) @ rl.T + el - h
        u_r = (rest - er) @ rr.T + er - h
        about_head = w[:, 1:2] * (rest - h) + w[:, 2:3] * u_l + w[:, 3:4] * u_r
        posed = w[:, :1] * rest + about_head @ rh.T + (1.0 - w[:, 0:1]) * h
        jac = np.zeros((len(rest), 3, 9))
        jac[:, :, 0:3] = (about_head @ drh.transpose(0, 2, 1)).transpose(1, 2, 0)
        for col, d_eye, pivot in ((2, drl, el), (3, drr, er)):
            m = rh @ d_eye
            jac[:, :, 3 * col - 3:3 * col] = w[:, col, None, None] * ((rest - pivot) @ m.transpose(0, 2, 1)).transpose(1, 2, 0)
        return posed, jac

    @staticmethod
    def _actions_jacobian(tables, head, eyes):
        rh, rl, rr = _rotation(head)[0], _rotation(eyes[:3])[0], _rotation(eyes[3:])[0]
        out = tables[0].copy()
        for c, a in ((1, rh), (2, rh @ rl), (3, rh @ rr)):
            out += np.einsum("ij,jne->ine", a, tables[c])  # n: point, e: action
        return out.transpose(1, 0, 2)

    def _points(self, x, picks, jacobian):
        picked = picks >= 0
        pv = picks[picked]
        expr = x[_EXPR]
        rest = np.concatenate([self.rest0_c + (expr @ self.shapes_c).reshape(-1, 3),
                               self.rest0[pv] + np.einsum("e,evd->vd", expr, self.shapes[:, pv])])
        w = np.concatenate([self.weights_c, self.weights[pv]])
        posed, jv = self._posed(rest, w, x[3:6], x[6:12])
        n_c = len(self.weights_c)
        lm = (self.bary[:, :, None] * posed[:n_c].reshape(-1, 3, 3)).sum(1)
        contour = lm[self.lower_oval].copy()
        contour[picked] = posed[n_c:]
        points = np.concatenate([lm, contour])
        if not jacobian:
            return points, None
        j_lm = np.zeros((len(lm), 3, N_UNKNOWNS))
        j_lm[:, :, 3:12] = (self.bary[:, :, None, None] * jv[:n_c].reshape(-1, 3, 3, 9)).sum(1)
        j_lm[:, :, _EXPR] = self._actions_jacobian(self.tables_c, x[3:6], x[6:12])
        j_contour = j_lm[self.lower_oval].copy()
        if len(pv):
            j_contour[picked, :, 3:12] = jv[n_c:]
            j_contour[picked, :, _EXPR] = self._actions_jacobian(
                self._vertex_tables(self.shapes[:, pv], self.weights[pv]), x[3:6], x[6:12])
        return points, np.concatenate([j_lm, j_contour])

    def _linearise(self, x, picks, targets):
        groups = self._terms(x, picks, targets, True)
        h, g = np.zeros((N_UNKNOWNS, N_UNKNOWNS)), np.zeros(N_UNKNOWNS)
        for a, j, c, delta in groups:
            r = np.linalg.norm(a, axis=1)
            omega = c / np.sqrt(r * r + max(delta, 1e-6) ** 2) if delta > 0 else c / np.maximum(r, 1e-9)
            jf = j.reshape(-1, N_UNKNOWNS)
            jw = jf.T * np.repeat(omega, a.shape[1])
            g += jw @ a.reshape(-1)
            h += jw @ jf
        cfg = self.prob.cfg
        g[_EXPR] += cfg.w_expression
        g[6:12] += 2.0 * cfg.w_eyes * x[6:12]
        h[6:12, 6:12] += 2.0 * cfg.w_eyes * np.eye(6)
        return h, g, self._loss(x, groups)

    def _bounded_step(self, x, h, g):
        d = np.zeros_like(x)
        held = ((x <= self.lo + 1e-9) & (g > 0)) | ((x >= self.hi - 1e-9) & (g < 0))
        for _ in range(6):
            free = ~held
            d[free] = np.linalg.solve(h[np.ix_(free, free)], -(g[free] + h[np.ix_(free, held)] @ d[held]))
            new = x + d
            out = free & ((new < self.lo) | (new > self.hi))
            if not out.any():
                break
            d[out] = np.clip(new[out], self.lo[out], self.hi[out]) - x[out]
            held |= out
        return np.clip(x + d, self.lo, self.hi) - x

    def contour(self, x):
        s = torch.float64
        er = self.prob.model.expression_rest(self.phen, _full_local(self.prob, self.local_sub))
        with torch.no_grad():
            verts, _ = self.prob.model.pose(*er(torch.as_tensor(x[_EXPR], dtype=torch.float32)[None]),
                                            torch.as_tensor(x[3:6], dtype=torch.float32)[None],
                                            torch.as_tensor(x[6:12], dtype=torch.float32).reshape(1, 2, 3))
        picks, targets = _pick_contour(self.prob, verts, torch.as_tensor(x[:3], dtype=torch.float32)[None], self.log_f)
        return picks.numpy(), targets.to(s).numpy()


@pytest.fixture(scope="module")
def fitted(body):
    from avatarforge.perception.face import face_landmarks

    rng = np.random.default_rng(11)
    values = BENCH.random_sample(body, rng)
    values = {k: v for k, v in values.items() if k not in body.params.names("expression")}
    values.update({"pose.head.y": -20.0, "pose.head.x": 5.0, "jawOpen": 0.3, "mouthSmileLeft": 0.4})
    _, _, rgb = BENCH.render_sample(body, values, rng)
    lm = face_landmarks(rgb)
    prob, state, _ = fit_face_state(lm.points, lm.image_size, body, FaceFitConfig(rigid_steps=30, full_steps=40))
    return prob, state, lm.points


def _solvers(prob, state):
    fast = ExpressionPoseSolver(prob, state.phen, state.local_sub, state.log_f)
    slow = VertexLevelSolver(prob, state.phen, state.local_sub, state.log_f)
    slow.phen, slow.local_sub = state.phen, state.local_sub
    return fast, slow


def _perturbed_x(state, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = ExpressionPoseSolver.pack(state)
    x[3:6] += rng.uniform(-6, 6, 3)
    x[6:12] = rng.uniform(-10, 10, 6)
    x[_EXPR] = np.where(rng.random(52) < 0.6, 0.0, rng.uniform(0, 0.6, 52))  # most actions at 0, as tracked
    return x


def _case(fitted, seed: int):
    """The fixture's detected points, both solvers and a perturbed state ``seed``."""
    prob, state, points = fitted
    prob.set_points(points)
    return (*_solvers(prob, state), _perturbed_x(state, seed))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_points_and_jacobian_match_the_vertex_level_reference(fitted, seed):
    fast, slow, x = _case(fitted, seed)
    picks, _ = slow.contour(x)
    assert (picks >= 0).any()  # a turned head: marched vertices are exercised
    p_fast, j_fast = fast._points(x, picks, True)
    p_slow, j_slow = slow._points(x, picks, True)
    assert np.abs(p_fast - p_slow).max() < 1e-8  # metres (the float32 action tables: < 1e-9 of a 10 cm offset)
    assert np.allclose(fast._points(x, picks, False)[0], p_slow, atol=1e-8)
    scale = np.abs(j_slow).max(axis=(0, 1))  # per unknown
    assert (np.abs(j_fast - j_slow).max(axis=(0, 1)) <= 1e-5 * scale + 1e-12).all()
    # the normal equations: gradient exact (float64), H to float32's precision
    h_f, g_f, f_f = fast._linearise(x, picks, slow.contour(x)[1])
    h_s, g_s, f_s = slow._linearise(x, picks, slow.contour(x)[1])
    assert f_f == pytest.approx(f_s, rel=1e-6)  # the float32 action offsets: ~1e-9 m per point
    assert np.allclose(g_f, g_s, rtol=1e-6, atol=1e-9 * np.abs(g_s).max())
    assert np.abs(h_f - h_s).max() <= 1e-5 * np.abs(h_s).max()


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_contour_pick_matches_the_torch_pick(fitted, seed):
    fast, slow, x = _case(fitted, seed)
    picks, targets = fast.contour(x)
    ref_picks, ref_targets = slow.contour(x)
    assert (ref_picks >= 0).sum() >= 3
    assert np.array_equal(picks, ref_picks)
    assert np.allclose(targets, ref_targets, atol=1e-3)  # pixels (the reference's are float32)


def test_tracked_frames_match_the_reference_solver(fitted):
    """A synthetic clip: the detected points of the fixture moved frame by frame (the mouth
    opening, the face sliding and turning in the image); both solvers track it with the
    tracker's two iterations per frame from the same start."""
    prob, state, points = fitted
    fast, slow = _solvers(prob, state)
    x_f = x_s = ExpressionPoseSolver.pack(state)
    from avatarforge.perception.landmark_groups import LIP_PAIRS

    lower_lip = np.array([b for _, b in LIP_PAIRS])
    centre = points[:, :2].mean(0)
    losses = []
    for k in range(1, 9):
        p = points.copy()
        p[lower_lip, 1] += 1.5 * k  # the mouth opens
        turn = np.radians(1.5 * k)  # the face turns in the image plane and slides
        c, s = np.cos(turn), np.sin(turn)
        p[:, :2] = (p[:, :2] - centre) @ np.array([[c, s], [-s, c]]) + centre + [2.0 * k, -k]
        prob.set_points(p)
        x_f, st_f = fast.solve(x_f, *fast.contour(x_f), iterations=2)
        x_s, st_s = slow.solve(x_s, *slow.contour(x_s), iterations=2)
        assert st_f.loss_after == pytest.approx(st_s.loss_after, rel=1e-4)
        assert np.abs(x_f[:3] - x_s[:3]).max() < 1e-5  # metres
        assert np.abs(x_f[3:12] - x_s[3:12]).max() < 1e-2  # degrees
        assert np.abs(x_f[_EXPR] - x_s[_EXPR]).max() < 1e-3  # action values in [0, 1]
        losses.append(st_f.loss_after)
    jaw = list(prob.body.expression_names).index("jawOpen")
    assert x_f[12 + jaw] > ExpressionPoseSolver.pack(state)[12 + jaw] + 0.05  # it tracked the mouth opening


def test_landmark_pose_is_kept_for_the_same_x_only(fitted):
    fast, slow, x = _case(fitted, 6)
    uv = fast.landmarks_uv(x)
    y = x.copy()
    y[3 + 1] += 5.0  # another head turn: must not reuse the kept pose
    uv_y = fast.landmarks_uv(y)
    assert not np.allclose(uv, uv_y)
    assert np.allclose(fast.landmarks_uv(x), uv)
    p, _ = slow._points(y, np.full(len(fast.lower_oval), -1), False)
    assert np.allclose(fast._project(p[:478], y)[0], uv_y, atol=1e-6)
