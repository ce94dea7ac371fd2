"""The Gauss-Newton expression/pose solver against the torch objective it reimplements
(:func:`avatarforge.fitting.face_fit._loss`): same loss, same gradient (autograd), and a
minimum at least as low as many Adam steps reach."""

import copy

import numpy as np
import pytest
import torch

from avatarforge.dev import face_synthetic as BENCH
from avatarforge.fitting.face_fit import FaceFitConfig, _full_local, _loss, _pick_contour, fit_face_state, optimise
from avatarforge.fitting.face_solve import N_UNKNOWNS, ExpressionPoseSolver

TRACKED = ("t", "head_rot", "expr", "eye_rot")


@pytest.fixture(scope="module")
def fitted(body):
    from avatarforge.perception.face import face_landmarks

    rng = np.random.default_rng(7)
    values = BENCH.random_sample(body, rng)
    values = {k: v for k, v in values.items() if k not in body.params.names("expression")}
    values.update({"pose.head.y": 18.0, "pose.head.x": -6.0, "jawOpen": 0.5, "eyeBlinkLeft": 0.4})
    _, _, rgb = BENCH.render_sample(body, values, rng)
    lm = face_landmarks(rgb)
    prob, state, _ = fit_face_state(lm.points, lm.image_size, body, FaceFitConfig(rigid_steps=30, full_steps=40))
    return prob, state


def _perturbed(state, seed: int):
    rng = np.random.default_rng(seed)
    s = copy.deepcopy(state)
    with torch.no_grad():
        s.expr.copy_(torch.as_tensor(rng.uniform(0.0, 0.4, (1, 52)), dtype=torch.float32))
        s.head_rot.add_(torch.as_tensor(rng.uniform(-4, 4, (1, 3)), dtype=torch.float32))
        s.eye_rot.copy_(torch.as_tensor(rng.uniform(-8, 8, (1, 2, 3)), dtype=torch.float32))
        s.t.add_(torch.as_tensor(rng.uniform(-0.005, 0.005, (1, 3)), dtype=torch.float32))
    return s


def _torch_loss_and_grad(prob, s, contour):
    params = s.tensors(TRACKED)
    for p in params:
        p.grad = None
        p.requires_grad_(True)
    er = prob.model.expression_rest(s.phen, _full_local(prob, s.local_sub))
    verts, _ = prob.model.pose(*er(s.expr), s.head_rot, s.eye_rot)
    loss = _loss(prob, prob.cfg, verts, s.t, s.log_f, s.phen, s.local_sub, s.expr, s.eye_rot, contour)
    loss.backward()
    grad = np.concatenate([s.t.grad[0].numpy(), s.head_rot.grad[0].numpy(), s.eye_rot.grad[0].reshape(-1).numpy(),
                           s.expr.grad[0].numpy()])
    for p in params:
        p.requires_grad_(False)
        p.grad = None
    with torch.no_grad():  # the fixed identity's and focal's priors: not the solver's unknowns
        const = (prob.cfg.w_local * (s.local_sub ** 2).sum() + prob.cfg.w_phenotype * ((s.phen - prob.phen0) ** 2).sum()
                 + 0.01 * (s.log_f / 0.3) ** 2)
    return float(loss.detach()) - float(const), grad


@pytest.mark.parametrize("seed", [0, 1])
def test_loss_and_gradient_equal_the_torch_objective(fitted, seed):
    prob, state = fitted
    s = _perturbed(state, seed)
    solver = ExpressionPoseSolver(prob, s.phen, s.local_sub, s.log_f)
    x = ExpressionPoseSolver.pack(s)
    # the posed slice equals the torch head model's (what the contour picks read)
    with torch.no_grad():
        er = prob.model.expression_rest(s.phen, _full_local(prob, s.local_sub))
        verts, _ = prob.model.pose(*er(s.expr), s.head_rot, s.eye_rot)
    assert np.allclose(solver.posed_slice(x).numpy(), verts.numpy(), atol=2e-6)
    picks, targets = _pick_contour(prob, verts, s.t, s.log_f)
    assert (picks >= 0).any()  # a turned head: the marched silhouette term is exercised
    loss_ref, grad_ref = _torch_loss_and_grad(prob, s, (picks, targets))
    pk, tg = picks.numpy(), targets.double().numpy()
    assert solver.loss(x, pk, tg) == pytest.approx(loss_ref, rel=1e-5)
    _, grad = solver.normal_equations(x, pk, tg)
    assert grad.shape == (N_UNKNOWNS,)
    assert np.allclose(grad, grad_ref, rtol=1e-3, atol=1e-4 * np.abs(grad_ref).max())


def test_solve_lowers_the_loss_within_the_bounds_and_matches_many_adam_steps(fitted):
    prob, state = fitted
    s = _perturbed(state, 2)
    solver = ExpressionPoseSolver(prob, s.phen, s.local_sub, s.log_f)
    x0 = ExpressionPoseSolver.pack(s)
    picks, targets = solver.contour(x0)
    x, stats = solver.solve(x0, picks, targets, iterations=20)
    assert stats.loss_after < 0.5 * stats.loss_before
    assert stats.loss_after == pytest.approx(solver.loss(x, picks, targets))
    assert (x[12:] >= 0).all() and (x[12:] <= 1).all() and (np.abs(x[6:12]) <= 30).all()
    assert (x[12:] == 0).sum() > 10  # the L1 prior: actions the landmarks do not ask for stay at 0
    # Reference: 300 Adam steps of the torch fit from the same start, with the same contour picks.
    ref = copy.deepcopy(s)
    cfg = prob.cfg
    prob.cfg = FaceFitConfig(**{**cfg.__dict__, "contour_every": 10_000})
    try:
        from unittest import mock

        with mock.patch("avatarforge.fitting.face_fit._pick_contour",
                        return_value=(torch.as_tensor(picks), torch.as_tensor(targets, dtype=torch.float32))):
            optimise(prob, ref, 300, TRACKED)
    finally:
        prob.cfg = cfg
    adam = solver.loss(ExpressionPoseSolver.pack(ref), picks, targets)
    assert stats.loss_after <= adam * 1.005
    jaw = list(prob.body.expression_names).index("jawOpen")
    assert x[12 + jaw] > 0.25


def test_unpack_round_trips(fitted):
    _, state = fitted
    s = _perturbed(state, 3)
    x = ExpressionPoseSolver.pack(s)
    other = copy.deepcopy(state)
    ExpressionPoseSolver.unpack(x, other)
    assert np.allclose(ExpressionPoseSolver.pack(other), x, atol=1e-6)
