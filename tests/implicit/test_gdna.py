"""gDNA: capped garments, data round trip, model shapes, two-stage training and resume, code
interpolation and fitting, and the `implicit sample|fit` CLI."""

import json

import numpy as np
import pytest
import torch

from avatarforge.cli.main import main
from avatarforge.errors import UserInputError
from avatarforge.implicit.gdna import GDNA, GdnaConfig
from avatarforge.implicit.gdna_data import (
    GdnaSynthConfig, close_boundaries, load_gdna_data, make_gdna_data, save_gdna_data,
)
from avatarforge.implicit.gdna_train import GdnaTrainConfig, load_gdna, train_gdna
from avatarforge.implicit.gdna_use import fit_codes, identity_codes, interpolate_codes, sample_codes
from avatarforge.implicit.winding import winding_number


@pytest.fixture(scope="module")
def gdna_data(body, tmp_path_factory):
    cfg = GdnaSynthConfig(n_identities=2, n_held_out=1, poses_per_identity=2, points=1500, surface_points=300,
                          canonical_points=300, warp_vertices=300, rest_points=800, seed=3)
    data = make_gdna_data(cfg)
    folder = tmp_path_factory.mktemp("gdna_data")
    save_gdna_data(folder, data)
    return data, folder


@pytest.fixture(scope="module")
def gdna_model(gdna_data, tmp_path_factory):
    data, _ = gdna_data
    folder = tmp_path_factory.mktemp("gdna_model")
    logs = []
    tcfg = GdnaTrainConfig(coarse_steps=60, detail_steps=10, points_per_step=512, log_every=10, checkpoint_every=30,
                           posed_every=1)
    model = train_gdna(data, folder, GdnaConfig(hidden=64, layers=3), tcfg, progress=logs.append)
    return model, folder, logs


def test_close_boundaries_closes_an_open_box():
    # a unit cube without its top face (2 triangles): open, one boundary loop of 4 edges
    v = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float)
    f = np.array([[0, 2, 1], [0, 3, 2], [0, 1, 5], [0, 5, 4], [1, 2, 6], [1, 6, 5], [2, 3, 7], [2, 7, 6],
                  [3, 0, 4], [3, 4, 7]])  # outward, the face z = 1 missing
    cv, cf = close_boundaries(v, f)
    assert len(cv) == 9 and np.allclose(cv[8], [0.5, 0.5, 1.0]) and len(cf) == 14
    edges = np.sort(np.concatenate([cf[:, [0, 1]], cf[:, [1, 2]], cf[:, [2, 0]]]), 1)
    assert (np.unique(edges, axis=0, return_counts=True)[1] == 2).all()  # every edge shared by two faces
    w = winding_number(np.array([[0.5, 0.5, 0.5], [0.5, 0.5, 1.5]]), cv, cf, beta=None)
    assert np.allclose(w, [1.0, 0.0], atol=1e-9)
    # before capping the centre is only "half" inside
    assert 0.3 < winding_number(np.array([[0.5, 0.5, 0.5]]), v, f, beta=None)[0] < 0.9


def test_data_shapes_labels_and_round_trip(gdna_data):
    data, folder = gdna_data
    s = len(data.sample_identity)
    assert s == 4 and data.split == ["train", "train", "test"] and data.betas.shape == (3, 6)
    assert data.points.shape == (s, 1500, 3) and data.occupancy.shape == (s, 1500)
    assert 0.1 < data.occupancy.mean() < 0.9
    assert np.allclose(np.linalg.norm(data.normals, axis=-1), 1.0, atol=1e-5)
    assert data.canonical_surface.shape == (3, 300, 3) and data.warp_rest.shape == (3, 300, 3)
    assert data.poses[0] == {} and np.allclose(data.transforms[0], np.eye(4), atol=1e-5)  # A-pose = rest
    # canonical labelled points of the training identities: half uniform over the whole box
    # (mostly empty: the far-away negatives), the rest near the surface (about half inside)
    assert data.rest_points.shape == (2, 800, 3) and data.rest_occupancy.shape == (2, 800)
    lo, hi = data.bounds
    assert ((data.rest_points[:, :400] >= lo) & (data.rest_points[:, :400] <= hi)).all()
    assert data.rest_occupancy[:, :400].mean() < 0.1 and 0.2 < data.rest_occupancy[:, 400:].mean() < 0.8
    # points farther than 10 cm from the person's surface and outside its box are empty
    from scipy.spatial import cKDTree

    box = data.canonical_surface[0].min(0), data.canonical_surface[0].max(0)
    far = (cKDTree(data.canonical_surface[0]).query(data.rest_points[0])[0] > 0.1) & \
        ((data.rest_points[0] < box[0]) | (data.rest_points[0] > box[1])).any(1)
    assert far.sum() > 100 and not data.rest_occupancy[0][far].any()
    again = load_gdna_data(folder)
    for k in ("betas", "points", "occupancy", "surface", "transforms", "bounds", "rest_points", "rest_occupancy"):
        assert np.array_equal(getattr(again, k), getattr(data, k)), k
    assert again.outfits == data.outfits and again.poses == data.poses


