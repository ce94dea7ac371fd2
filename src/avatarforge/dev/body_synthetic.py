"""Synthetic full-body photos with known ground truth, for testing and benchmarking the body
fit (and for calibrating its landmark definitions).

:func:`random_body_sample` draws a plausible standing pose and an adult shape as named
values; :func:`render_body_sample` renders it Lambert-shaded on a plain background with a
perspective camera that frames the whole body, in flat "clothing" colours (a top, trousers,
skin elsewhere): mediapipe's pose model detects such renders reliably, while a single flat
colour sometimes loses the arms in front of the torso.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from avatarforge.render.camera import Camera

__all__ = [
    "SyntheticBody", "FitErrors", "EVAL_JOINTS", "random_body_sample", "render_body_sample", "mirror_euler",
    "fit_errors", "true_landmarks_2d",
]


def mirror_euler(x: float, y: float, z: float) -> tuple[float, float, float]:
    """Euler XYZ angles of the left side -> the mirror (right side) rotation: M R M with
    M = diag(-1, 1, 1) keeps the X angle and negates Y and Z."""
    return x, -y, -z


def random_body_sample(body, rng: np.random.Generator, *, yaw_deg: float = 35.0) -> dict[str, float]:
    """Named values of a random adult in a random standing pose (arms and legs free, torso
    slightly bent and twisted, body turned by up to ``yaw_deg`` from facing the camera)."""
    u = rng.uniform
    values: dict[str, float] = {
        "gender": u(0, 1), "age": u(0.6, 0.9), "weight": u(0.2, 0.8), "muscle": u(0.2, 0.8),
        "height": u(0.3, 0.7), "proportions": u(0.0, 1.0),
    }

    def put(joint: str, x: float, y: float, z: float) -> None:
        for axis, a in zip("xyz", (x, y, z)):
            values[f"pose.{joint}.{axis}"] = float(a)

    put("root", u(-6, 6), u(-yaw_deg, yaw_deg), u(-5, 5))
    put("spine03", u(-4, 12), u(-12, 12), u(-8, 8))
    put("spine01", u(-4, 8), u(-8, 8), u(-5, 5))
    put("neck01", u(-10, 15), u(-20, 20), u(-8, 8))
    for side in "LR":
        # Left-side angles, mirrored for the right: +z raises the left arm / spreads the left leg.
        arm = (u(-60, 25), u(-25, 25), u(-25, 60))
        put(f"upperarm01.{side}", *(arm if side == "L" else mirror_euler(*arm)))
        # Elbow flexion is awkward in world Euler angles: rotate about the rest bend's normal.
        put(f"lowerarm01.{side}", *_elbow_euler(body, side, u(-20, 80)))
        leg = (u(-35, 12), u(-10, 10), u(-4, 18))
        put(f"upperleg01.{side}", *(leg if side == "L" else mirror_euler(*leg)))
        put(f"lowerleg01.{side}", u(0, 50), 0.0, 0.0)
        foot = (u(-10, 15), u(-10, 10), u(-5, 5))
        put(f"foot.{side}", *(foot if side == "L" else mirror_euler(*foot)))
    return values


_ELBOW_AXES: dict[tuple[int, str], np.ndarray] = {}


def _elbow_euler(body, side: str, flexion_deg: float) -> tuple[float, float, float]:
    """Euler XYZ of an elbow flexion by ``flexion_deg`` about the rest elbow's hinge axis (the
    fit's own elbow model: the benchmark's elbows are exactly representable)."""
    import torch

    from avatarforge.bodies.rotation import matrix_to_euler_xyz
    from avatarforge.fitting.body_fit_model import hinge_axes
    from avatarforge.util.geometry import axis_angle_to_matrix

    key = (id(body), side)
    if key not in _ELBOW_AXES:
        _ELBOW_AXES[key] = hinge_axes(body)[f"lowerarm01.{side}"]
    w = torch.as_tensor(_ELBOW_AXES[key] * np.radians(flexion_deg), dtype=torch.float64)
    return tuple(float(v) for v in matrix_to_euler_xyz(axis_angle_to_matrix(w)))


@dataclass
class SyntheticBody:
    """One rendered synthetic sample."""

    values: dict[str, float]
    """The body's named values (phenotypes and pose.*)."""
    camera: Camera
    """The camera that rendered it."""
    rgb: np.ndarray
    """(H, W, 3) uint8 render."""
    mask: np.ndarray
    """(H, W) bool: pixels covered by the body."""
    joints: np.ndarray
    """(J, 3) posed joint positions, world metres."""
    vertices: np.ndarray
    """(V, 3) posed vertices, world metres."""


_SKIN = np.array([0.93, 0.74, 0.62])


