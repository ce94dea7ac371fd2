"""The body fit's problem: fixed targets, optimised parameters, loss and initialisation.

Split from :mod:`.body_fit` (which holds the public config, result and the optimisation
loop) to keep each module small. Frames: the parts model's (:mod:`.body_fit_model`,
avatarforge axes, root's rest head at 0); the camera is ``x_cam = diag(1, -1, -1) x + t``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from jaxtyping import Float
from torch import Tensor

from avatarforge.errors import UserInputError
from avatarforge.fitting.body_fit_landmarks import BONES, LIMB_LANDMARKS, anchor_arrays
from avatarforge.fitting.body_fit_model import HINGES, BodyPartsModel, hinge_axes
from avatarforge.fitting.body_fit_silhouette import silhouette_target, silhouette_terms, surface_samples
from avatarforge.perception.pose import POSE_LANDMARK_NAMES, BodyPose
from avatarforge.util.geometry import axis_angle_to_matrix, umeyama

if TYPE_CHECKING:
    from avatarforge.fitting.body_fit import BodyFitConfig

__all__ = [
    "CAMERA_ROTATION", "FREE_JOINTS", "SPINE", "HINGE_LIMITS", "FitProblem", "FitParams", "fit_loss",
    "initial_root", "initial_translation",
]

#: World -> camera rotation of the fitting camera (as the face fit's): it looks at the body's
#: front along -Z, image x = world +X, image y = world -Y.
CAMERA_ROTATION = np.diag([1.0, -1.0, -1.0])

#: Joints with a free 3-DoF rotation, and their prior spread (degrees, per rotation-vector axis).
FREE_JOINTS: dict[str, float] = {
    "neck01": 20.0, "head": 25.0, "clavicle.L": 10.0, "clavicle.R": 10.0,
    "upperarm01.L": 70.0, "upperarm01.R": 70.0, "wrist.L": 35.0, "wrist.R": 35.0,
    "upperleg01.L": 45.0, "upperleg01.R": 45.0, "foot.L": 25.0, "foot.R": 25.0,
}
#: The torso bend is one rotation shared equally by these joints (a smooth curve: the photo's
#: shoulders and hips cannot tell the spine joints apart).
SPINE = ("spine05", "spine03", "spine01")
SPINE_PRIOR_DEG = 20.0
#: Flexion limits (degrees, relative to the rest pose) of the hinges. Anny's A-pose elbows are
#: already bent ~43 degrees, so the elbow can open by as much before it is straight.
HINGE_LIMITS = {"lowerarm01": (-43.0, 110.0), "lowerleg01": (-3.0, 150.0)}

# Per-landmark weights of the 2D term: the 12 limb joints count fully; the 11 face points,
# the 6 hand points and the 4 foot points share smaller budgets.
_GROUP_WEIGHT = {"face": 0.15, "hand": 0.15, "foot": 0.4, "limb": 1.0}


def _landmark_group(name: str) -> str:
    if name in LIMB_LANDMARKS:
        return "limb"
    if any(k in name for k in ("pinky", "index", "thumb")) and "foot" not in name:
        return "hand"
    if "heel" in name or "foot" in name:
        return "foot"
    return "face"


class FitProblem:
    """Everything that stays fixed during one fit."""

    def __init__(self, body, pose: BodyPose, image_size: tuple[int, int], cfg: "BodyFitConfig",
                 tight: np.ndarray | None = None):
        self.body, self.cfg = body, cfg
        rest = body.forward_params({})
        rest_v = rest.vertices[0].numpy().astype(np.float64)
        sil_ids = surface_samples(rest_v, cfg.silhouette_spacing)
        # The crown and the soles (generous bands: their extreme vertices move with the shape)
        # join the subset, so that the stature can be measured on it.
        top = np.flatnonzero(rest_v[:, 1] > rest_v[:, 1].max() - 0.03)
        soles = np.flatnonzero(rest_v[:, 1] < rest_v[:, 1].min() + 0.02)
        sil_ids = np.unique(np.concatenate([sil_ids, top, soles]))
        self.top = torch.as_tensor(np.searchsorted(sil_ids, top))
        self.soles = torch.as_tensor(np.searchsorted(sil_ids, soles))
        if cfg.stature_m is not None and not 0.5 <= cfg.stature_m <= 2.6:
            raise UserInputError(f"stature_m={cfg.stature_m} is not a standing height in metres: give 0.5-2.6")
        try:
            local_ids = np.array([body.local_names.index(n) for n in cfg.local_changes], dtype=np.int64)
        except ValueError as err:
            raise UserInputError(f"unknown local change in BodyFitConfig.local_changes: {err}") from None
        self.local_ids = local_ids
        self.model = BodyPartsModel(body, sil_ids, local_ids)
        a, f, o = anchor_arrays(body.joint_names, self.model.posed)
        self.anchor, self.frame = torch.as_tensor(a), torch.as_tensor(f)
        self.offset = torch.as_tensor(o, dtype=torch.float32)
        posed = self.model.posed
        self.slot = {j: k for k, j in enumerate(posed)}
        axes = hinge_axes(body, rest.joints[0].numpy().astype(np.float64))
        self.hinge_axes = torch.as_tensor(np.stack([axes[h] for h in HINGES]), dtype=torch.float32)
        lo_hi = [HINGE_LIMITS[h.split(".")[0]] for h in HINGES]
        self.hinge_lo = torch.deg2rad(torch.tensor([x[0] for x in lo_hi]))
        self.hinge_hi = torch.deg2rad(torch.tensor([x[1] for x in lo_hi]))
        self.free_sigma = torch.deg2rad(torch.tensor(list(FREE_JOINTS.values())))[:, None]

        # Detections, scaled to image_size if the pose came from a resized copy.
        w_img, h_img = image_size
        sx, sy = w_img / pose.image_size[0], h_img / pose.image_size[1]
        self.size = (int(w_img), int(h_img))
        self.det_px = np.asarray(pose.points, dtype=np.float64) * np.array([sx, sy])
        self.det = torch.as_tensor(self.det_px, dtype=torch.float32)
        # Hidden landmarks (a far arm in a side view) keep a reduced weight: the detector's
        # guess for them beats the prior alone (-9% joint error at 60-75 degree turns).
        vis = np.where(pose.visibility > cfg.min_visibility, pose.visibility, cfg.occluded_weight * pose.visibility)
        groups = [_landmark_group(n) for n in POSE_LANDMARK_NAMES]
        counts = {g: groups.count(g) for g in set(groups)}
        w = np.array([vis[k] * _GROUP_WEIGHT[g] * 12.0 / counts[g] if g != "limb" else vis[k]
                      for k, g in enumerate(groups)])
        self.w2d = torch.as_tensor(w / max(w.sum(), 1e-9), dtype=torch.float32)
        self.limb = torch.as_tensor([g == "limb" for g in groups])
        self.vis = torch.as_tensor(vis, dtype=torch.float32)
        self.seen = np.asarray(pose.visibility) > cfg.min_visibility
        used = self.det[torch.as_tensor(self.seen)]
        # The person's size in pixels: normalises every image-space distance.
        self.scale = float(max((used.max(0).values - used.min(0).values).max(), 1.0)) if len(used) else float(h_img)
        self.f0 = cfg.focal_factor * max(w_img, h_img)
        self.cxy = torch.tensor([w_img / 2, h_img / 2])
        self.rc = torch.as_tensor(CAMERA_ROTATION, dtype=torch.float32).diagonal()
        self.world = self._world_in_camera(pose.world)
        # Bone vectors as one matrix over the 33 landmarks: row b is +1 at the bone's end, -1
        # at its start (halves for the mid_* points).
        self.bone_matrix = torch.zeros(len(BONES), 33)
        bone_vis = []
        for k, (start, end) in enumerate(BONES):
            for name, sign in ((start, -1.0), (end, 1.0)):
                idx = self._lm_index(name)
                for i in idx:
                    self.bone_matrix[k, i] += sign / len(idx)
            bone_vis.append(min(float(self.vis[i]) for n in (start, end) for i in self._lm_index(n)))
        bw = torch.tensor(bone_vis)
        ok = bool(torch.isfinite(self.world).all())
        self.bone_w = bw / bw.sum().clamp_min(1e-9) if ok else torch.zeros_like(bw)

        self.sil = None
        if pose.mask is not None and cfg.w_silhouette > 0:
            self.sil = silhouette_target(pose.mask, self.size, tight=tight)

    # Landmarks addressed by name, with the midpoints used by the direction term.
    def _lm_index(self, name: str):
        if name.startswith("mid_"):
            part = name[4:]
            return (POSE_LANDMARK_NAMES.index(f"left_{part}"), POSE_LANDMARK_NAMES.index(f"right_{part}"))
        return (POSE_LANDMARK_NAMES.index(name),)

    def _world_in_camera(self, world: np.ndarray) -> Tensor:
        """mediapipe's world landmarks turned from the view through the hips to the camera's axes:
        the network sees a crop around the person, so its 3D is as seen along that ray."""
        hips = self.det[[POSE_LANDMARK_NAMES.index("left_hip"), POSE_LANDMARK_NAMES.index("right_hip")]].mean(0)
        ray = torch.cat([(hips - self.cxy) / self.f0, torch.ones(1)]).double()
        ray = ray / ray.norm()
        from avatarforge.bodies.poses import rotation_between

        r = rotation_between(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64), ray)
        return (torch.as_tensor(world, dtype=torch.float64) @ r.T).float()

    def points(self, joints: Tensor, G: Tensor) -> Tensor:
        """(B, 33, 3) the model's landmarks (parts-model frame) from posed joints and rotations."""
        # k: landmark, r/c: matrix row/column
        return joints[:, self.anchor] + torch.einsum("bkrc,kc->bkr", G[:, self.frame], self.offset)

    def project(self, pts: Tensor, t: Tensor, log_f: Tensor) -> Tensor:
        cam = pts * self.rc + t[:, None]  # the camera rotation is diagonal
        f = self.f0 * torch.exp(log_f)
        return f * cam[..., :2] / cam[..., 2:3] + self.cxy

    def directions(self, pts: Float[Tensor, "B 33 3"]) -> Float[Tensor, "B n 3"]:
        """Unit bone directions (:data:`BONES`) of landmarks ``pts`` given in world axes,
        expressed in camera axes."""
        # n: bone, k: landmark
        d = torch.einsum("nk,bkd->bnd", self.bone_matrix, pts * self.rc)
        return d / d.norm(dim=-1, keepdim=True).clamp_min(1e-9)

    def detected_directions(self) -> Float[Tensor, "1 n 3"]:
        """mediapipe's unit bone directions, camera axes (:meth:`_world_in_camera`)."""
        return self.directions(torch.nan_to_num(self.world)[None] * self.rc)


