"""The body from the head (the thesis's body inference), with user overrides.

The head does not determine the body, so every phenotype can be given by the user; the
others are inferred. Adam adjusts the free phenotypes and the head/face local changes so
that the body model's own head keeps the fitted head's shape (squared vertex loss over the
head, centred), with priors that keep the values plausible. A stature in metres or a mass
in kilograms is reached by bisection on the height / weight phenotype (Anny's stature and
mass are monotonic in them), after which the head is matched again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from avatarforge.fitting.head_model import HeadModel

__all__ = ["BodyInference", "infer_body", "stature_m", "mass_kg", "AGE_YEARS", "age_param_from_years", "head_vertex_ids"]

#: Anny's age anchors (parameter value -> years of the MakeHuman target it blends to).
AGE_YEARS = ((0.0, 1.0), (1 / 3, 11.0), (2 / 3, 25.0), (1.0, 90.0))
DENSITY = 980.0  # kg/m^3, as Anny's anthropometry


def age_param_from_years(years: float) -> float:
    """Anny's age parameter for an age in years (piecewise linear between the anchors)."""
    p, y = zip(*AGE_YEARS)
    return float(np.interp(years, y, p))


def stature_m(out) -> float:
    """Standing height of a rest-pose body (soles at y = 0): its highest vertex."""
    return float(out.rest_vertices[0, :, 1].max() - out.rest_vertices[0, :, 1].min())


def mass_kg(out) -> float:
    """Mass from the closed mesh's volume at 980 kg/m^3 (Anny's convention)."""
    v = out.rest_vertices[0].double()
    f = out.faces
    vol = (torch.linalg.cross(v[f[:, 0]], v[f[:, 1]]) * v[f[:, 2]]).sum() / 6.0
    return float(vol.abs() * DENSITY)


@dataclass
class BodyInference:
    """Result of :func:`infer_body`."""

    values: dict[str, float]
    """Every parameter (the head's local changes re-matched, phenotypes inferred or given)."""
    inferred: list[str]
    """Phenotypes chosen by the inference."""
    given: list[str]
    """Phenotypes (and targets) the user fixed."""
    stature_m: float
    mass_kg: float
    head_rms_mm: float
    """RMS distance between the result's head and the fitted head (after centring)."""
    warnings: list[str] = field(default_factory=list)


def head_vertex_ids(body, every: int = 3) -> np.ndarray:
    """Every ``every``-th vertex id of the head region (``bodies.head_mesh.head_faces``), sorted."""
    from avatarforge.bodies.head_mesh import head_faces

    faces = body.faces.numpy()
    return np.unique(faces[head_faces(body, faces)])[::every]


def _bisect(body, values: dict, name: str, target: float, measure, steps: int = 14) -> tuple[float, bool]:
    spec = body.params[name]
    lo, hi = spec.low, spec.high
    at = lambda x: measure(body.forward_params({**values, name: x}))  # noqa: E731
    m_lo, m_hi = at(lo), at(hi)
    if not (min(m_lo, m_hi) <= target <= max(m_lo, m_hi)):
        best = lo if abs(m_lo - target) < abs(m_hi - target) else hi
        return best, False
    increasing = m_hi > m_lo
    for _ in range(steps):
        mid = (lo + hi) / 2
        if (at(mid) < target) == increasing:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2, True


def infer_body(
    body,
    head_values: Mapping[str, float],
    given: Mapping[str, float] | None = None,
    height_m: float | None = None,
    weight_kg: float | None = None,
    steps: int = 120,
) -> BodyInference:
    """Infer the body for a fitted head (``head_values`` from the face fit).

    ``given`` fixes phenotypes (e.g. ``{"gender": 0.0}``); ``height_m`` / ``weight_kg``
    fix the stature / mass (through the height / weight phenotypes).
    """
    from avatarforge.util.threads import torch_threads

    with torch_threads(1):  # small tensors: see util.threads
        return _infer_body(body, head_values, given, height_m, weight_kg, steps)


