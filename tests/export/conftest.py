"""Synthetic rigged meshes for the exporter tests, and the glTF-validator skip/fail policy."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from avatarforge.export import RiggedMesh

BAR_HEIGHT = 2.0
BAR_RADIUS = 0.1
N_AROUND = 8
N_RINGS = 8  # no ring at y = 1, so no vertex has v = 0.5 exactly (the texture's colour edge)


def texture_quadrants(height: int = 32, width: int = 64) -> np.ndarray:
    """(H, W, 3) uint8, row 0 at the top: top-left red, top-right green, bottom-left blue,
    bottom-right yellow."""
    tex = np.zeros((height, width, 3), dtype=np.uint8)
    top, left = slice(0, height // 2), slice(0, width // 2)
    bottom, right = slice(height // 2, height), slice(width // 2, width)
    tex[top, left] = (255, 0, 0)
    tex[top, right] = (0, 255, 0)
    tex[bottom, left] = (0, 0, 255)
    tex[bottom, right] = (255, 255, 0)
    return tex


def _tube() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Capped tube along +Y: vertices, faces (CCW from outside), uvs, uv_faces.

    The side is unwrapped on the left half of the atlas (u in [0, 0.5], seam at theta = 0 where
    u = 0 and u = 0.5 meet), the caps on the right half (bottom cap low, top cap high), so
    the ring vertices of both ends carry two UVs and the seam column carries two as well.
    """
    theta = 2 * np.pi * np.arange(N_AROUND) / N_AROUND
    ys = BAR_HEIGHT * np.arange(N_RINGS) / (N_RINGS - 1)
    ring = np.stack([BAR_RADIUS * np.sin(theta), np.zeros_like(theta), BAR_RADIUS * np.cos(theta)], 1)
    side = np.concatenate([ring + (0.0, y, 0.0) for y in ys])
    bottom_c, top_c = len(side), len(side) + 1
    vertices = np.concatenate([side, [[0.0, 0.0, 0.0], [0.0, BAR_HEIGHT, 0.0]]]).astype(np.float32)

    grid_u = 0.5 * np.arange(N_AROUND + 1) / N_AROUND
    grid_v = 0.05 + 0.9 * ys / BAR_HEIGHT
    side_uv = np.stack(np.meshgrid(grid_u, grid_v), -1).reshape(-1, 2)  # (rings, around+1)
    cap = 0.2 * np.stack([np.sin(theta), np.cos(theta)], 1)
    uvs = np.concatenate([side_uv, cap + (0.75, 0.25), cap + (0.75, 0.75), [[0.75, 0.25], [0.75, 0.75]]])
    n_side_uv = len(side_uv)
    bot_uv0, top_uv0 = n_side_uv, n_side_uv + N_AROUND
    bot_uvc, top_uvc = n_side_uv + 2 * N_AROUND, n_side_uv + 2 * N_AROUND + 1

    faces, uv_faces = [], []
    for r in range(N_RINGS - 1):
        for i in range(N_AROUND):
            j = (i + 1) % N_AROUND
            a, b = r * N_AROUND + i, r * N_AROUND + j
            c, d = (r + 1) * N_AROUND + j, (r + 1) * N_AROUND + i
            ua, ub = r * (N_AROUND + 1) + i, r * (N_AROUND + 1) + i + 1
            uc, ud = (r + 1) * (N_AROUND + 1) + i + 1, (r + 1) * (N_AROUND + 1) + i
            faces += [(a, b, c), (a, c, d)]
            uv_faces += [(ua, ub, uc), (ua, uc, ud)]
    top_ring = (N_RINGS - 1) * N_AROUND
    for i in range(N_AROUND):
        j = (i + 1) % N_AROUND
        faces += [(bottom_c, j, i), (top_c, top_ring + i, top_ring + j)]
        uv_faces += [(bot_uvc, bot_uv0 + j, bot_uv0 + i), (top_uvc, top_uv0 + i, top_uv0 + j)]
    return vertices, np.array(faces), uvs.astype(np.float32), np.array(uv_faces)


def _joint_world(n_joints: int, twisted: bool) -> np.ndarray:
    world = np.tile(np.eye(4), (n_joints, 1, 1))
    for j in range(n_joints):
        world[j, 1, 3] = BAR_HEIGHT * j / n_joints
        if twisted:  # non-trivial bind rotations, so local TRS != world
            world[j, :3, :3] = Rotation.from_euler("yxz", [25.0 * j, 10.0 * j, -5.0 * j], degrees=True).as_matrix()
    return world


def _skin(vertices: np.ndarray, n_joints: int, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    y = vertices[:, 1]
    if n_joints == 2 and k == 2:  # blend zone y in [0.8, 1.2] around the second joint at y = 1
        t = np.clip((y - 0.8) / 0.4, 0.0, 1.0)
        w1 = t * t * (3 - 2 * t)
        return np.tile([0, 1], (len(y), 1)), np.stack([1 - w1, w1], 1)
    joint_y = BAR_HEIGHT * np.arange(n_joints) / n_joints
    nearest = np.argsort(np.abs(y[:, None] - joint_y[None, :]), axis=1, kind="stable")[:, :k]
    weights = rng.dirichlet(np.ones(k), size=len(y))
    indices, weights = nearest.copy(), weights
    if k >= 3:  # edge cases the exporter must survive
        weights[0] = 0.0  # all-zero row
        indices[1, :2] = indices[1, 2]  # duplicate joints: merged before ranking
        weights[2, 1] = -0.2  # negative weight: treated as 0
    return indices, weights


def make_bar(
    *,
    n_joints: int = 2,
    k: int = 2,
    textured: bool = False,
    with_uvs: bool = True,
    n_morphs: int = 2,
    twisted: bool = False,
    extra_roots: int = 0,
    seed: int = 0,
) -> RiggedMesh:
    """A capped tube 2 m tall along +Y, skinned to a chain of ``n_joints`` (plus
    ``extra_roots`` parentless joints), ``k`` influences per vertex, up to 2 morph targets."""
    rng = np.random.default_rng(seed)
    vertices, faces, uvs, uv_faces = _tube()
    indices, weights = _skin(vertices, n_joints, k, rng)
    world = _joint_world(n_joints + extra_roots, twisted)
    parents = np.concatenate([np.arange(-1, n_joints - 1), -np.ones(extra_roots, dtype=np.int64)])
    top = vertices[:, 1] > BAR_HEIGHT - 1e-6
    jaw = np.where(top[:, None], np.float32([0.0, 0.05, 0.02]), np.float32(0.0))  # moves the top only
    brow = 0.01 * vertices + np.float32([0.0, 0.003, 0.0])  # moves every vertex
    names = ["jawOpen", "browInnerUp"][:n_morphs]
    return RiggedMesh(
        vertices=vertices,
        faces=faces,
        joint_names=[f"joint{j}" for j in range(n_joints + extra_roots)],
        joint_parents=parents.astype(np.int64),
        joint_world=world,
        skin_indices=indices,
        skin_weights=weights,
        uvs=uvs if with_uvs else None,
        uv_faces=uv_faces if with_uvs else None,
        morph_names=names,
        morph_deltas=np.stack([jaw, brow])[:n_morphs].astype(np.float32) if n_morphs else None,
        morph_weights=np.array([0.25, 0.0])[:n_morphs] if n_morphs else None,
        texture=texture_quadrants() if textured else None,
        name="bar",
    )


@pytest.fixture
def bar_factory() -> Callable[..., RiggedMesh]:
    """`make_bar` as a fixture (test modules do not import conftest)."""
    return make_bar
