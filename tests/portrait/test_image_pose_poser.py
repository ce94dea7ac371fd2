"""Image conventions, the pose spec, checkpoints and the poser on tiny networks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.portrait.image import composite, resize, to_rgba, to_tensor
from avatarforge.util.colour import linear_to_srgb_torch as linear_to_srgb, srgb_to_linear_torch as srgb_to_linear
from avatarforge.portrait.networks import NetConfig
from avatarforge.portrait.pose import POSE_NAMES, TalkingPose
from avatarforge.portrait.poser import Poser
from avatarforge.portrait.weights import build_nets, load_checkpoint, save_checkpoint

TINY = NetConfig(image_size=16, width=4, bottleneck_size=4, blocks=1)


def test_srgb_known_values_and_exact_uint8_round_trip():
    x = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
    lin = srgb_to_linear(x)
    assert torch.allclose(lin, torch.tensor([0.0, 0.04045 / 12.92, 0.21404114, 1.0], dtype=torch.float64), atol=1e-7)
    assert torch.allclose(linear_to_srgb(lin), x, atol=1e-9)
    rgba = np.stack(np.meshgrid(np.arange(256), np.arange(4), indexing="ij"), -1)[..., [0, 0, 0, 0]].astype(np.uint8)
    rgba = rgba.reshape(16, 64, 4)
    t = to_tensor(rgba)
    assert t.shape == (1, 4, 16, 64) and t.min() >= -1 and t.max() <= 1
    assert torch.allclose(t[0, 3], torch.from_numpy(rgba[..., 3]).float() / 255 * 2 - 1)  # alpha not linearised
    assert np.array_equal(to_rgba(t)[0], rgba)


def test_resize_area_down_and_identity():
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    assert torch.equal(resize(x, 4), x)
    assert torch.allclose(resize(x, 2)[0, 0], torch.tensor([[2.5, 4.5], [10.5, 12.5]]))


def test_composite_over_background():
    rgba = np.array([[[200, 100, 0, 255], [200, 100, 0, 0], [0, 0, 0, 128]]], np.uint8)
    out = composite(rgba, (10, 20, 30))
    assert out.tolist() == [[[200, 100, 0], [10, 20, 30], [5, 10, 15]]]


def test_pose_vector_order_validation_and_clipping():
    p = TalkingPose(head_x=0.1, head_y=-0.2, neck_z=0.3, left_eye=0.4, right_eye=0.5, mouth=0.6)
    assert POSE_NAMES == ("head_x", "head_y", "neck_z", "left_eye", "right_eye", "mouth")
    assert np.allclose(p.vector(), [0.1, -0.2, 0.3, 0.4, 0.5, 0.6])
    assert TalkingPose.from_vector(p.vector().tolist()) == TalkingPose(*p.vector().tolist())
    with pytest.raises(UserInputError, match="mouth=1.5 is out of range"):
        TalkingPose(mouth=1.5)
    with pytest.raises(UserInputError, match="head_x=-2"):
        TalkingPose(head_x=-2)
    with pytest.raises(UserInputError, match="6 values"):
        TalkingPose.from_vector([0, 1])
    assert TalkingPose.clipped(head_x=-3.0, mouth=2.0) == TalkingPose(head_x=-1.0, mouth=1.0)


def _poser(seed=0) -> Poser:
    torch.manual_seed(seed)
    return Poser(*build_nets(TINY))


def test_poser_routes_morph_and_rotation_values_to_their_networks():
    poser = _poser()
    img = torch.rand(1, 4, 16, 16) * 2 - 1
    seen = {}
    poser.morpher.register_forward_hook(lambda m, a, o: seen.update(morph=a[1].clone()))
    poser.rotator.register_forward_hook(lambda m, a, o: seen.update(rot=a[1].clone()))
    poser.combiner.register_forward_hook(lambda m, a, o: seen.update(comb=a[2].clone()))
    pose = torch.tensor([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    out = poser.forward(img, pose)
    assert torch.equal(seen["morph"], pose[:, 3:]) and torch.equal(seen["rot"], pose[:, :3])
    assert torch.equal(seen["comb"], pose[:, :3])
    assert torch.equal(out.image, out.combined.image)


def test_pose_image_sizes_and_unchanged_pixels_keep_full_resolution():
    poser = _poser()
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (64, 64, 4), dtype=np.uint8)
    out = poser.pose_image(img, TalkingPose(mouth=0.5))
    assert out.shape == (64, 64, 4) and out.dtype == np.uint8
    same = poser.pose_image(img[:16, :16], TalkingPose(mouth=0.5))
    assert same.shape == (16, 16, 4)
    # A poser whose output equals its input everywhere returns the original pixels exactly.
    class Identity(Poser):
        def forward(self, image, pose):
            from types import SimpleNamespace

            return SimpleNamespace(image=image)
    ident = Identity(*build_nets(TINY))
    smooth = np.repeat(np.repeat(rng.integers(0, 256, (16, 16, 4), dtype=np.uint8), 4, 0), 4, 1)
    assert np.array_equal(ident.pose_image(smooth, TalkingPose()), smooth)


def test_checkpoint_round_trip_full_and_half(tmp_path):
    poser = _poser(1)
    nets = (poser.morpher, poser.rotator, poser.combiner)
    x = torch.rand(1, 4, 16, 16) * 2 - 1
    pose = torch.rand(1, 6)
    ref = poser.forward(x, pose).image
    for half in (False, True):
        path = save_checkpoint(tmp_path / f"c{half}.pt", nets, {"note": "x"}, half=half)
        loaded, meta = load_checkpoint(path)
        assert meta == {"note": "x"}
        got = Poser(*loaded).forward(x, pose).image
        if half:
            assert 0 < (got - ref).abs().mean() < 0.01  # float16 storage: close, not equal
        else:
            assert torch.equal(got, ref)
    assert Poser.load(tmp_path / "cFalse.pt").config == TINY
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(UserInputError, match="not a readable torch weight file"):
        load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(UserInputError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")
