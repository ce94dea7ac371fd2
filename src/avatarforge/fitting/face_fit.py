"""Fit the body model's head to one photo's face landmarks, by analysis-by-synthesis.

Adam over identity (phenotypes + head/face local changes), expression (the 52 ARKit
actions), head and eye rotation and a perspective camera, minimising the robust
reprojection error of the 478 detected landmarks (with reliability weights from the
embedding; the facial features weigh more than the skin points), the lower face contour
with landmark marching on the far side of a turned head (:mod:`.ibug68`: the detected
outline there is the silhouette), DECA's eye- and mouth-closure relations, the detector's relative depth, and priors that keep the
parameters plausible. Two stages: rigid (camera + head rotation), then everything.
Deterministic: no randomness, fixed initialisation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.bodies.landmark_embedding import LandmarkEmbedding, load_embedding
from avatarforge.fitting.head_model import HeadModel
from avatarforge.fitting.ibug68 import (JAW, contour_lines, contour_lines_behind, far_side, fuse_with_detected, march,
                                        marched_jaw)
from avatarforge.perception.landmark_groups import EYE_PAIRS, FEATURES, IRIS, LIP_PAIRS, OVAL
from avatarforge.render.camera import Camera

__all__ = ["FaceFitConfig", "FaceFit", "FitState", "fit_face", "fit_face_state", "optimise", "CAMERA_ROTATION", "jaw_lines",
           "near_jaw_lines"]

#: World -> camera rotation of the fitting camera: it looks at the body's front (along -Z),
#: image x = world +X (the body's left appears on the image's right), image y = world -Y.
CAMERA_ROTATION = np.diag([1.0, -1.0, -1.0])


@dataclass
class FaceFitConfig:
    """Settings of :func:`fit_face`; the defaults run in about a second on a 2-core CPU."""

    rigid_steps: int = 60
    """Adam steps of the rigid stage (camera, head rotation)."""
    full_steps: int = 200
    """Adam steps of the full stage (everything)."""
    focal_factor: float = 1.2
    """Initial focal length in units of the image's longer side (~35 mm-equivalent lens)."""
    fit_focal: bool = True
    """Refine the focal length (with a log-normal prior around the initial one)."""
    adult_prior: bool = True
    """Start from, and pull weakly towards, a young adult (age 0.7, ~30 years) rather than
    Anny's mid-range 0.5 (a teenager); set False for photos of children."""
    regions: tuple[str, ...] = ("face", "head")
    """Local-change regions fitted (the rest stay at 0)."""
    w_features: float = 3.0
    """Weight of the facial-feature points (eye and lip contours, brows, nose lines:
    ``landmark_groups.FEATURES``, 116 of the 478) relative to the points on smooth skin, which
    the detector places from its shape prior more than from the photo. At 1 the ~300 skin
    points outvote the features: the fitted brows sat ~2 % of the eye-corner distance below
    the detected ones and the outer eye corners ~2 % outside them (bench_faces.py)."""
    w_contour: float = 0.5
    """Weight of the lower-face silhouette term."""
    w_closure: float = 2.0
    """Weight of the eye/mouth closure relations."""
    w_depth: float = 0.05
    """Weight of the detector's relative depth."""
    w_local: float = 2e-3
    """L2 prior on local changes."""
    w_phenotype: float = 1e-3
    """L2 prior on phenotypes (towards their start values)."""
    w_expression: float = 2e-3
    """L1 prior on facial actions."""
    w_eyes: float = 1e-4
    """L2 prior on eye rotation (degrees)."""
    contour_every: int = 10
    """Re-pick the silhouette correspondences every N steps."""
    march_fit: bool = True
    """Slide the far side's lower-contour model points to the silhouette in the fit."""
    solve_iterations: int = 0
    """Gauss-Newton iterations on the expression, head/eye rotation and translation after the
    Adam stages, the identity and focal held (:mod:`.face_solve`; a few ms each)."""