class FitParams:
    """The optimised tensors and how they become per-joint rotations."""

    def __init__(self, prob: FitProblem, phen0: Tensor, root0: Tensor):
        self.prob = prob
        self.root0 = root0  # (3, 3) initial root rotation; root_w turns it further
        self.root_w = torch.zeros(1, 3)
        self.spine_w = torch.zeros(1, 3)
        self.free_w = torch.zeros(1, len(FREE_JOINTS), 3)
        self.hinge = torch.zeros(1, len(HINGES))
        self.t = torch.zeros(1, 3)
        self.log_f = torch.zeros(1)
        self.phen = phen0.clone()
        self.phen0 = phen0.clone()
        self.local = torch.zeros(1, len(prob.local_ids))

    def rotations(self) -> Tensor:
        """(1, P, 3, 3) rotations in the parts model's posed-joint order."""
        prob = self.prob
        P = len(prob.model.posed)
        vecs: list[Tensor | None] = [None] * P
        for j in SPINE:
            vecs[prob.slot[j]] = self.spine_w[0] / len(SPINE)
        for k, j in enumerate(FREE_JOINTS):
            vecs[prob.slot[j]] = self.free_w[0, k]
        for k, j in enumerate(HINGES):
            vecs[prob.slot[j]] = prob.hinge_axes[k] * self.hinge[0, k]
        vecs[prob.slot["root"]] = self.root_w[0]
        zero = torch.zeros(3)
        mats = axis_angle_to_matrix(torch.stack([v if v is not None else zero for v in vecs]))
        root = mats[prob.slot["root"]] @ self.root0
        mats = torch.cat([mats[: prob.slot["root"]], root[None], mats[prob.slot["root"] + 1:]])
        return mats[None]

    def full_local(self) -> Tensor:
        full = torch.zeros(1, len(self.prob.body.local_names))
        return full.index_copy(1, torch.as_tensor(self.prob.local_ids), self.local) if len(self.prob.local_ids) else full