def test_load_refuses_other_folders(tmp_path, tiny_implicit):
    with pytest.raises(UserInputError, match="not a gDNA data set"):
        load_gdna_data(tmp_path)
    with pytest.raises(UserInputError, match="not a gDNA data set"):
        load_gdna_data(tiny_implicit[1])
    with pytest.raises(UserInputError, match="not a gDNA model"):
        load_gdna(tmp_path)


def test_model_shapes_and_warp_starts_at_identity(gdna_data):
    data, _ = gdna_data
    torch.manual_seed(0)
    net = GDNA(GdnaConfig(hidden=32, layers=2), 2, 6, 22, torch.as_tensor(data.bounds))
    beta, z, zd = torch.rand(6), torch.randn(16), torch.randn(8)
    x = torch.as_tensor(data.points[1, :50])
    assert torch.equal(net.shared(x, beta), x)
    logits = net.posed(x, torch.as_tensor(data.transforms[1]).float(), torch.as_tensor(data.bones[0]).float(), beta, z)
    assert logits.shape == (50,)
    n = net.canonical_normals(x, beta, z, zd)
    assert n.shape == (50, 3) and torch.allclose(n.norm(dim=-1), torch.ones(50), atol=1e-5)
    w = net.skin(x, beta, z)
    assert torch.allclose(w.sum(-1), torch.ones(50), atol=1e-5)


def test_rest_pose_shortcut_equals_the_correspondence_search(gdna_data):
    from avatarforge.implicit.gdna import is_rest
    from avatarforge.implicit.model import find_correspondences, occupancy_over_roots

    data, _ = gdna_data
    torch.manual_seed(1)
    net = GDNA(GdnaConfig(hidden=32, layers=2), 2, 6, 22, torch.as_tensor(data.bounds))
    beta, z = torch.rand(6), torch.randn(16)
    T, b = torch.as_tensor(data.transforms[0]).float(), torch.as_tensor(data.bones[0]).float()
    assert is_rest(T) and not is_rest(torch.as_tensor(data.transforms[1]).float())
    x = torch.cat([torch.as_tensor(data.points[0, :40]), torch.tensor([[9.0, 9.0, 9.0]])])  # last: outside the box

    def skin(y):
        return net.skin(y, beta, z)

    corr = find_correspondences(x, T, b, net.bounds, skin, 3)
    searched = occupancy_over_roots(x, corr, T, skin, lambda y: net.canonical(y, beta, z)[0])
    direct = net.posed(x, T, b, beta, z)
    assert torch.allclose(direct, searched, atol=1e-5) and float(direct[-1].detach()) == -12.0
    xb, ok = net.surface_roots(x, T, b, beta, z)
    assert torch.equal(xb, x) and ok[:-1].all() and not ok[-1]


def test_learning_rate_follows_a_cosine_within_each_stage():
    from avatarforge.implicit.gdna_train import lr_factor

    t = GdnaTrainConfig(coarse_steps=100, detail_steps=10, lr_final=0.1)
    assert lr_factor(t, 0) == 1.0 and lr_factor(t, 100) == 1.0  # each stage starts at the full rate
    assert abs(lr_factor(t, 50) - 0.55) < 1e-12 and abs(lr_factor(t, 110) - 0.1) < 1e-12


def test_two_stage_training_learns_and_resumes(gdna_data, gdna_model, tmp_path):
    data, _ = gdna_data
    model, folder, logs = gdna_model
    assert [r["stage"] for r in logs] == [1] * 6 + [2]
    first, last = logs[0], logs[5]
    assert last["bce"] < first["bce"] and last["warp_cm2"] < first["warp_cm2"]
    assert "normal_cos" in logs[-1]
    again = load_gdna(folder)
    x = torch.as_tensor(data.points[0, :64])
    c = identity_codes(again, 0)
    with torch.no_grad():
        a = again.net.canonical(x, c.beta, c.z_shape)[0]
        b = model.net.canonical(x, c.beta, c.z_shape)[0]
    assert torch.allclose(a, b)
    # resuming a finished model runs no step; raising the budget continues from the checkpoint
    logs2 = []
    train_gdna(data, folder, again.config, GdnaTrainConfig(coarse_steps=60, detail_steps=12, points_per_step=64,
                                                           log_every=1, checkpoint_every=30), progress=logs2.append)
    assert [r["step"] for r in logs2] == [71, 72]


def test_interpolation_endpoints_and_prior_samples(gdna_model):
    model = gdna_model[0]
    a, b = identity_codes(model, "id000"), identity_codes(model, 1)
    path = interpolate_codes(a, b, 5)
    assert len(path) == 5
    assert torch.equal(path[0].z_shape, a.z_shape) and torch.equal(path[-1].z_shape, b.z_shape)
    assert torch.equal(path[-1].beta, b.beta) and torch.equal(path[0].z_detail, a.z_detail)
    assert torch.allclose(path[2].z_shape, (a.z_shape + b.z_shape) / 2, atol=1e-6)
    s1, s2 = sample_codes(model, 3, seed=1), sample_codes(model, 3, seed=1)
    assert all(torch.equal(p.z_shape, q.z_shape) for p, q in zip(s1, s2))
    assert not torch.equal(s1[0].z_shape, s1[1].z_shape)
    assert all(((0 <= c.beta) & (c.beta <= 1)).all() for c in s1)
    with pytest.raises(UserInputError, match="unknown identity"):
        identity_codes(model, "nobody")