@dataclass
class FaceFit:
    """Result of :func:`fit_face`."""

    values: dict[str, float]
    """Fitted named parameters (phenotype, local, expression, pose.head.*, pose.eye.*)."""
    camera: Camera
    """Camera of the photo, in the full body's world frame."""
    landmarks_2d: np.ndarray
    """(478, 2) fitted model landmarks projected into the photo (pixels)."""
    ibug68_2d: np.ndarray
    """(68, 2) exported iBUG-68 landmarks (pixels): the fitted model's (:attr:`ibug68_model_2d`)
    fused with the detector's mapped points where those are closer to the 300-W convention
    (:func:`~avatarforge.fitting.ibug68.fuse_with_detected`: the features; the jaw is the model's)."""
    detected: np.ndarray
    """(478, 3) the detector's landmarks used."""
    rmse_px: float
    """Root-mean-square landmark reprojection error (non-contour landmarks), pixels."""
    seconds: float
    losses: list[float] = field(default_factory=list)
    ibug68_model_2d: np.ndarray | None = None
    """(68, 2) the fitted model's own iBUG-68 projected into the photo (pixels; far-side jaw
    marched to the silhouette, near-side jaw pushed out to the visible jaw line), before the
    fusion with the detector."""


def _robust(r: Tensor, delta: float = 0.01) -> Tensor:
    return torch.sqrt(r * r + delta * delta) - delta


class _Problem:
    """Everything that stays fixed during one fit."""

    def __init__(self, body, points: np.ndarray, image_size: tuple[int, int], cfg: FaceFitConfig,
                 emb: LandmarkEmbedding):
        self.body, self.cfg = body, cfg
        faces = body.faces.numpy()
        lm_vids = emb.vertex_ids(faces)  # (478, 3)
        self.oval = np.array(OVAL)
        rest = body.forward_params({})
        v = rest.vertices[0].numpy()
        j = dict(zip(body.joint_names, rest.joints[0].numpy()))
        eye_y = (j["eye.L"][1] + j["eye.R"][1]) / 2
        from avatarforge.bodies.head_mesh import head_faces

        head_v = np.unique(faces[head_faces(body, faces)])
        # Which oval points are on the lower (silhouette) contour: embedded below the eyes.
        lm_rest = (emb.bary[:, :, None] * v[lm_vids]).sum(1)
        self.lower_oval = self.oval[lm_rest[self.oval, 1] < eye_y]
        self.upper_oval = self.oval[lm_rest[self.oval, 1] >= eye_y]
        # Their marching lines: on a turned head the far side's detected outline is the
        # silhouette, reached by sliding each point inwards along its line (as the export).
        lines = contour_lines(v, head_v, lm_rest[self.lower_oval])
        self.oval_x = lm_rest[self.lower_oval, 0]
        ids = np.unique(np.concatenate([lm_vids.ravel(), *lines]))
        loc = [s.name for s in body.params if s.group == "local" and s.region in cfg.regions]
        local_ids = np.array([body.local_names.index(n) for n in loc])
        self.model = HeadModel(body, ids, local_ids)
        pos = {int(k): i for i, k in enumerate(ids)}
        self.lm_local = torch.as_tensor(np.vectorize(pos.get)(lm_vids), dtype=torch.long)
        self.bary = torch.as_tensor(emb.bary, dtype=torch.float32)
        self.line_local = [torch.as_tensor([pos[int(k)] for k in line], dtype=torch.long) for line in lines]
        # Reliability weights from the embedding's spread across identities.
        w = 1.0 / (1.0 + (emb.spread_mm / 3.0) ** 2)
        w[list(FEATURES)] *= cfg.w_features
        w[self.lower_oval] = 0.0  # handled by the silhouette term
        w[list(IRIS)] = 1.0
        self.w = torch.as_tensor(w, dtype=torch.float32)
        self.set_points(points)
        w_img, h_img = image_size
        self.size = (w_img, h_img)
        self.f0 = cfg.focal_factor * max(w_img, h_img)
        self.cxy = torch.tensor([w_img / 2, h_img / 2])
        self.rc = torch.as_tensor(CAMERA_ROTATION, dtype=torch.float32)
        self.local_idx = torch.as_tensor(local_ids, dtype=torch.long)
        self.n_local = len(body.local_names)

    def set_points(self, points: np.ndarray) -> None:
        """The detected landmarks to fit (a video tracker swaps them per frame)."""
        self.det = torch.as_tensor(points[:, :2], dtype=torch.float32)
        self.det_z = torch.as_tensor(points[:, 2], dtype=torch.float32)
        self.scale = float(np.linalg.norm(points[33, :2] - points[263, :2]))  # outer eye corners
        self.scale = max(self.scale, 1.0)

    def landmarks(self, verts: Tensor) -> Tensor:
        # l: landmark, k: corner
        return torch.einsum("blkc,lk->blc", verts[:, self.lm_local], self.bary)

    def project(self, pts: Tensor, t: Tensor, log_f: Tensor) -> tuple[Tensor, Tensor]:
        cam = pts * self.rc.diagonal() + t[:, None]  # rc is diagonal
        f = self.f0 * torch.exp(log_f)
        uv = f * cam[..., :2] / cam[..., 2:3] + self.cxy
        return uv, cam[..., 2]