def _clothing_colors(body, rest_vertices: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Per-vertex colours (skin, a top over the torso and upper arms, trousers over the legs)
    and which vertices are clothed."""
    w = body.skin_weights.numpy()
    idx = body.skin_indices.numpy()
    names = body.joint_names

    def weight_of(pred) -> np.ndarray:
        ids = [i for i, n in enumerate(names) if pred(n)]
        return (w * np.isin(idx, ids)).sum(1)

    torso = weight_of(lambda n: n.startswith(("spine", "clavicle", "shoulder", "upperarm", "root", "pelvis")))
    legs = weight_of(lambda n: n.startswith(("upperleg", "lowerleg", "pelvis")))
    skin = np.clip(_SKIN * rng.uniform(0.45, 1.0), 0, 1)
    top = rng.uniform(0.1, 0.9, 3)
    trousers = rng.uniform(0.05, 0.6, 3)
    colors = np.tile(skin, (len(rest_vertices), 1))
    y = rest_vertices[:, 1]
    hip_y = rest_vertices[legs > 0.5, 1].max() if (legs > 0.5).any() else 0.9
    covered = (legs > 0.5) | (torso > 0.5)
    colors[(legs > 0.5) | ((y < hip_y) & (torso > 0.5))] = trousers
    colors[(torso > 0.5) & (y >= hip_y)] = top
    return colors, covered


def render_body_sample(
    body, values: dict[str, float], rng: np.random.Generator, *, size: tuple[int, int] = (512, 768),
    clothing: bool = True, thickness: float = 0.0,
) -> SyntheticBody:
    """Render ``values`` full-body, centred with a random focal length (fov 30-55 degrees),
    camera height and framing, a random light and a plain background.

    ``thickness`` (metres, with ``clothing``): the clothed vertices are pushed out along their
    normals by this much -- loose clothing (a coat, baggy trousers) over the true body, whose
    :attr:`SyntheticBody.vertices` and ``mask`` stay the unclothed ones."""
    from avatarforge.render import render_mesh

    out = body.forward_params(values)
    v = out.vertices[0].numpy().astype(np.float64)
    width, height = size
    lo, hi = v.min(0), v.max(0)
    centre = (lo + hi) / 2
    fov = rng.uniform(30, 55)
    f = 0.5 * height / np.tan(np.radians(fov) / 2)
    fill = rng.uniform(0.72, 0.88)  # body height / image height
    dist = f * (hi[1] - lo[1]) / (fill * height) + max(hi[2] - centre[2], 0.0)
    eye = np.array([centre[0] + rng.uniform(-0.1, 0.1), centre[1] + rng.uniform(-0.3, 0.3), centre[2] + dist])
    cam = Camera.look_at(eye, centre, width=width, height=height, fov_y_deg=fov)
    colors, covered = _clothing_colors(body, out.rest_vertices[0].numpy(), rng) if clothing else (None, None)
    light = np.array([rng.uniform(-0.6, 0.6), rng.uniform(0.0, 0.6), 1.0])
    bg = tuple(int(c) for c in rng.integers(90, 230, 3))
    shown = v
    if thickness > 0 and colors is not None:
        from avatarforge.util.geometry import vertex_normals

        shown = v + thickness * vertex_normals(v, out.faces.numpy()) * covered[:, None]
    res = render_mesh(shown, out.faces.numpy(), cam, vertex_colors=colors, base_color=tuple(_SKIN * 0.9),
                      light_dir=light / np.linalg.norm(light), background=(*bg, 255))
    mask = res.raster.mask.copy()
    if shown is not v:
        from avatarforge.render.raster import rasterize

        mask = rasterize(cam.project(v), out.faces.numpy(), height, width, perspective=cam.is_perspective).mask.copy()
    return SyntheticBody(dict(values), cam, res.rgba[..., :3].copy(), mask,
                         out.joints[0].numpy().astype(np.float64), v)


#: Joints compared by :func:`fit_errors` (shoulders, elbows, wrists, hips, knees, ankles, neck, head).
EVAL_JOINTS = (
    "upperarm01.L", "upperarm01.R", "lowerarm01.L", "lowerarm01.R", "wrist.L", "wrist.R",
    "upperleg01.L", "upperleg01.R", "lowerleg01.L", "lowerleg01.R", "foot.L", "foot.R", "neck01", "head",
)


@dataclass
class FitErrors:
    """How far a body fit is from a synthetic sample's truth."""

    joint_mm: np.ndarray
    """(len(EVAL_JOINTS),) 3D joint error in mm after the best similarity transform."""
    stature_cm: float
    """Fitted minus true stature (rest pose), cm."""
    landmark_px: float
    """Mean 2D distance between the fit's projected landmarks and the TRUE landmarks'
    projection (the 12 limb landmarks), pixels."""

    @property
    def mean_joint_mm(self) -> float:
        return float(self.joint_mm.mean())


def true_landmarks_2d(body, sample: SyntheticBody) -> np.ndarray:
    """(33, 2) the sample's own landmarks (calibrated anchors on the true body), projected."""
    from avatarforge.fitting.body_fit_landmarks import landmark_positions

    pts = landmark_positions(body.forward_params(sample.values))[0].numpy().astype(np.float64)
    return sample.camera.project(pts)[:, :2]


def fit_errors(body, sample: SyntheticBody, fit) -> FitErrors:
    """Compare a :class:`~avatarforge.fitting.body_fit.BodyFit` with the sample's truth."""
    from avatarforge.dev.face_synthetic import similarity_error
    from avatarforge.fitting.body_fit_landmarks import LIMB_LANDMARKS
    from avatarforge.fitting.body_from_head import stature_m
    from avatarforge.perception.pose import POSE_LANDMARK_NAMES

    ids = [body.joint_names.index(j) for j in EVAL_JOINTS]
    fitted = body.forward_params(fit.values)
    err = similarity_error(fitted.joints[0].numpy().astype(np.float64)[ids], sample.joints[ids]) * 1000
    shape = {k: v for k, v in sample.values.items() if not k.startswith("pose.")}
    true_stature = stature_m(body.forward_params(shape))
    limb = [POSE_LANDMARK_NAMES.index(n) for n in LIMB_LANDMARKS]
    px = np.linalg.norm(fit.landmarks_2d[limb] - true_landmarks_2d(body, sample)[limb], axis=1).mean()
    return FitErrors(err, (fit.stature_m - true_stature) * 100, float(px))
