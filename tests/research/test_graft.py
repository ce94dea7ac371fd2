import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.render.primitives import uv_sphere
from avatarforge.research.graft import (
    HeadOffsets, Similarity, align_similarity, check_vertex_ids, graft_offsets, infer_betas, procrustes,
    smooth_offsets,
)
from avatarforge.research.model_data import arrays_from_dict
from avatarforge.research.smpl_family import SmplFamilyBody
from research_synthetic import random_model


def _rot(axis, deg):
    from scipy.spatial.transform import Rotation

    return Rotation.from_rotvec(np.asarray(axis, float) / np.linalg.norm(axis) * np.deg2rad(deg)).as_matrix()


@pytest.fixture(scope="module")
def sphere_body():
    m = uv_sphere(24, 48, radius=0.3)
    v = np.asarray(m.vertices, np.float64)
    head = np.flatnonzero(v[:, 1] > 0.12)  # a cap plays the head region
    return v, np.asarray(m.faces, np.int64), head


def test_adam_alignment_matches_closed_form():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(300, 3)) * 0.1
    true = Similarity(_rot([1, 2, 0.5], 25), np.array([0.05, 1.5, -0.02]), 1.12)
    dst = true.apply(src) + rng.normal(size=src.shape) * 1e-3
    sim, rms = align_similarity(src, dst)
    ref = procrustes(src, dst)
    np.testing.assert_allclose(sim.rotation, ref.rotation, atol=2e-3)
    np.testing.assert_allclose(sim.translation, ref.translation, atol=5e-4)
    assert sim.scale == pytest.approx(ref.scale, abs=2e-3)
    assert rms < 2.5e-3


def test_graft_recovers_known_offsets(sphere_body):
    v, f, head = sphere_body
    to_body = Similarity(_rot([0.3, 1, 0.1], 12), np.array([0.01, -0.02, 0.03]), 0.95)
    neutral = (v[head] - to_body.translation) @ to_body.rotation / to_body.scale  # FLAME-frame head: R^T (x - t) / s
    ident_off = 0.01 * np.sin(7 * neutral)  # smooth known identity offsets (FLAME frame)
    expr_off = np.zeros_like(neutral)
    expr_off[:, 1] = 0.005 * np.cos(5 * neutral[:, 0])
    h = HeadOffsets(neutral, neutral + ident_off, expr_off, np.array([0.2, 0, 0]))
    res = graft_offsets(v, f, head, h, band_m=0.06, blend_rings=2)
    assert res.align_rms_m < 1e-4 and res.alignment.scale == pytest.approx(0.95, abs=1e-3)
    np.testing.assert_allclose(res.alignment.rotation, to_body.rotation, atol=1e-4)
    from avatarforge.research.graft import ring_distance

    ring = ring_distance(f, len(v), head, 2)
    interior = head[ring[head] < 0]
    want = to_body.apply_vector(ident_off)
    pos = {g: i for i, g in enumerate(head)}
    sel = [pos[g] for g in interior]
    np.testing.assert_allclose(res.identity[interior], want[sel], atol=2e-4)
    np.testing.assert_allclose(res.expression[interior], to_body.apply_vector(expr_off)[sel], atol=2e-4)
    # far from the head nothing moves; the band changes smoothly (no step at the region's edge)
    far = np.flatnonzero(v[:, 1] < 0.0)
    assert np.abs(res.identity[far]).max() == 0.0
    edges = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    jump = np.linalg.norm(res.identity[edges[:, 0]] - res.identity[edges[:, 1]], axis=1)
    unsmoothed = np.zeros_like(res.identity)
    unsmoothed[head] = want
    raw_jump = np.linalg.norm(unsmoothed[edges[:, 0]] - unsmoothed[edges[:, 1]], axis=1)
    assert jump.max() < 0.6 * raw_jump.max()