def fit_face(points: np.ndarray, image_size: tuple[int, int], body=None,
             config: FaceFitConfig | None = None) -> FaceFit:
    """Fit ``body`` (default: the embedded Anny) to (478, 3) detected landmarks in pixels."""
    from avatarforge.util.threads import torch_threads

    with torch_threads(1):  # small tensors: one thread is faster and robust to CPU load
        return _fit_face(points, image_size, body, config)


def _fit_face(points, image_size, body, config) -> FaceFit:
    return fit_face_state(points, image_size, body, config)[2]


@dataclass
class FitState:
    """The fit's parameters as tensors (batch 1), for a tracker that continues from them."""

    t: Tensor
    head_rot: Tensor
    phen: Tensor
    local_sub: Tensor
    expr: Tensor
    eye_rot: Tensor
    log_f: Tensor

    def tensors(self, names: tuple[str, ...]) -> list[Tensor]:
        return [getattr(self, n) for n in names]


_LR = {"t": 0.004, "head_rot": 0.8, "phen": 0.02, "local_sub": 0.03, "expr": 0.03, "eye_rot": 1.0, "log_f": 0.01}
"""Adam learning rate of each parameter of :class:`FitState`."""


def fit_face_state(points, image_size, body=None, config=None) -> tuple[_Problem, FitState, FaceFit]:
    """:func:`fit_face`, also returning the fixed problem and the fitted tensors (so a video
    tracker can warm-start the next frame from them: :mod:`avatarforge.fitting.face_track`)."""
    from avatarforge.bodies import load_body

    start = time.perf_counter()
    cfg = config or FaceFitConfig()
    body = body or load_body()
    prob = _Problem(body, np.asarray(points, dtype=np.float64), image_size, cfg, load_embedding("mediapipe478"))
    torch.manual_seed(0)

    phen = torch.full((1, 6), 0.5)
    if cfg.adult_prior and "age" in body.phenotype_names:
        phen[0, body.phenotype_names.index("age")] = 0.7
    prob.phen0 = phen.clone()
    local_sub = torch.zeros(1, len(prob.local_idx))
    expr = torch.zeros(1, 52)
    head_rot = torch.zeros(1, 3)
    eye_rot = torch.zeros(1, 2, 3)
    log_f = torch.zeros(1)
    # Initial translation: put the model's landmark centroid on the detected one, at the
    # depth that matches the detected eye-corner distance.
    with torch.no_grad():
        verts, _ = prob.model(phen, _full_local(prob, local_sub), expr, head_rot, eye_rot)
        lm = prob.landmarks(verts)[0]
        model_eyes = float((lm[33] - lm[263]).norm())
        depth = prob.f0 * model_eyes / prob.scale
        c2d = prob.det.mean(0)
        cam_c = lm.mean(0) @ prob.rc.T
        t = torch.stack([(c2d[0] - prob.cxy[0]) * depth / prob.f0 - cam_c[0],
                         (c2d[1] - prob.cxy[1]) * depth / prob.f0 - cam_c[1],
                         depth - cam_c[2]])[None].clone()

    state = FitState(t, head_rot, phen, local_sub, expr, eye_rot, log_f)
    losses: list[float] = []
    optimise(prob, state, cfg.rigid_steps, ("t", "head_rot"), rigid=True, losses=losses)
    optimise(prob, state, cfg.full_steps,
             ("t", "head_rot", "phen", "local_sub", "expr", "eye_rot") + (("log_f",) if cfg.fit_focal else ()),
             losses=losses)
    if cfg.solve_iterations > 0:
        from avatarforge.fitting.face_solve import ExpressionPoseSolver

        solver = ExpressionPoseSolver(prob, phen, local_sub, log_f)
        x = ExpressionPoseSolver.pack(state)
        x, _ = solver.solve(x, *solver.contour(x), iterations=cfg.solve_iterations)
        ExpressionPoseSolver.unpack(x, state)
    fit = _result(prob, body, phen, local_sub, expr, head_rot, eye_rot, t, log_f, losses, time.perf_counter() - start)
    return prob, state, fit