def _robust(r: Tensor, delta: float) -> Tensor:
    return torch.sqrt(r * r + delta * delta) - delta


def fit_loss(prob: FitProblem, p: FitParams, joints: Tensor, G: Tensor, verts: Tensor | None, target_dirs: Tensor,
          rest_verts: Tensor | None = None) -> Tensor:
    cfg = prob.cfg
    pts = prob.points(joints, G)
    uv = prob.project(pts, p.t, p.log_f)
    r = (uv[0] - prob.det).norm(dim=-1) / prob.scale
    loss = cfg.w_landmarks * (prob.w2d * _robust(r, 0.01)).sum()
    if cfg.w_directions > 0:
        d = prob.directions(pts)
        loss = loss + cfg.w_directions * (prob.bone_w * ((d[0] - target_dirs[0]) ** 2).sum(-1)).sum()
    if verts is not None and prob.sil is not None:
        uv_s = prob.project(verts, p.t, p.log_f)[0]
        outside, cover = silhouette_terms(uv_s, prob.sil)
        inside_term = _robust(outside / prob.scale, 0.004).mean()
        cover_r = _robust(cover / prob.scale, 0.004)
        bw = prob.sil.boundary_weight
        cover_term = cover_r.mean() if bw is None else (bw * cover_r).sum() / bw.sum().clamp_min(1.0)
        loss = loss + cfg.w_silhouette * ((1 - cfg.w_coverage) * inside_term + cfg.w_coverage * cover_term)
    # Priors: joint angles over their spreads; hinge limits; shape near its start.
    prior = ((p.free_w[0] / prob.free_sigma) ** 2).sum() + ((p.spine_w / np.radians(SPINE_PRIOR_DEG)) ** 2).sum()
    prior = prior + (p.hinge / np.radians(60.0)).pow(2).sum()
    loss = loss + cfg.w_pose_prior * prior
    if prob.cfg.stature_m is not None and rest_verts is not None:
        stature = rest_verts[0, prob.top, 1].max() - rest_verts[0, prob.soles, 1].min()
        loss = loss + 1e-3 * ((stature - prob.cfg.stature_m) / 0.01) ** 2
    limits = torch.relu(p.hinge[0] - prob.hinge_hi) + torch.relu(prob.hinge_lo - p.hinge[0])
    loss = loss + 10.0 * (limits ** 2).sum()
    loss = loss + cfg.w_shape_prior * (((p.phen - p.phen0) ** 2).sum() + (p.local ** 2).sum())
    if cfg.fit_focal:
        loss = loss + 0.01 * (p.log_f / 0.3).pow(2).sum()
    return loss


