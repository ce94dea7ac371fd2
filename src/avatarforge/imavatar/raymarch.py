"""Non-rigid ray marching of a :class:`.model.HeadField` and the differentiable surface point.

Per ray: samples in deformed space inside the head's bounding sphere, each mapped to canonical
space by the field's correspondence search (Broyden from several initialisations; the occupancy
of a deformed point is the max over its valid correspondences); the first sign change of the
occupancy logit is refined by secant steps. Gradients reach the networks through the surface
point (the IDR/IMavatar formula: t = t* - (f - stop_grad f) / (df/dt)) and through the
correspondence (implicit differentiation, :mod:`avatarforge.implicit.implicit_grad`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Bool, Float
from torch import Tensor

from avatarforge.imavatar.model import Frame, HeadField
from avatarforge.implicit.model import NO_ROOT_LOGIT
from avatarforge.render import Camera

__all__ = ["camera_rays", "March", "march", "RayOutput", "shade_rays", "render_image"]


def camera_rays(camera: Camera, pixels: np.ndarray | None = None) -> tuple[Float[Tensor, "R 3"], Float[Tensor, "R 3"]]:
    """World origins and unit directions of rays through pixel centres ``pixels`` ((R, 2) integer (x, y), default
    every pixel in row-major order) of a perspective camera."""
    if pixels is None:
        ys, xs = np.mgrid[0:camera.height, 0:camera.width]
        pixels = np.stack([xs.ravel(), ys.ravel()], 1)
    p = np.asarray(pixels, np.float64) + 0.5
    d_cam = np.stack([(p[:, 0] - camera.cx) / camera.fx, (p[:, 1] - camera.cy) / camera.fy, np.ones(len(p))], 1)
    d = d_cam @ camera.R  # camera -> world: R^T d
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    o = np.tile(camera.position, (len(d), 1))
    return torch.as_tensor(o, dtype=torch.float32), torch.as_tensor(d, dtype=torch.float32)


@dataclass
class March:
    """Result of :func:`march` for R rays (no gradient)."""

    hit: Bool[Tensor, " R"]
    t_hit: Float[Tensor, " R"]
    xc_hit: Float[Tensor, "R 3"]
    """Canonical correspondence of the surface point (valid where ``hit``)."""
    t_max: Float[Tensor, " R"]
    """Sample of largest occupancy along the ray (for the mask loss)."""
    xc_max: Float[Tensor, "R 3"]
    valid_max: Bool[Tensor, " R"]


@torch.no_grad()
def _occupancy(field: HeadField, xd: Tensor, frame: Frame) -> tuple[Tensor, Tensor]:
    """Logit (max over valid correspondences) and the arg-max canonical point of deformed points."""
    xc, valid = field.search(xd, frame)
    n, k, _ = xc.shape
    logit = torch.full((n, k), NO_ROOT_LOGIT)
    if valid.any():
        logit[valid] = field.occ(xc[valid], frame)
    best = logit.argmax(1)
    return logit[torch.arange(n), best], xc[torch.arange(n), best]


@torch.no_grad()
def march(field: HeadField, o: Float[Tensor, "R 3"], d: Float[Tensor, "R 3"], frame: Frame, n_samples: int = 12,
          n_secant: int = 2) -> March:
    """Find each ray's first surface crossing (see the module docstring)."""
    r = o.shape[0]
    c, rad = field.centre(frame), field.radius()
    oc = o - c
    b = (oc * d).sum(-1)
    disc = b * b - (oc * oc).sum(-1) + rad * rad
    inside = disc > 0
    sq = disc.clamp_min(0).sqrt()
    near, far = (-b - sq).clamp_min(0), -b + sq
    out = March(torch.zeros(r, dtype=torch.bool), torch.zeros(r), torch.zeros(r, 3), torch.zeros(r), torch.zeros(r, 3),
                torch.zeros(r, dtype=torch.bool))
    idx = inside.nonzero().squeeze(1)
    if idx.numel() == 0:
        return out
    m = idx.numel()
    ts = near[idx, None] + (far[idx] - near[idx])[:, None] * torch.linspace(0, 1, n_samples)[None]  # (m, S)
    pts = o[idx, None] + ts[..., None] * d[idx, None]
    logit, xc = _occupancy(field, pts.reshape(-1, 3), frame)
    logit, xc = logit.view(m, n_samples), xc.view(m, n_samples, 3)
    # mask-loss sample: the largest occupancy along the ray
    j = logit.argmax(1)
    ar = torch.arange(m)
    out.t_max[idx], out.xc_max[idx] = ts[ar, j], xc[ar, j]
    out.valid_max[idx] = logit[ar, j] > NO_ROOT_LOGIT
    # first crossing outside -> inside
    pos = logit > 0
    first = torch.where(pos.any(1), pos.float().argmax(1), torch.full((m,), -1))
    ok = first > 0
    if ok.any():
        rows = ar[ok]
        f = first[ok]
        t_lo, t_hi = ts[rows, f - 1], ts[rows, f]
        l_lo, l_hi = logit[rows, f - 1], logit[rows, f]
        x_hi = xc[rows, f]
        ray = idx[rows]
        t_best, x_best = t_hi.clone(), x_hi.clone()
        for _ in range(n_secant):
            t_mid = t_lo + (t_hi - t_lo) * l_lo / (l_lo - l_hi).clamp_max(-1e-6)
            lm, xm = _occupancy(field, o[ray] + t_mid[:, None] * d[ray], frame)
            inside_m = lm > 0
            t_hi, l_hi = torch.where(inside_m, t_mid, t_hi), torch.where(inside_m, lm, l_hi)
            t_lo, l_lo = torch.where(inside_m, t_lo, t_mid), torch.where(inside_m, l_lo, lm)
            good = lm > NO_ROOT_LOGIT
            t_best, x_best = torch.where(good, t_mid, t_best), torch.where(good[:, None], xm, x_best)
        out.hit[ray], out.t_hit[ray], out.xc_hit[ray] = True, t_best, x_best
    return out