def optimise(prob: _Problem, state: FitState, steps: int, names: tuple[str, ...], rigid: bool = False,
             losses: list[float] | None = None) -> None:
    """``steps`` Adam steps on the parameters ``names`` of ``state`` (in place); ``rigid``: the
    shape and expression are frozen, so the rest pose is evaluated once."""
    if steps <= 0:
        return
    cfg, s = prob.cfg, state
    params = s.tensors(names)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam([{"params": [p], "lr": _LR[n]} for n, p in zip(names, params)], foreach=True)
    if rigid:
        with torch.no_grad():
            rest_cache = prob.model.rest(s.phen, _full_local(prob, s.local_sub), s.expr)
    shape_frozen = "phen" not in names and "local_sub" not in names
    if shape_frozen and not rigid:  # only the expression changes the rest pose: linearly
        by_expression = prob.model.expression_rest(s.phen, _full_local(prob, s.local_sub))
    contour_match = None
    for step in range(steps):
        opt.zero_grad()
        if rigid:
            rest = rest_cache
        elif shape_frozen:
            rest = by_expression(s.expr)
        else:
            rest = prob.model.rest(s.phen, _full_local(prob, s.local_sub), s.expr)
        verts, _ = prob.model.pose(*rest, s.head_rot, s.eye_rot)
        if contour_match is None or step % cfg.contour_every == 0:
            contour_match = _pick_contour(prob, verts.detach(), s.t.detach(), s.log_f.detach())
        loss = _loss(prob, cfg, verts, s.t, s.log_f, s.phen, s.local_sub, s.expr, s.eye_rot, contour_match)
        loss.backward()
        opt.step()
        with torch.no_grad():
            s.phen.clamp_(0.0, 1.0)
            s.local_sub.clamp_(-1.0, 1.0)
            s.expr.clamp_(0.0, 1.0)
            s.eye_rot.clamp_(-30.0, 30.0)
            s.log_f.clamp_(-0.7, 0.7)
        if losses is not None:
            losses.append(float(loss.detach()))
    for p in params:
        p.requires_grad_(False)


def _full_local(prob: _Problem, local_sub: Tensor) -> Tensor:
    full = torch.zeros(local_sub.shape[0], prob.n_local)
    return full.index_copy(1, prob.local_idx, local_sub)


