"""Using a trained gDNA model: sample new people, interpolate, fit codes to a mesh, extract meshes.

* :func:`sample_codes`: shape/detail codes from the Gaussian fitted to the training codes
  (per-dimension mean and standard deviation: the auto-decoder's prior as learned), body size
  (beta) uniform in the phenotype ranges;
* :func:`interpolate_codes`: linear in (z_shape, z_detail, beta), endpoints exact;
* :func:`fit_codes`: optimise z_shape and beta to a posed mesh's occupancy (winding-number
  labels of the mesh with its boundary loops capped), then z_detail to its outer normals;
* :func:`extract_person`: marching cubes in the canonical A-pose or reposed (forward skinning),
  with the detail network's normals at the vertices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from jaxtyping import Float

from avatarforge.errors import UserInputError
from avatarforge.implicit.data import _train_points
from avatarforge.implicit.extract import extract_mesh, posed_box
from avatarforge.implicit.gdna import Codes
from avatarforge.implicit.gdna_data import (
    PHENOTYPE_RANGES, close_boundaries, outer_surface_samples, phenotype_values, skeleton,
)
from avatarforge.implicit.gdna_train import GdnaModel
from avatarforge.implicit.winding import winding_number

__all__ = ["PersonMesh", "FitResult", "identity_codes", "sample_codes", "interpolate_codes", "extract_person",
           "fit_codes", "code_prior", "drop_floaters"]


@dataclass
class PersonMesh:
    """An extracted surface with the detail network's unit normals per vertex."""

    vertices: Float[np.ndarray, "V 3"]
    faces: np.ndarray
    normals: Float[np.ndarray, "V 3"]


@dataclass
class FitResult:
    """Codes fitted to a mesh and the optimisation's record."""

    codes: Codes
    bce: list[float]
    """Occupancy BCE per shape step."""
    normal_cos: list[float]
    """Mean cosine to the mesh's normals per detail step."""
    accuracy: float
    """Share of the fitting points whose occupancy the fitted codes get right."""


def identity_codes(model: GdnaModel, which: str | int) -> Codes:
    """The codes of a training identity, by name (``id003``) or index."""
    names = model.names
    if isinstance(which, str) and which in names:
        k = names.index(which)
    else:
        try:
            k = int(which)
        except ValueError:
            raise UserInputError(f"unknown identity {which!r}: give a name ({names[0]}..{names[-1]}) "
                                 f"or an index 0..{len(names) - 1}") from None
        if not 0 <= k < len(names):
            raise UserInputError(f"identity index {k} out of range 0..{len(names) - 1}")
    net = model.net
    return Codes(net.z_shape.weight[k].detach().clone(), net.z_detail.weight[k].detach().clone(),
                 torch.as_tensor(model.betas[k]).clone())