def test_smooth_offsets_is_harmonic_and_bounded(sphere_body):
    v, f, head = sphere_body
    off = np.zeros((len(v), 1))
    off[head] = 1.0
    out = smooth_offsets(v, f, head, off, band_m=0.08, blend_rings=2)
    assert out.min() >= -1e-9 and out.max() <= 1 + 1e-9  # maximum principle
    band = (out[:, 0] > 1e-6) & (out[:, 0] < 1 - 1e-6)
    assert band.sum() > 20


def test_vertex_ids_checked():
    with pytest.raises(UserInputError, match="5023 integers"):
        check_vertex_ids(np.zeros(10, np.int64), 100, 5023)
    with pytest.raises(UserInputError, match="distinct"):
        check_vertex_ids(np.zeros(5, np.int64), 100, 5)


def test_body_from_head_recovers_betas():
    rng = np.random.default_rng(7)
    m = random_model(rng, 600, 5, [-1, 0, 1, 1, 1], 40)
    m["shapedirs"] *= 3
    body = SmplFamilyBody(arrays_from_dict(m, "synthetic", n_shape=20, n_joints=5), ["a", "b", "c", "d", "e"], [],
                          n_shape=10, n_expression=0, ground=False)
    ids = rng.choice(600, 250, replace=False)
    true = rng.normal(size=10)
    with torch.no_grad():
        head_body = body.lbs(torch.tensor(true[None], dtype=torch.float32)).shaped[0, ids].double().numpy()
    place = Similarity(_rot([0, 1, 0.2], 15), np.array([0.0, -0.3, 0.05]), 1.0)
    head_flame = (head_body - place.translation) @ place.rotation  # inverse placement
    fit = infer_betas(body, ids, head_flame, steps=400)
    np.testing.assert_allclose(fit.betas, true, atol=0.02)
    assert fit.rms_m < 1e-3


def test_graft_on_anny_smooths_the_neck_seam(body):
    """Anny plays both models (see benchmarks/bench_graft_anny.py): head-only local changes in
    another frame are grafted onto the neutral body; the blended seam is far smaller than the
    raw one and the head interior is exact."""
    from avatarforge.bodies.head_mesh import HEAD_BONES
    from avatarforge.research.graft import ring_distance

    changes = {"head-scale-horiz-incr": 1.0, "chin-prominent-incr": 1.0, "head-trans-forward": 0.6}
    neutral = body.forward_params({}).rest_vertices[0].double().numpy()
    truth = body.forward_params(changes).rest_vertices[0].double().numpy()
    faces = body.faces.numpy()
    w, idx = body.skin_weights.numpy(), body.skin_indices.numpy()
    dominant = idx[np.arange(len(idx)), w.argmax(1)]
    ids = np.flatnonzero(np.isin(dominant, [body.joint_names.index(b) for b in HEAD_BONES]))
    frame = Similarity(_rot([0.3, 1, -0.2], 8), np.array([0.02, -1.5, 0.03]), 1.04)
    head = HeadOffsets(frame.apply(neutral[ids]), frame.apply(truth[ids]), np.zeros((len(ids), 3)), np.zeros(3))
    res = graft_offsets(neutral, faces, ids, head, band_m=0.05, blend_rings=3)
    assert res.alignment.scale == pytest.approx(1 / 1.04, abs=1e-4)
    ring = ring_distance(faces, len(neutral), ids, 3)
    inner = ids[ring[ids] < 0]
    np.testing.assert_allclose(neutral[inner] + res.identity[inner], truth[inner], atol=1e-4)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    seam = edges[(ring[edges[:, 0]] == 1) ^ (ring[edges[:, 1]] == 1)]
    raw = np.zeros_like(neutral)
    raw[ids] = res.alignment.apply_vector(head.identity - head.neutral)

    def seam_change(off):
        d = (off[seam[:, 0]] - off[seam[:, 1]]) - (truth - neutral)[seam[:, 0]] + (truth - neutral)[seam[:, 1]]
        return np.linalg.norm(d, axis=1).max()

    assert seam_change(res.identity) < 0.35 * seam_change(raw)