def _pick_contour(prob: _Problem, verts, t, log_f) -> tuple[Tensor, Tensor]:
    """Landmark marching, on the model and on the detection alike. For each lower-contour
    landmark on the side turned away from the camera: the vertex of its line on the model's
    silhouette (index into the slice) and, as its target, the detected face's silhouette at
    that landmark's height (:func:`_detected_silhouette`). Elsewhere (the near side, a head
    turned < 5 degrees) the pick is -1: the landmark's own point against its detection."""
    lm = prob.landmarks(verts)
    uv, z = prob.project(lm, t, log_f)
    picks = torch.full((len(prob.lower_oval),), -1, dtype=torch.long)
    targets = prob.det[prob.lower_oval].clone()
    side = far_side(z[0, prob.lower_oval].numpy(), prob.oval_x) if prob.cfg.march_fit else 0
    if side == 0:
        return picks, targets
    left_dir = (uv[0, 454] - uv[0, 234]).numpy()  # image direction of the subject's left
    left_dir = left_dir / max(float(np.linalg.norm(left_dir)), 1e-9)
    sil = _detected_silhouette(prob, side)
    for k, line in enumerate(prob.line_local):
        if len(line) and np.sign(prob.oval_x[k]) == side:
            line_uv, _ = prob.project(verts[:, line], t, log_f)
            picks[k] = line[march(line_uv[0].numpy(), side * left_dir)]
            targets[k] = sil[k]
    return picks, targets


def _detected_silhouette(prob: _Problem, side: int) -> Tensor:
    """:func:`detected_silhouette` of the problem's detected points."""
    sil = detected_silhouette(prob.det.numpy().astype(np.float64), prob.lower_oval, prob.scale, side)
    return torch.as_tensor(sil, dtype=prob.det.dtype)


def detected_silhouette(det: Float[np.ndarray, "N 2"], ids: np.ndarray, scale: float, side: int) -> Float[np.ndarray, "K 2"]:
    """The detected face's outline on ``side`` at the height of each landmark ``ids`` (the
    lower contour's): among the detected mesh points ``det`` (pixels; the irises, rows >= 468,
    excluded) within a band of that landmark's height (along the face's up direction, 4 % of
    ``scale``, the eye-corner distance), the one furthest out. MediaPipe's own oval points on
    a turned-away side lie inside this outline (its mesh is 3D: they are the hidden anatomical
    contour), so the model's silhouette is matched to the outline, not to them."""
    mesh = det[:468]
    left = mesh[454] - mesh[234]
    left = left / max(float(np.linalg.norm(left)), 1e-9)
    up = np.array([left[1], -left[0]])
    heights, out = mesh @ up, mesh @ (side * left)
    near = np.abs(heights[None, :] - heights[np.asarray(ids), None]) < 0.04 * scale  # (K, 468); each row holds its own point
    return mesh[np.argmax(np.where(near, out[None, :], -np.inf), axis=1)]


def _loss(prob, cfg, verts, t, log_f, phen, local_sub, expr, eye_rot, contour_match) -> Tensor:
    lm = prob.landmarks(verts)
    uv, z = prob.project(lm, t, log_f)
    s = prob.scale
    r = (uv[0] - prob.det).norm(dim=-1) / s
    loss = (prob.w * _robust(r)).sum() / prob.w.sum()
    picks, targets = contour_match
    model_contour = uv[0, prob.lower_oval]
    ok = picks >= 0
    if bool(ok.any()):
        marched, _ = prob.project(verts[:, picks[ok]], t, log_f)
        model_contour = model_contour.index_put((torch.nonzero(ok)[:, 0],), marched[0])
    rc = (model_contour - targets).norm(dim=-1) / s
    loss = loss + cfg.w_contour * _robust(rc).mean()
    closure = 0.0
    for pairs in (EYE_PAIRS, LIP_PAIRS):
        a, b = [p[0] for p in pairs], [p[1] for p in pairs]
        closure = closure + ((uv[0, a] - uv[0, b]) - (prob.det[a] - prob.det[b])).norm(dim=-1).mean() / s
    loss = loss + cfg.w_closure * closure
    if cfg.w_depth > 0:
        f = prob.f0 * torch.exp(log_f)
        zm = z[0].mean()
        zp = (z[0] - zm) * f / zm
        zd = prob.det_z - prob.det_z.mean()
        loss = loss + cfg.w_depth * _robust((zp - zd) / s).mean()
    loss = loss + cfg.w_local * (local_sub ** 2).sum() + cfg.w_phenotype * ((phen - prob.phen0) ** 2).sum()
    loss = loss + cfg.w_expression * expr.abs().sum() + cfg.w_eyes * (eye_rot ** 2).sum()
    if cfg.fit_focal:
        loss = loss + 0.01 * (log_f / 0.3) ** 2
    return loss.sum() if loss.dim() else loss