def initial_root(prob: FitProblem, rest_pts: np.ndarray) -> np.ndarray:
    """Root rotation putting the rest model's torso (shoulders, hips, nose) onto mediapipe's
    3D landmarks (camera axes -> world axes with the fixed camera rotation)."""
    names = ("left_shoulder", "right_shoulder", "left_hip", "right_hip", "nose")
    idx = [POSE_LANDMARK_NAMES.index(n) for n in names]
    world = prob.world.numpy().astype(np.float64)
    if not np.isfinite(world[idx]).all():
        return np.eye(3)
    dst = world[idx] * CAMERA_ROTATION.diagonal()  # camera axes -> world axes (diagonal, own inverse)
    return umeyama(rest_pts[idx], dst, np.array([1.0, 1.0, 1.0, 1.0, 0.5]), scale=False)[0]


def initial_translation(prob: FitProblem, pts: np.ndarray) -> np.ndarray:
    """Camera translation with the rotation known: linear least squares over the visible
    landmarks of ``u - cx = f (x + tx) / (z + tz)`` (and the same for y)."""
    cam = pts * CAMERA_ROTATION.diagonal()
    w = prob.w2d.numpy().astype(np.float64)
    uv = prob.det.numpy().astype(np.float64) - prob.cxy.numpy()
    f = prob.f0
    rows, rhs, ws = [], [], []
    for k in np.flatnonzero(w > 0):
        x, y, z = cam[k]
        rows += [[f, 0.0, -uv[k, 0]], [0.0, f, -uv[k, 1]]]
        rhs += [uv[k, 0] * z - f * x, uv[k, 1] * z - f * y]
        ws += [w[k], w[k]]
    sw = np.sqrt(np.array(ws))[:, None]
    t, *_ = np.linalg.lstsq(np.array(rows) * sw, np.array(rhs) * sw[:, 0], rcond=None)
    return t


