import math

import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.research.deca.crop import deca_crop, landmark_box
from avatarforge.research.deca.model import (
    CODE_SPLIT, Deca, FlameTexture, build_deca_nets, check_state_dict, detail_normals,
    load_deca_nets, orthographic_project, sh_shading,
)
from avatarforge.research.flame_head import FlameHead
from research_synthetic import write_flame_pickle


@pytest.fixture(scope="module")
def released(deca_released):
    return deca_released


def test_layout_counts():
    nets = build_deca_nets()
    sd = nets.E_flame.state_dict()
    # torchvision's resnet50 has 320 state-dict entries, 2 of them fc; + 4 for the MLP head
    assert len(sd) == 318 + 4
    assert sd["encoder.layer4.2.bn3.running_var"].shape == (2048,)
    assert sd["encoder.layer1.0.downsample.0.weight"].shape == (256, 64, 1, 1)
    assert sd["layers.2.weight"].shape == (236, 1024) and sum(CODE_SPLIT.values()) == 236
    assert nets.E_detail.state_dict()["layers.2.weight"].shape == (128, 1024)
    d = nets.D_detail.state_dict()
    assert d["l1.0.weight"].shape == (8192, 181)
    bn = [m for m in nets.D_detail.conv_blocks if isinstance(m, torch.nn.BatchNorm2d)]
    assert [m.eps for m in bn] == [1e-5] + [0.8] * 5
    convs = [k for k in d if k.endswith(".weight") and d[k].ndim == 4]
    assert convs == [f"conv_blocks.{i}.weight" for i in (2, 6, 10, 14, 18, 21)]


@pytest.mark.wrong_types  # small 64 px images keep the ResNet fast (it pools globally)
def test_strict_load_roundtrip(released):
    nets, path = released
    loaded = load_deca_nets(path)
    for name in ("E_flame", "E_detail", "D_detail"):
        a, b = getattr(nets, name).state_dict(), getattr(loaded, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a)
    x = torch.rand(1, 3, 64, 64)  # the trunk pools globally: a small input keeps the test fast
    nets.E_flame.eval()
    with torch.no_grad():
        torch.testing.assert_close(loaded.E_flame(x), nets.E_flame(x))


def test_layout_problems_are_named(released, tmp_path):
    nets, _ = released
    sd = dict(nets.D_detail.state_dict())
    sd["conv_blocks.3.eps"] = sd.pop("conv_blocks.3.weight")
    sd["l1.0.weight"] = torch.zeros(8192, 180)
    problems = check_state_dict(nets.D_detail, sd, "D_detail")
    text = "; ".join(problems)
    assert "missing keys (e.g. conv_blocks.3.weight)" in text
    assert "unexpected keys (e.g. conv_blocks.3.eps)" in text
    assert "D_detail.l1.0.weight: shape (8192, 180), expected (8192, 181)" in text
    no_counters = {k: v for k, v in nets.D_detail.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert check_state_dict(nets.D_detail, no_counters, "D_detail") == []
    torch.save({"E_flame": nets.E_flame.state_dict(), "E_detail": {}, "D_detail": sd}, tmp_path / "bad.tar")
    with pytest.raises(UserInputError, match="not the released DECA layout: E_detail: 269 missing"):
        load_deca_nets(tmp_path / "bad.tar")
    torch.save({"model": 1}, tmp_path / "other.tar")
    with pytest.raises(UserInputError, match="expected a dict with E_flame"):
        load_deca_nets(tmp_path / "other.tar")


@pytest.mark.wrong_types  # small 64 px images keep the ResNet fast (it pools globally)
def test_code_split_and_decode(released, tmp_path):
    nets, _ = released
    write_flame_pickle(tmp_path / "generic_model.pkl", np.random.default_rng(5))
    flame = FlameHead(tmp_path / "generic_model.pkl")
    deca = Deca(nets, flame).eval()
    x = torch.rand(1, 3, 64, 64)
    code = deca.encode(x)
    raw = nets.E_flame(x)
    assert torch.equal(code.shape, raw[:, :100]) and torch.equal(code.tex, raw[:, 100:150])
    assert torch.equal(code.exp, raw[:, 150:200]) and torch.equal(code.pose, raw[:, 200:206])
    assert torch.equal(code.cam, raw[:, 206:209])
    assert torch.equal(code.light, raw[:, 209:236].reshape(1, 9, 3))
    out = deca.decode(code)
    assert out.displacement.shape == (1, 1, 256, 256) and out.displacement.abs().max() <= 0.01
    rot = flame.rotations_from_axis_angle(code.pose[:, :3], jaw=code.pose[:, 3:])
    torch.testing.assert_close(out.vertices, flame(code.shape, code.exp, rot).vertices)
    assert out.detail_normals is None and out.shaded is None  # no UV layout given


def test_flame_texture_spaces(tmp_path):
    rng = np.random.default_rng(2)
    side, n = 16, 200
    mean = rng.random((side, side, 3)) * 255
    tex_dir = rng.normal(size=(side, side, 3, n))
    np.savez(tmp_path / "FLAME_texture.npz", mean=mean, tex_dir=tex_dir)
    tex = FlameTexture(tmp_path / "FLAME_texture.npz")
    code = torch.zeros(1, 50)
    code[0, 4] = 2.0
    img = tex(code, size=side)[0].numpy()
    want = (mean + 2.0 * tex_dir[..., 4]) / 255
    np.testing.assert_allclose(img, want[..., ::-1].transpose(2, 0, 1), atol=1e-5)  # BGR stored -> RGB
    np.savez(tmp_path / "FLAME_albedo_from_BFM.npz", MU=(mean / 255).reshape(1, -1), PC=tex_dir.reshape(-1, n)[:, :199])
    img2 = FlameTexture(tmp_path / "FLAME_albedo_from_BFM.npz")(code, size=side)[0].numpy()
    np.testing.assert_allclose(img2, (mean / 255 + 2.0 * tex_dir[..., 4])[..., ::-1].transpose(2, 0, 1), atol=1e-5)
    np.savez(tmp_path / "wrong.npz", a=mean)
    with pytest.raises(UserInputError, match="mean/tex_dir"):
        FlameTexture(tmp_path / "wrong.npz")


def test_sh_shading_bands():
    n = torch.nn.functional.normalize(torch.randn(1, 3, 4, 5), dim=1)
    light = torch.zeros(1, 9, 3)
    light[0, 0] = torch.tensor([1.0, 2.0, 3.0])
    s = sh_shading(n, light)
    torch.testing.assert_close(s, torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1).expand(1, 3, 4, 5) / math.sqrt(4 * math.pi))
    light = torch.zeros(1, 9, 3)
    light[0, 8] = 1.0  # 3 z^2 - 1 band
    c8 = (math.pi / 4) * 0.5 * math.sqrt(5 / (4 * math.pi))
    torch.testing.assert_close(sh_shading(n, light)[:, 0], c8 * (3 * n[:, 2] ** 2 - 1))


