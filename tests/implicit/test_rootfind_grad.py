"""Broyden root finding, multiple roots, and implicit-differentiation gradients (float64)."""

import math

import pytest
import torch
from torch import nn

from avatarforge.implicit.implicit_grad import attach_root_gradient, pointwise_jacobian
from avatarforge.implicit.model import SNARF, duplicate_roots
from avatarforge.implicit.rootfind import broyden
from avatarforge.implicit.skinning import lbs_points


def rot_z(theta: torch.Tensor) -> torch.Tensor:
    """4x4 rotation about +Z through the origin (differentiable in theta)."""
    c, s = torch.cos(theta), torch.sin(theta)
    z, o = torch.zeros_like(theta), torch.ones_like(theta)
    return torch.stack([torch.stack([c, -s, z, z]), torch.stack([s, c, z, z]),
                        torch.stack([z, z, o, z]), torch.stack([z, z, z, o])])


class TwoBoneWeights(nn.Module):
    """Bone 0 for x < 0, bone 1 for x > 0, blended by sigmoid(x / width + shift)."""

    def __init__(self, width: float = 0.05, shift: float = 0.0) -> None:
        super().__init__()
        self.width = width
        self.shift = nn.Parameter(torch.tensor(shift, dtype=torch.float64))

    def forward(self, x):
        w1 = torch.sigmoid(x[:, 0] / self.width + self.shift)
        return torch.stack([1 - w1, w1], -1)


def transforms(theta):
    return torch.stack([torch.eye(4, dtype=torch.float64), rot_z(theta)])


def test_broyden_finds_known_root_of_two_bone_lbs():
    skin = TwoBoneWeights()
    T = transforms(torch.tensor(0.5, dtype=torch.float64))
    x_true = torch.tensor([[0.3, 0.05, 0.1], [-0.4, 0.02, -0.1], [0.02, -0.03, 0.0], [0.6, 0.1, 0.2]],
                          dtype=torch.float64)
    with torch.no_grad():
        target = lbs_points(x_true, skin(x_true), T)
    x0 = target.clone()  # start from the identity bone's inverse
    res = broyden(lambda x, idx: lbs_points(x, skin(x), T) - target[idx], x0, max_iter=60, tol=1e-12)
    assert res.converged.all()
    assert torch.allclose(res.x, x_true, atol=1e-10)
    assert (res.residual < 1e-12).all()
    assert (res.iterations > 0).all() and (res.iterations <= 60).all()


def test_broyden_reports_unconverged_systems():
    # x^2 + 1 = 0 (componentwise) has no real root: never converged, residual stays >= 1
    res = broyden(lambda x, idx: x * x + 1, torch.ones(5, 3, dtype=torch.float64), max_iter=15, tol=1e-8)
    assert not res.converged.any()
    assert (res.residual >= 1.0).all()


def _snarf(skin, n_init=2):
    bones = torch.tensor([[[-0.5, 0, 0], [0, 0, 0]], [[0, 0, 0], [0.5, 0, 0]]], dtype=torch.float64)
    bounds = torch.tensor([[-1.0, -1, -1], [1, 1, 1]], dtype=torch.float64)
    m = SNARF(skin, bones, bounds, hidden=16, layers=2, n_freq=1, n_init=n_init, max_iter=80, tol=1e-11)
    return m.double()


def test_multiple_roots_detected_at_a_bent_joint():
    # Bent by 150 deg: the canonical point A on bone 1 lands on the bone-0 side, where the
    # (almost) unmoved point x' itself is a second root.
    skin = TwoBoneWeights(width=0.02)
    T = transforms(torch.tensor(math.radians(150), dtype=torch.float64))
    a = torch.tensor([[0.3, 0.02, 0.0]], dtype=torch.float64)
    with torch.no_grad():
        xd = lbs_points(a, skin(a), T)
    corr = _snarf(skin).search(xd, T)
    assert corr.valid.sum() == 2
    roots = corr.x[0][corr.valid[0]]
    with torch.no_grad():
        for r in roots:
            assert torch.allclose(lbs_points(r[None], skin(r[None]), T), xd, atol=1e-9)
    assert (roots[0] - roots[1]).norm() > 0.3  # two distinct roots
    assert min((r - a[0]).norm() for r in roots) < 1e-8  # one of them is A
    # max-occupancy: a field occupied only around A still makes x' occupied
    m = _snarf(skin)
    with torch.no_grad():
        for p in m.occupancy.parameters():
            p.zero_()
    m.occupancy.forward = lambda x, cond=None: 10.0 - 100 * (m.bounds[0] + (x + 1) / 2 * (m.bounds[1] - m.bounds[0]) - a).norm(dim=-1)
    assert m(xd, T).item() > 9.0


