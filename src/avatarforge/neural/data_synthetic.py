"""Synthetic training data: the body model, a procedural outfit, varied motion, several cameras.

Splits (for honest held-out evaluation, :data:`.dataset.SPLITS`):

* ``train``: training poses seen from the training cameras;
* ``unseen_poses``: poses from other random motions (other seeds), training cameras;
* ``unseen_views``: training poses seen from cameras between the training ones.

The outfit (:func:`procedural_albedo`) is painted on the body model's UV map from the rest-pose
position of each texel: skin, hair, a red shirt with white stripes and a yellow chest disc,
checked blue trousers and dark shoes -- enough high-frequency detail to tell a sharp model
from a blurry one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from avatarforge.neural.dataset import SPLITS, AvatarDataset, camera_to_row
from avatarforge.neural.motion import random_poses
from avatarforge.neural.part_maps import PART_NAMES, body_rig, render_ground_truth
from avatarforge.neural.skeleton import anny_keypoints
from avatarforge.render import Camera, interpolate, rasterize_uv, vertex_normals
from avatarforge.util.colour import float_to_uint8

__all__ = ["SyntheticConfig", "procedural_albedo", "ring_cameras", "make_synthetic"]


@dataclass
class SyntheticConfig:
    """What :func:`make_synthetic` renders."""

    size: int = 128
    """Image side in pixels."""
    train_azimuths: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0)
    """Training camera azimuths (degrees about +Y; 0 = in front of the body, on +Z)."""
    test_azimuths: tuple[float, ...] = (22.5, 112.5, 202.5, 292.5)
    """Held-out camera azimuths."""
    elevation: float = 10.0
    """Camera elevation in degrees."""
    distance: float = 2.9
    """Camera distance to the target in metres."""
    fov_y: float = 38.0
    """Vertical field of view in degrees."""
    train_sequences: int = 8
    """Random motion sequences of the training poses."""
    test_sequences: int = 4
    """Random motion sequences of the held-out poses (other seeds)."""
    frames_per_sequence: int = 20
    """Poses per sequence."""
    unseen_views_per_camera: int = 16
    """Training poses rendered from each held-out camera."""
    texture_size: int = 512
    """Side of the procedural albedo."""
    background: tuple[float, float, float] = (0.5, 0.5, 0.5)
    """Background colour."""
    seed: int = 0
    extra: dict = field(default_factory=dict)
    """Free-form notes copied into the data set's meta."""


def ring_cameras(azimuths, elevation: float, distance: float, size: int, fov_y: float = 38.0,
                 target=(0.0, 0.82, 0.0)) -> list[Camera]:
    """Perspective cameras on a ring around ``target``, looking at it."""
    cams = []
    el = math.radians(elevation)
    for az in azimuths:
        a = math.radians(az)
        eye = np.array(target) + distance * np.array([math.cos(el) * math.sin(a), math.sin(el), math.cos(el) * math.cos(a)])
        cams.append(Camera.look_at(eye, target, width=size, height=size, fov_y_deg=fov_y))
    return cams


def procedural_albedo(body_out, rig, size: int = 512) -> torch.Tensor:
    """(size, size, 3) float32 albedo on the body's UV map (row 0 = top, OBJ UVs)."""
    from scipy import ndimage

    raster = rasterize_uv(rig.uvs, rig.uv_faces, size)
    pos = interpolate(body_out.rest_vertices[0].float(), rig.faces, raster).numpy()  # rest position per texel
    tri = raster.triangle_id[raster.mask]
    part = rig.face_part[tri]
    x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
    names = np.array(PART_NAMES)[part]
    col = np.zeros((len(pos), 3), np.float32)
    skin = np.array([0.87, 0.67, 0.54])
    col[:] = skin
    joints = body_out.rest_joints_world[0, :, :3, 3].numpy()
    jn = body_out.joint_names
    eye_y = joints[jn.index("eye.L"), 1]
    head_z = joints[jn.index("head"), 2]
    hair = (names == "head") & ((y > eye_y + 0.045) | ((z < head_z - 0.02) & (y > eye_y - 0.08)))
    col[hair] = (0.28, 0.16, 0.08)
    shirt = np.isin(names, ["chest", "upperarm.L", "upperarm.R"]) | ((names == "pelvis") & (y > joints[0, 1] + 0.04))
    stripes = np.sin(2 * np.pi * y / 0.09) > 0.45
    col[shirt] = np.where(stripes[shirt, None], (0.95, 0.93, 0.85), (0.78, 0.12, 0.14))
    chest_y = joints[jn.index("spine01"), 1] - 0.02
    disc = shirt & (z > 0) & (x**2 + (y - chest_y) ** 2 < 0.07**2)
    col[disc] = (0.98, 0.82, 0.1)
    legs = np.isin(names, ["upperleg.L", "upperleg.R", "lowerleg.L", "lowerleg.R"]) | ((names == "pelvis") & ~shirt)
    check = (np.floor(x / 0.06) + np.floor(y / 0.06)) % 2 == 0
    col[legs] = np.where(check[legs, None], (0.16, 0.26, 0.6), (0.1, 0.15, 0.38))
    feet = np.isin(names, ["foot.L", "foot.R"])
    col[feet] = np.where((y[feet] < 0.025)[:, None], (0.92, 0.92, 0.92), (0.15, 0.12, 0.1))
    img = np.zeros((size * size, 3), np.float32)
    img[np.flatnonzero(raster.mask)] = col
    # Bleed colours into the texels no triangle covers (bilinear lookups near seams read them).
    _, (ii, jj) = ndimage.distance_transform_edt(~raster.mask, return_indices=True)
    img = img.reshape(size, size, 3)[ii, jj]
    return torch.from_numpy(img)