def test_orthographic_camera():
    p = torch.tensor([[[0.1, 0.2, 0.3]]])
    cam = torch.tensor([[8.0, 0.05, -0.1]])
    out = orthographic_project(p, cam)
    torch.testing.assert_close(out, torch.tensor([[[8 * 0.15, -8 * 0.1, 8 * 0.3]]]))


def test_detail_normals_of_a_displaced_plane():
    # plane z = 0 over [0, 1]^2, UV = (x, y); displacement d = a sin(2 pi x): normal ~ (-d'(x), 0, 1)
    k = 21
    g = np.linspace(0, 1, k)
    xx, yy = np.meshgrid(g, g)
    verts = np.stack([xx.ravel(), yy.ravel(), np.zeros(k * k)], 1)
    ids = np.arange(k * k).reshape(k, k)
    a_, b_, c_, d_ = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel(), ids[1:, 1:].ravel(), ids[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a_, b_, c_], 1), np.stack([a_, c_, d_], 1)])
    h = 128
    u = (np.arange(h) + 0.5) / h
    amp = 0.01
    disp = torch.tensor(amp * np.sin(2 * np.pi * u)[None, :].repeat(h, 0), dtype=torch.float32)[None]
    nrm, mask = detail_normals(torch.tensor(verts, dtype=torch.float32), faces, verts[:, :2], faces, disp)
    slope = amp * 2 * np.pi * np.cos(2 * np.pi * u)
    want = np.stack([-slope, np.zeros_like(slope), np.ones_like(slope)], 0) / np.sqrt(1 + slope**2)
    got = nrm[:, 64, 2:-2].numpy()
    np.testing.assert_allclose(got, want[:, 2:-2], atol=2e-3)
    assert mask[64, 64]


@pytest.mark.wrong_types  # a 4-point box stands for the 68 landmarks
def test_crop_box_and_warp():
    pts = np.array([[100.0, 50.0], [200.0, 50.0], [100.0, 170.0], [200.0, 170.0]])
    center, side = landmark_box(pts)
    np.testing.assert_allclose(center, [150, 110])
    assert side == int((100 + 120) / 2 * 1.1 * 1.25)
    rgb = np.zeros((300, 320, 3), np.uint8)
    rgb[100:121, 140:161] = 255  # a white square around the centre
    crop = deca_crop(rgb, pts)
    m = crop.matrix
    corners = np.array([[150 - side / 2, 110 - side / 2, 1], [150 - side / 2, 110 + side / 2, 1],
                        [150 + side / 2, 110 - side / 2, 1]]) @ m.T
    np.testing.assert_allclose(corners[:, :2], [[0, 0], [0, 223], [223, 0]], atol=1e-9)
    assert crop.image.shape == (224, 224, 3) and crop.image.dtype == np.float32
    c = np.array([150, 110, 1]) @ m.T
    assert crop.image[int(round(c[1])), int(round(c[0]))].min() == pytest.approx(1.0)
    assert crop.image[5, 5].max() == 0.0


def test_load_without_batchnorm_counters(released, monkeypatch):
    import avatarforge.research.deca.model as model

    nets, _ = released
    ckpt = {k: {n: v for n, v in getattr(nets, k).state_dict().items() if not n.endswith("num_batches_tracked")}
            for k in ("E_flame", "E_detail", "D_detail")}
    monkeypatch.setattr(model, "load_checkpoint", lambda path: ckpt)
    loaded = load_deca_nets("deca_model.tar")
    w = loaded.D_detail.state_dict()["conv_blocks.21.weight"]
    assert torch.equal(w, nets.D_detail.state_dict()["conv_blocks.21.weight"])