def code_prior(model: GdnaModel) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std of the training shape codes, then of the detail codes."""
    zs, zd = model.net.z_shape.weight.detach(), model.net.z_detail.weight.detach()
    sd = (lambda z: z.std(0, unbiased=False) if len(z) > 1 else torch.full_like(z[0], 0.01))  # noqa: E731
    return zs.mean(0), sd(zs), zd.mean(0), sd(zd)


def sample_codes(model: GdnaModel, n: int, seed: int = 0) -> list[Codes]:
    """``n`` new people from the prior (see the module docstring)."""
    g = torch.Generator().manual_seed(seed)
    ms, ss, md, sdd = code_prior(model)
    lo = torch.tensor([r[1] for r in PHENOTYPE_RANGES])
    hi = torch.tensor([r[2] for r in PHENOTYPE_RANGES])
    return [Codes(ms + ss * torch.randn(ms.shape, generator=g), md + sdd * torch.randn(md.shape, generator=g),
                  lo + (hi - lo) * torch.rand(lo.shape, generator=g)) for _ in range(n)]


def interpolate_codes(a: Codes, b: Codes, steps: int) -> list[Codes]:
    """``steps`` (>= 2) codes from ``a`` to ``b`` linearly; the first is ``a``, the last ``b``."""
    if steps < 2:
        raise UserInputError("interpolation needs at least 2 steps")
    out = []
    for i in range(steps):
        t = i / (steps - 1)
        out.append(Codes(torch.lerp(a.z_shape, b.z_shape, t), torch.lerp(a.z_detail, b.z_detail, t),
                         torch.lerp(a.beta, b.beta, t)))
    out[0], out[-1] = a, b
    return out


def extract_person(model: GdnaModel, codes: Codes, pose: dict[str, float] | None = None,
                   resolution: int = 64, min_component: float = 0.1) -> PersonMesh:
    """The person's surface in ``pose`` (None or {}: the canonical A-pose) by marching cubes,
    without floaters (components under ``min_component`` of the largest; 0 keeps them)."""
    net = model.net
    beta = codes.beta.float()
    with torch.no_grad():
        if not pose:
            v, f = extract_mesh(lambda x: net.canonical(x, beta, codes.z_shape)[0], net.bounds.double().numpy(),
                                resolution, min_component=min_component)
            if not len(f):
                return PersonMesh(v, f, np.zeros_like(v))
            n = net.canonical_normals(torch.as_tensor(v, dtype=torch.float32), beta, codes.z_shape, codes.z_detail)
            return PersonMesh(v, f, n.numpy().astype(np.float64))
    T, bones = skeleton(phenotype_values(beta.numpy()), pose)
    Tt, bt = torch.as_tensor(T, dtype=torch.float32), torch.as_tensor(bones, dtype=torch.float32)
    with torch.no_grad():
        v, f = extract_mesh(lambda x: net.posed(x, Tt, bt, beta, codes.z_shape), posed_box(bones, T), resolution,
                                min_component=min_component)
    if not len(f):
        return PersonMesh(v, f, np.zeros_like(v))
    vt = torch.as_tensor(v, dtype=torch.float32)
    xb, ok = net.surface_roots(vt, Tt, bt, beta, codes.z_shape)
    with torch.no_grad():
        n = net.posed_normals(xb, Tt, beta, codes.z_shape, codes.z_detail)
    n[~ok] = 0.0
    return PersonMesh(v, f, n.numpy().astype(np.float64))


def drop_floaters(person: PersonMesh, min_fraction: float = 0.1) -> PersonMesh:
    """``person`` without its small connected components (their vertices' normals dropped too)."""
    from avatarforge.implicit.extract import drop_small_components

    if not len(person.faces):
        return person
    v, f, kept = drop_small_components(person.vertices, person.faces, min_fraction)
    return PersonMesh(v, f, person.normals[kept])


def fit_codes(model: GdnaModel, vertices: Float[np.ndarray, "V 3"], faces: np.ndarray,
              pose: dict[str, float] | None = None, steps: int = 150, detail_steps: int = 50, points: int = 1024,
              seed: int = 0, fit_beta: bool = True, beta: np.ndarray | None = None,
              progress: Callable[[int, int], None] | None = None) -> FitResult:
    """Codes (z_shape, beta, then z_detail) making the model reproduce the posed mesh.

    The mesh is in metres, y up, in ``pose`` (None: the rest A-pose) of the body model. Codes
    start at the mean training code and beta at ``beta`` (default the mean training body); the
    bones of ``pose`` are those of that starting body. ``fit_beta=False`` keeps beta fixed."""
    net = model.net
    rng = np.random.default_rng(seed)
    v = np.asarray(vertices, np.float64)
    f = np.asarray(faces, np.int64)
    cv, cf = close_boundaries(v, f)
    pool = _train_points(rng, v, f, 8 * points)
    labels = torch.as_tensor(winding_number(pool, cv, cf) > 0.5, dtype=torch.float32)
    pool_t = torch.as_tensor(pool, dtype=torch.float32)
    beta0 = model.betas.mean(0) if beta is None else np.asarray(beta, np.float32)
    T, bones = skeleton(phenotype_values(beta0), pose)
    Tt, bt = torch.as_tensor(T, dtype=torch.float32), torch.as_tensor(bones, dtype=torch.float32)
    ms, _, md, _ = code_prior(model)
    z = ms.clone().requires_grad_(True)
    b = torch.as_tensor(beta0, dtype=torch.float32).clone().requires_grad_(fit_beta)
    groups = [{"params": [z], "lr": 2e-2}] + ([{"params": [b], "lr": 1e-2}] if fit_beta else [])
    opt = torch.optim.Adam(groups)
    for p in net.parameters():
        p.requires_grad_(False)
    lo = torch.tensor([r[1] for r in PHENOTYPE_RANGES])
    hi = torch.tensor([r[2] for r in PHENOTYPE_RANGES])
    bces, coss = [], []
    total = steps + detail_steps
    try:
        for i in range(steps):
            sel = torch.as_tensor(rng.integers(0, len(pool), points))
            logits = net.posed(pool_t[sel], Tt, bt, b, z)
            loss = F.binary_cross_entropy_with_logits(logits, labels[sel]) + model.train.prior_weight * z.pow(2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            with torch.no_grad():
                b.copy_(torch.minimum(torch.maximum(b, lo), hi))
            bces.append(float(loss.detach()))
            if progress:
                progress(i + 1, total)
        zd = md.clone().requires_grad_(True)
        if detail_steps:
            sp, sn = outer_surface_samples(rng, v, f, cv, cf, 4 * points)
            sp_t, sn_t = torch.as_tensor(sp, dtype=torch.float32), torch.as_tensor(sn, dtype=torch.float32)
            xb, ok = net.surface_roots(sp_t, Tt, bt, b.detach(), z.detach())
            xb, sn_t = xb[ok], sn_t[ok]
            opt_d = torch.optim.Adam([zd], lr=2e-2)
            for i in range(detail_steps):
                sel = torch.as_tensor(rng.integers(0, len(xb), points)) if len(xb) else None
                if sel is None:
                    break
                n = net.posed_normals(xb[sel], Tt, b.detach(), z.detach(), zd)
                cos = (n * sn_t[sel]).sum(-1).mean()
                loss = 1 - cos + model.train.prior_weight * zd.pow(2).sum()
                opt_d.zero_grad()
                loss.backward()
                opt_d.step()
                coss.append(float(cos.detach()))
                if progress:
                    progress(steps + i + 1, total)
        with torch.no_grad():
            sel = torch.as_tensor(rng.integers(0, len(pool), 4 * points))
            acc = float(((net.posed(pool_t[sel], Tt, bt, b, z) > 0).float() == labels[sel]).float().mean())
    finally:
        for p in net.parameters():
            p.requires_grad_(True)
    return FitResult(Codes(z.detach(), zd.detach(), b.detach()), bces, coss, acc)