def _infer_body(body, head_values, given, height_m, weight_kg, steps) -> BodyInference:
    given = dict(body.params.validate(given or {}))
    values = dict(body.params.complete(head_values))
    values.update(given)
    warnings: list[str] = []
    fixed = set(given)
    targets = {n: t for n, t in {"height": (height_m, stature_m, "m"), "weight": (weight_kg, mass_kg, "kg")}.items()
               if t[0] is not None}
    for name in targets:
        if name in given:
            warnings.append(f"both a {name} parameter and a {name} target were given; the target wins")
        fixed.add(name)

    ids = head_vertex_ids(body)
    model = HeadModel(body, ids)
    t0 = body.tensors_from_params({k: v for k, v in head_values.items() if not k.startswith("pose.")})
    zeros_e, rot0, eye0 = torch.zeros_like(t0["expression"]), torch.zeros(1, 3), torch.zeros(1, 2, 3)
    with torch.no_grad():
        target, _ = model(t0["phenotype"], t0["local"], zeros_e, rot0, eye0)
        target = target - target.mean(1, keepdim=True)
    names = body.phenotype_names
    free = [i for i, n in enumerate(names) if n not in fixed]
    local_regions = {s.name for s in body.params if s.group == "local" and s.region in ("face", "head")}
    head_local = torch.tensor([i for i, n in enumerate(body.local_names) if n in local_regions])

    def apply_targets(final: bool) -> None:
        for name, (goal, measure, unit) in targets.items():
            values[name], reached = _bisect(body, values, name, float(goal), measure)
            if final and not reached:
                got = measure(body.forward_params(values))
                warnings.append(f"{name} target {goal} {unit} is outside what the model reaches "
                                f"for this body; using {got:.2f} {unit}")

    def match_head() -> float:
        phen = torch.tensor([[values[n] for n in names]])
        local = torch.tensor([[values[n] for n in body.local_names]])
        free_phen = phen[:, free].clone().requires_grad_(bool(free))
        loc_var = local[:, head_local].clone().requires_grad_(True)
        start_phen = free_phen.detach().clone()
        opt = torch.optim.Adam([{"params": [free_phen], "lr": 0.02}, {"params": [loc_var], "lr": 0.03}])

        def evaluate():
            p = phen.clone()
            p[:, free] = free_phen
            loc = local.index_copy(1, head_local, loc_var)
            verts, _ = model(p, loc, zeros_e, rot0, eye0)
            verts = verts - verts.mean(1, keepdim=True)
            return p, loc, ((verts - target) ** 2).sum(-1).mean()

        for _ in range(steps if fixed else 0):
            opt.zero_grad()
            _, _, err = evaluate()
            loss = err / 1e-6 + 1e-2 * (loc_var ** 2).sum() + 1e-1 * ((free_phen - start_phen) ** 2).sum()
            loss.backward()
            opt.step()
            with torch.no_grad():
                free_phen.clamp_(0.0, 1.0)
                loc_var.clamp_(-1.0, 1.0)
        with torch.no_grad():
            p, loc, err = evaluate()
        values.update(zip(names, p[0].tolist()))
        values.update(zip(body.local_names, loc[0].tolist()))
        values.update({k: v for k, v in given.items() if k not in targets})  # exact, not float32
        return float(err.sqrt() * 1000)

    # Targets and head matching pull on each other (e.g. age changes stature): alternate,
    # ending on the targets so that they hold exactly.
    for _ in range(2):
        apply_targets(final=False)
        head_rms = match_head()
    apply_targets(final=True)
    out = body.forward_params({k: v for k, v in values.items() if not k.startswith("pose.")})
    return BodyInference(
        values=values,
        inferred=[n for n in names if n not in fixed],
        given=sorted(fixed),
        stature_m=stature_m(out),
        mass_kg=mass_kg(out),
        head_rms_mm=head_rms,
        warnings=warnings,
    )