def test_fitting_explains_a_training_identity_better_than_random_codes(gdna_data, gdna_model):
    from avatarforge.implicit.gdna_data import clothed_person

    data, _ = gdna_data
    model = gdna_model[0]
    person = clothed_person(data.phenotypes[0], data.outfits[0])
    res = fit_codes(model, person.vertices, person.faces, None, steps=40, detail_steps=5, points=512,
                    fit_beta=False, beta=data.betas[0])
    assert res.bce[-1] < res.bce[0]
    # The fitted code explains the person's own labelled points (its training sample in the
    # A-pose) better than random codes of the codes' scale and than the mean code it starts from.
    x = torch.as_tensor(data.points[0])
    y = torch.as_tensor(data.occupancy[0].astype(np.float32))
    beta = torch.as_tensor(data.betas[0])

    def bce(z):
        with torch.no_grad():
            return float(torch.nn.functional.binary_cross_entropy_with_logits(model.net.canonical(x, beta, z)[0], y))

    codes = model.net.z_shape.weight.detach()
    g = torch.Generator().manual_seed(5)
    b_random = np.mean([bce(codes.std() * torch.randn(codes.shape[1], generator=g)) for _ in range(10)])
    b_fit = bce(res.codes.z_shape)
    assert b_fit < b_random and b_fit < bce(codes.mean(0)), (b_fit, b_random, bce(codes.mean(0)))


def run(args, capsys):
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_sample_fit_and_errors(gdna_data, gdna_model, tmp_path, capsys, tiny_implicit):
    data_dir = gdna_data[1]
    folder = gdna_model[1]
    code, _, err = run(["implicit", "train", str(data_dir), "-o", str(tmp_path / "m"), "--kind", "gdna", "--steps", "4",
                        "--detail-steps", "1", "--points-per-step", "64"], capsys)
    assert code == 0, err
    assert "step 4/5 (stage 1): canonical BCE" in err and "step 5/5 (stage 2): normal cosine" in err, err
    code, _, err = run(["implicit", "sample", str(folder), "-n", "2", "-o", str(tmp_path / "s"), "--res", "24"], capsys)
    assert code == 0, err
    doc = json.loads((tmp_path / "s" / "codes.json").read_text())
    assert set(doc["people"]) == {"sample_00", "sample_01"} and (tmp_path / "s" / "preview.png").is_file()
    code, _, err = run(["implicit", "sample", str(folder), "-o", str(tmp_path / "i"), "--interpolate", "id000", "1",
                        "--steps", "3", "--res", "16"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "i").glob("*.obj")) == ["interp_00.obj", "interp_01.obj", "interp_02.obj"]
    code, _, err = run(["implicit", "fit", str(folder), str(tmp_path / "s" / "sample_00.obj"), "-o",
                        str(tmp_path / "f"), "--steps", "3", "--detail-steps", "2", "--res", "16", "--pose", "t"], capsys)
    assert code == 0, err
    assert {p.name for p in (tmp_path / "f").iterdir()} == {"fit.obj", "reposed.obj", "preview.png", "codes.json"}
    # errors: exit 2, one line, nothing written
    tiny = tmp_path / "tiny.obj"
    tiny.write_text("v 0 0 0\nv 10 0 0\nv 0 10 0\nv 0 0 10\nf 1 2 3\nf 1 3 4\nf 1 4 2\nf 2 4 3\n")
    cases = [
        (["implicit", "fit", str(folder), str(tiny), "-o", str(tmp_path / "e1")], "expected a person in metres"),
        (["implicit", "fit", str(folder), str(tmp_path / "none.obj"), "-o", str(tmp_path / "e2")], "no such mesh"),
        (["implicit", "sample", str(tmp_path), "-o", str(tmp_path / "e3")], "not a gDNA model"),
        (["implicit", "sample", str(folder), "-o", str(tmp_path / "e4"), "--interpolate", "id000", "id042"],
         "unknown identity"),
        (["implicit", "train", str(tiny_implicit[1]), "-o", str(tmp_path / "e5"), "--kind", "gdna"],
         "needs a gDNA data set"),
        (["implicit", "train", str(data_dir), "-o", str(tmp_path / "e6")], "needs a gDNA data set"),
        (["implicit", "repose", str(folder), "--pose", "t", "-o", str(tmp_path / "e7.obj")], "is a gDNA model"),
    ]
    for args, msg in cases:
        code, _, err = run(args, capsys)
        assert code == 2 and msg in err and "Traceback" not in err, (args, err)
    for name in ("e1", "e2", "e3", "e4", "e5", "e6", "e7.obj"):
        assert not (tmp_path / name).exists(), name
