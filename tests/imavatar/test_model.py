"""IMavatar's deformation, ray marching and implicit gradients (no body model needed)."""

import math

import numpy as np
import torch
from torch import nn

from avatarforge.imavatar.model import Frame, IMavatar, PriorGrid
from avatarforge.imavatar.raymarch import camera_rays, march, shade_rays
from avatarforge.render import Camera

BOUNDS = torch.tensor([[-0.15, -0.15, -0.15], [0.15, 0.15, 0.15]])


def _rigid(yaw_deg: float, t) -> torch.Tensor:
    a = math.radians(yaw_deg)
    T = torch.eye(4)
    T[:3, :3] = torch.tensor([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    T[:3, 3] = torch.as_tensor(t)
    return T


class _Sphere(nn.Module):
    """Occupancy logit of a sphere (radius 0.08 at the origin), sharp."""

    def forward(self, x, cond=None):
        # the field normalises x to [-1, 1] over BOUNDS (half-size 0.15)
        return 200.0 * (0.08 - 0.15 * x.norm(dim=-1))


def _sphere_model(n_init=2):
    model = IMavatar(PriorGrid(BOUNDS, (6, 6, 6)), hidden=16, layers=2, n_init=n_init, max_iter=30, tol=1e-6)
    model.occupancy = _Sphere()
    return model


def test_ray_marching_finds_a_moved_sphere():
    model = _sphere_model()
    T = _rigid(25.0, [0.02, -0.01, 0.03])
    frame = Frame(torch.zeros(52), T.expand(5, 4, 4).clone())  # every bone moves alike: a rigid motion
    centre = T[:3, 3]
    cam = Camera.look_at(centre.numpy() + np.array([0.05, 0.0, 0.5]), centre.numpy(), width=24, height=24, fov_y_deg=30)
    o, d = camera_rays(cam)
    res = march(model, o, d, frame, n_samples=16, n_secant=4)
    oc = o - centre
    b = (oc * d).sum(-1)
    disc = b * b - (oc * oc).sum(-1) + 0.08 ** 2
    expect_hit = disc > 1e-5
    assert res.hit.sum() > 50
    assert torch.equal(res.hit[disc.abs() > 2e-4], expect_hit[disc.abs() > 2e-4])
    t_true = -b - disc.clamp_min(0).sqrt()
    both = res.hit & expect_hit & (disc > 2e-4)
    assert (res.t_hit[both] - t_true[both]).abs().max() < 1e-3  # secant on a sharp field: sub-millimetre
    # the canonical correspondence of the surface point lies on the canonical sphere
    assert ((res.xc_hit[both].norm(dim=-1) - 0.08).abs().max()) < 1e-3


def test_surface_colour_gradient_reaches_the_texture_and_the_deformer():
    model = _sphere_model()
    frame = Frame(torch.zeros(52), torch.eye(4).expand(5, 4, 4).clone())
    cam = Camera.look_at((0.0, 0.0, 0.5), (0.0, 0.0, 0.0), width=8, height=8, fov_y_deg=30)
    o, d = camera_rays(cam)
    out = shade_rays(model, o, d, frame)
    assert out.hit.any()
    out.rgb.sum().backward()
    assert model.texture[0].weight.grad.abs().sum() > 0
    assert model.deformer.net[-1].bias.grad.abs().sum() > 0  # through the correspondence


def test_implicit_gradient_of_the_correspondence_matches_finite_differences():
    torch.manual_seed(0)
    prior = PriorGrid(BOUNDS, (5, 6, 7))
    with torch.no_grad():
        prior.grid.normal_(0.0, 0.01)  # small random blend shapes and weights
    model = IMavatar(prior, hidden=16, layers=2, n_init=1, max_iter=60, tol=1e-12).double()
    with torch.no_grad():
        model.deformer.net[-1].weight.normal_(0.0, 1e-3)
        model.deformer.net[-1].bias.normal_(0.0, 1e-3)
    expr = torch.zeros(52, dtype=torch.float64)
    expr[[3, 24]] = torch.tensor([0.7, 0.4], dtype=torch.float64)
    Ts = torch.stack([_rigid(a, [0.01 * a / 10, 0.0, 0.0]) for a in (0.0, 5.0, 12.0, 20.0, 20.0)]).double()
    frame = Frame(expr, Ts)
    xd = torch.tensor([[0.03, 0.05, 0.08], [-0.04, -0.02, 0.07], [0.0, 0.09, 0.0]], dtype=torch.float64)
    bias = model.deformer.net[-1].bias
    xc_star, valid = model.search(xd, frame)
    assert valid.all()
    xc = model.canonical(xc_star[:, 0], xd, frame, model.jacobian(xc_star[:, 0], frame))
    w = torch.tensor([0.3, -1.0, 0.5], dtype=torch.float64)
    for ch in (0, 24 * 3 + 1, 52 * 3 + 5, 52 * 3 + 108 + 2):  # a blend shape, jawOpen's y, a corrective, a weight
        (g,) = torch.autograd.grad((xc @ w).sum(), bias, retain_graph=True)
        eps = 1e-6
        vals = []
        for s in (1, -1):
            with torch.no_grad():
                bias[ch] += s * eps
                vals.append((model.search(xd, frame)[0][:, 0] @ w).sum())
                bias[ch] -= s * eps
        fd = (vals[0] - vals[1]) / (2 * eps)
        assert abs(float(g[ch]) - float(fd)) < 1e-6 + 1e-4 * abs(float(fd)), (ch, float(g[ch]), float(fd))


def test_per_frame_contraction_equals_the_full_deformation():
    """IMavatar.deform contracts the prior grid and the MLP's last layer with the frame's expression
    and pose before meeting the points (the ray marcher's fast path); it must equal contracting the
    per-point blend shapes, correctives and weights of Deformer.forward, frame after frame (the
    contracted grid is cached per expression)."""
    from avatarforge.implicit.skinning import lbs_points

    torch.manual_seed(1)
    prior = PriorGrid(BOUNDS, (5, 6, 7))
    with torch.no_grad():
        prior.grid.normal_(0.0, 0.01)
    model = IMavatar(prior, hidden=16, layers=2).double()
    with torch.no_grad():
        for p in model.deformer.net.parameters():
            p.normal_(0.0, 0.1)
    x = (torch.rand(200, 3, dtype=torch.float64) - 0.5) * 0.3
    Ts = torch.stack([_rigid(a, [0.01, -0.02, 0.005 * a]) for a in (0.0, 5.0, 12.0, 20.0, -8.0)]).double()
    for expr in (torch.rand(52, dtype=torch.float64), torch.rand(52, dtype=torch.float64), torch.zeros(52, dtype=torch.float64)):
        frame = Frame(expr, Ts)
        e, p, w = model.deformer(x)
        ref = lbs_points(x + torch.einsum("nkc,k->nc", e, expr) + torch.einsum("npc,p->nc", p, frame.pose), w, Ts)
        assert torch.allclose(model.deform(x, frame), ref, atol=1e-12)
    # a changed grid (e.g. a loaded checkpoint) is not served from the cache
    with torch.no_grad():
        prior.grid.mul_(2.0)
    e, p, w = model.deformer(x)
    ref = lbs_points(x + torch.einsum("nkc,k->nc", e, expr) + torch.einsum("npc,p->nc", p, frame.pose), w, Ts)
    assert torch.allclose(model.deform(x, frame), ref, atol=1e-12)