def _keypoints_and_vertices(body, poses, chunk: int = 32):
    base = body.tensors_from_params({})
    kps, verts = [], []
    with torch.no_grad():
        for s in range(0, len(poses), chunk):
            rot = torch.cat([body.tensors_from_params(p)["pose"] for p in poses[s : s + chunk]])
            o = body(base["phenotype"], base["local"], base["expression"], pose=rot)
            kps.append(anny_keypoints(o.joints, o.joint_names))
            verts.append(o.vertices)
    return torch.cat(kps).numpy(), torch.cat(verts)


def make_synthetic(config: SyntheticConfig | None = None, body=None, progress=None) -> AvatarDataset:
    """Render the synthetic data set of ``config`` (with ground-truth part/UV maps)."""
    from avatarforge.bodies import load_body

    cfg = config or SyntheticConfig()
    body = body or load_body()
    rest = body.forward_params({})
    rig = body_rig(rest)
    albedo = procedural_albedo(rest, rig, cfg.texture_size)
    rng = np.random.default_rng(cfg.seed)
    train_poses = random_poses(rng, cfg.train_sequences, cfg.frames_per_sequence)
    test_poses = random_poses(np.random.default_rng(cfg.seed + 1000), cfg.test_sequences, cfg.frames_per_sequence)
    kp_train, v_train = _keypoints_and_vertices(body, train_poses)
    kp_test, v_test = _keypoints_and_vertices(body, test_poses)
    v_train, v_test = list(v_train.unbind(0)), list(v_test.unbind(0))  # one object per pose
    train_cams = ring_cameras(cfg.train_azimuths, cfg.elevation, cfg.distance, cfg.size, cfg.fov_y)
    test_cams = ring_cameras(cfg.test_azimuths, cfg.elevation, cfg.distance, cfg.size, cfg.fov_y)
    jobs = []  # (vertices, keypoints, camera, split)
    for i in range(len(train_poses)):
        for cam in train_cams:
            jobs.append((v_train[i], kp_train[i], cam, 0))
    for i in range(len(test_poses)):
        for cam in train_cams:
            jobs.append((v_test[i], kp_test[i], cam, 1))
    for cam in test_cams:
        for i in rng.choice(len(train_poses), cfg.unseen_views_per_camera, replace=False):
            jobs.append((v_train[i], kp_train[i], cam, 2))
    n, s = len(jobs), cfg.size
    images = np.empty((n, s, s, 3), np.uint8)
    masks = np.empty((n, s, s), np.uint8)
    parts = np.empty((n, s, s), np.uint8)
    part_uv = np.empty((n, s, s, 2), np.float16)
    normals: dict[int, torch.Tensor] = {}
    for k, (v, _, cam, _) in enumerate(jobs):
        if id(v) not in normals:  # one pose, several cameras: normals once
            normals = {id(v): vertex_normals(v.float(), rig.faces)}
        gt = render_ground_truth(v, rig, cam, albedo, background=cfg.background, normals=normals[id(v)])
        images[k] = float_to_uint8(gt.rgb)
        masks[k] = float_to_uint8(gt.mask)
        parts[k] = gt.part
        part_uv[k] = gt.part_uv
        if progress is not None:
            progress(k + 1, n)
    meta = {"source": "synthetic", "config": {k: v for k, v in cfg.__dict__.items()},
            "counts": {name: int(sum(j[3] == i for j in jobs)) for i, name in enumerate(SPLITS)}}
    return AvatarDataset(
        images=images, masks=masks, joints=np.stack([j[1] for j in jobs]).astype(np.float32),
        cameras=np.stack([camera_to_row(j[2]) for j in jobs]), split=np.array([j[3] for j in jobs], np.uint8),
        background=np.asarray(cfg.background, np.float32), parts=parts, part_uv=part_uv, meta=meta,
    )