def _result(prob, body, phen, local_sub, expr, head_rot, eye_rot, t, log_f, losses, seconds) -> FaceFit:
    with torch.no_grad():
        local = _full_local(prob, local_sub)
        verts, _ = prob.model(phen, local, expr, head_rot, eye_rot)
        lm = prob.landmarks(verts)
        uv, _ = prob.project(lm, t, log_f)
        g = prob.model.ground_offset(phen, local, expr)[0]
    values: dict[str, float] = {}
    values.update(zip(body.phenotype_names, phen[0].tolist()))
    values.update(zip(body.local_names, local[0].tolist()))
    values.update(zip(body.expression_names, expr[0].tolist()))
    for axis, a in zip("xyz", head_rot[0].tolist()):
        values[f"pose.head.{axis}"] = a
    for side, rot in zip("LR", eye_rot[0].tolist()):
        for axis, a in zip("xyz", rot):
            values[f"pose.eye.{side}.{axis}"] = a
    f = float(prob.f0 * torch.exp(log_f))
    t_world = t[0].numpy().astype(np.float64) - CAMERA_ROTATION @ g.numpy().astype(np.float64)
    w_img, h_img = prob.size
    camera = Camera(CAMERA_ROTATION, t_world, w_img, h_img, f, f, w_img / 2, h_img / 2)
    uv = uv[0].numpy()
    ibug = load_embedding("ibug68")
    full = _full_vertices(body, values)
    lm_ib = ibug.points(torch.as_tensor(full), body.faces.numpy()).numpy()
    ib_proj = camera.project(lm_ib)
    lines, x_rest = jaw_lines(body)
    behind = near_jaw_lines(body)
    used = np.unique(np.concatenate(lines + behind))
    v_uv = np.zeros((len(full), 2))
    v_uv[used] = camera.project(full[used])[:, :2]
    ib_uv, _ = marched_jaw(ib_proj[:, :2], ib_proj[list(JAW), 2], x_rest, lines, v_uv, near_lines=behind)
    keep = np.setdiff1d(np.arange(478), prob.oval)
    rmse = float(np.sqrt(((uv[keep] - prob.det[keep].numpy()) ** 2).sum(-1).mean()))
    det = prob.det.numpy().astype(np.float64)
    return FaceFit(values, camera, uv, fuse_with_detected(ib_uv, det), np.column_stack([det, prob.det_z.numpy()]),
                   rmse, seconds, losses, ibug68_model_2d=ib_uv)


def _full_vertices(body, values) -> np.ndarray:
    return body.forward_params(values).vertices[0].numpy()


_LINES_CACHE: dict[int, tuple] = {}


def jaw_lines(body) -> tuple[list[np.ndarray], np.ndarray]:
    """The iBUG jaw points' marching lines on ``body``'s rest mesh (vertex ids, full mesh) and
    their rest x; the lines depend on the topology and the rest shape only, so once per body."""
    key = id(body)
    if key not in _LINES_CACHE:
        from avatarforge.bodies.head_mesh import head_faces

        rest = body.forward_params({}).vertices[0].numpy()
        faces = body.faces.numpy()
        anchors = load_embedding("ibug68").points(torch.as_tensor(rest), faces).numpy()[list(JAW)]
        head_v = np.unique(faces[head_faces(body, faces)])
        _LINES_CACHE[key] = (contour_lines(rest, head_v, anchors), anchors[:, 0],
                             contour_lines_behind(rest, head_v, anchors))
    return _LINES_CACHE[key][:2]


def near_jaw_lines(body) -> list[np.ndarray]:
    """The iBUG jaw points' lines just behind them on ``body``'s rest mesh (vertex ids, full
    mesh; :func:`~avatarforge.fitting.ibug68.contour_lines_behind`): where the near side's
    jaw points are pushed out to the visible jaw line of a turned head."""
    jaw_lines(body)
    return _LINES_CACHE[id(body)][2]