@dataclass
class RayOutput:
    """Differentiable outputs of :func:`shade_rays` for R rays."""

    rgb: Float[Tensor, "R 3"]
    """Colour of the surface point (0 where there is none)."""
    hit: Bool[Tensor, " R"]
    mask_logit: Float[Tensor, " R"]
    """Occupancy logit of the ray's most occupied sample (the mask loss's input)."""
    canonical: Float[Tensor, "M 3"]
    """Canonical surface points (for the morphable-model agreement loss)."""


def _occ_grad(field: HeadField, xc: Tensor, frame: Frame) -> Tensor:
    with torch.enable_grad():
        x = xc.detach().requires_grad_(True)
        (g,) = torch.autograd.grad(field.occ(x, frame).sum(), x)
    return g


def shade_rays(field: HeadField, o: Float[Tensor, "R 3"], d: Float[Tensor, "R 3"], frame: Frame,
               n_samples: int = 12, n_secant: int = 2, need_mask: bool = True) -> RayOutput:
    """March the rays and evaluate, with gradients, the surface colour and the mask logit."""
    res = march(field, o, d, frame, n_samples, n_secant)
    r = o.shape[0]
    rgb = torch.zeros(r, 3)
    canon = torch.zeros(0, 3)
    h = res.hit.nonzero().squeeze(1)
    if h.numel():
        xc_star = res.xc_hit[h]
        jac = field.jacobian(xc_star, frame)
        xd0 = o[h] + res.t_hit[h, None] * d[h]
        xc_a = field.canonical(xc_star, xd0, frame, jac)
        logit = field.occ(xc_a, frame)
        g_c = _occ_grad(field, xc_star, frame)
        g_d = torch.linalg.solve(jac.transpose(1, 2), g_c.unsqueeze(-1)).squeeze(-1)  # J^-T grad_c f
        dl_dt = (g_d * d[h]).sum(-1)
        dl_dt = torch.where(dl_dt.abs() < 1e-3, torch.full_like(dl_dt, 1e-3), dl_dt)
        t = res.t_hit[h] - (logit - logit.detach()) / dl_dt
        xd = o[h] + t[:, None] * d[h]
        canon = field.canonical(xc_star, xd, frame, jac)
        normal = g_d / g_d.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        rgb = rgb.index_put((h,), field.colour(canon, -normal, frame))  # grad of occupancy points inwards
    mask_logit = torch.full((r,), NO_ROOT_LOGIT)
    v = res.valid_max.nonzero().squeeze(1)
    if need_mask and v.numel():
        xc_star = res.xc_max[v]
        xd = o[v] + res.t_max[v, None] * d[v]
        xc = field.canonical(xc_star, xd, frame, field.jacobian(xc_star, frame))
        mask_logit = mask_logit.index_put((v,), field.occ(xc, frame))
    return RayOutput(rgb, res.hit, mask_logit, canon)


def render_image(field: HeadField, camera: Camera, frame: Frame, n_samples: int = 12, chunk: int = 4096,
                 background: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Render a frame: (H, W, 3) uint8 RGB and (H, W) bool mask (rays that hit the surface)."""
    o, d = camera_rays(camera)
    rgb = torch.full((o.shape[0], 3), background)
    hit = torch.zeros(o.shape[0], dtype=torch.bool)
    for s in range(0, o.shape[0], chunk):
        out = shade_rays(field, o[s:s + chunk], d[s:s + chunk], frame, n_samples, need_mask=False)
        rgb[s:s + chunk][out.hit] = out.rgb.detach()[out.hit]
        hit[s:s + chunk] = out.hit
    img = (rgb.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8).reshape(camera.height, camera.width, 3)
    return img, hit.numpy().reshape(camera.height, camera.width)
