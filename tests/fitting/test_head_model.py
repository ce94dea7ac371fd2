import numpy as np
import torch

from avatarforge.bodies.head_mesh import closest_surface_point, head_faces
from avatarforge.bodies.landmark_embedding import load_embedding
from avatarforge.fitting.head_model import HeadModel
from avatarforge.fitting.ibug68 import IBUG68_FROM_MP, ibug68_from_mediapipe, inter_ocular


def test_head_model_equals_full_model(body):
    faces = body.faces.numpy()
    ids = np.unique(faces[head_faces(body, faces)])
    values = {"age": 0.8, "nose-hump-incr": 0.6, "jawOpen": 0.4, "pose.head.x": 10, "pose.head.y": -25,
              "pose.head.z": 5, "pose.eye.L.y": 15, "pose.eye.R.x": -10}
    t = body.tensors_from_params(values)
    full = body(**t).vertices[:, ids]
    local_ids = np.flatnonzero(t["local"][0].numpy() != 0)
    for model in (HeadModel(body, ids), HeadModel(body, ids, local_ids)):
        sub, joints = model(t["phenotype"], t["local"], t["expression"], torch.tensor([[10.0, -25, 5]]),
                            torch.tensor([[[0.0, 15, 0], [-10, 0, 0]]]))
        g = model.ground_offset(t["phenotype"], t["local"], t["expression"])
        assert torch.allclose(sub + g[:, None], full, atol=2e-6)
    out = body.forward_params(values)
    head_joint = out.joints[0, body.joint_names.index("head")]
    assert torch.allclose(joints[0, 0] + g[0], head_joint, atol=2e-6)


def test_embedding_is_on_the_head_surface(body):
    faces = body.faces.numpy()
    head = set(head_faces(body, faces).tolist())
    for name, n in (("mediapipe478", 478), ("ibug68", 68)):
        emb = load_embedding(name)
        assert emb.triangles.shape == (n,) and emb.bary.shape == (n, 3)
        assert np.allclose(emb.bary.sum(1), 1, atol=1e-5) and (emb.bary > -1e-4).all()
        assert set(emb.triangles.tolist()) <= head
    pts = load_embedding().points(body.forward_params({}).vertices, faces)[0].numpy()
    # Semantics: subject's right eye corner (33) is at -X (the body's right), the nose tip
    # (1) is the frontmost point, the chin (152) below the nose.
    assert pts[33, 0] < 0 < pts[263, 0]
    assert pts[1, 2] > pts[[33, 263, 152, 10], 2].max()
    assert pts[152, 1] < pts[1, 1] < pts[10, 1]


def test_ibug68_mapping():
    assert len(IBUG68_FROM_MP) == 68
    pts = np.arange(478 * 2, dtype=float).reshape(478, 2)
    ib = ibug68_from_mediapipe(pts)
    assert ib.shape == (68, 2)
    assert np.allclose(ib[3], (pts[132] + pts[58]) / 2)
    assert np.isclose(inter_ocular(ib), np.linalg.norm(pts[33] - pts[263]))


def test_closest_surface_point_recovers_points_on_triangles():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(60, 3))
    f = rng.integers(0, 60, size=(40, 3))
    f = f[(f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])]
    w = rng.dirichlet(np.ones(3), size=len(f))
    pts = np.einsum("fk,fkc->fc", w, v[f])
    tri, bary = closest_surface_point(v, f, pts, k=len(f))
    back = np.einsum("fk,fkc->fc", bary, v[f[tri]])
    assert np.allclose(back, pts, atol=1e-9)