def test_implicit_gradient_matches_finite_differences():
    skin = TwoBoneWeights(width=0.1, shift=0.3)
    x_true = torch.tensor([[0.25, 0.05, 0.1], [0.05, -0.04, 0.0], [-0.3, 0.1, 0.05]], dtype=torch.float64)

    def root(theta, shift, xd):
        skin.shift.data = shift.detach().clone()
        T = transforms(theta)

        def residual(x, target=xd):
            w1 = torch.sigmoid(x[:, 0] / skin.width + shift)  # differentiable in shift
            return lbs_points(x, torch.stack([1 - w1, w1], -1), T) - target

        with torch.no_grad():
            res = broyden(lambda x, idx: residual(x, xd[idx]), xd.detach().clone(), max_iter=100, tol=1e-13)
        assert res.converged.all()
        return attach_root_gradient(res.x, residual)

    theta = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    shift = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
    with torch.no_grad():
        xd = lbs_points(x_true, skin(x_true), transforms(theta)).requires_grad_(True)
    assert torch.autograd.gradcheck(root, (theta, shift, xd), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_implicit_gradient_is_not_the_naive_one():
    # The implicit derivative dx*/dxd = J^-1 differs from the identity a stop-gradient would give.
    skin = TwoBoneWeights(width=0.1)
    T = transforms(torch.tensor(1.0, dtype=torch.float64))
    xd = torch.tensor([[0.1, 0.2, 0.0]], dtype=torch.float64, requires_grad=True)
    res = broyden(lambda x, idx: lbs_points(x, skin(x), T) - xd.detach()[idx], xd.detach().clone(), tol=1e-13)
    x = attach_root_gradient(res.x, lambda x: lbs_points(x, skin(x), T) - xd)
    _, J = pointwise_jacobian(lambda x: lbs_points(x, skin(x), T), res.x)
    rows = torch.stack([torch.autograd.grad(x[0, k], xd, retain_graph=True)[0][0] for k in range(3)])
    assert torch.allclose(rows, torch.linalg.inv(J[0]), atol=1e-10)
    assert not torch.allclose(rows, torch.eye(3, dtype=torch.float64), atol=1e-2)


def test_snarf_forward_gradient_matches_finite_differences():
    torch.manual_seed(0)
    skin = TwoBoneWeights(width=0.15)
    m = _snarf(skin)
    T = transforms(torch.tensor(0.6, dtype=torch.float64))
    xd = torch.tensor([[0.2, 0.15, 0.05], [-0.2, 0.05, 0.1], [0.03, 0.02, -0.05]], dtype=torch.float64,
                      requires_grad=True)
    assert m.search(xd.detach(), T).valid.any(1).all()
    assert torch.autograd.gradcheck(lambda p: m(p, T), (xd,), eps=1e-6, atol=1e-5, rtol=1e-4)
    # gradients reach the skinning field through the roots
    m(xd, T).sum().backward()
    assert skin.shift.grad is not None and skin.shift.grad.abs() > 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pointwise_jacobian_of_linear_map(dtype):
    A = torch.tensor([[1.0, 2, 0], [0, 3, 1], [1, 0, 1]], dtype=dtype)
    x = torch.randn(4, 3, dtype=dtype)
    val, J = pointwise_jacobian(lambda p: p @ A.T, x)
    assert torch.allclose(val, x @ A.T)
    assert torch.allclose(J, A.expand(4, 3, 3))


def test_duplicate_roots_keeps_the_first_of_each_distinct_root():
    x = torch.tensor([[[0.0, 0, 0], [0.0, 0, 0.0005], [0.3, 0, 0]],    # 2nd repeats the 1st
                      [[0.0, 0, 0], [0.0, 0, 0.0], [0.0, 0, 0.0]]])    # the 1st is invalid
    valid = torch.tensor([[True, True, True], [False, True, True]])
    dup = duplicate_roots(x, valid)
    assert dup.tolist() == [[False, True, False], [False, False, True]]
