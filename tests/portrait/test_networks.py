"""The three networks: published state-dict layout (strict loading), shapes and exact maths."""

from __future__ import annotations

import pytest
import torch

from avatarforge.errors import UserInputError
from avatarforge.portrait.networks import FULL, Combiner, FaceMorpher, NetConfig, TwoAlgoFaceRotator, warp
from avatarforge.portrait.networks.morpher import append_pose
from avatarforge.portrait.weights import PUBLISHED_FILES, load_published

TINY = NetConfig(image_size=16, width=4, bottleneck_size=4, blocks=1)


def _conv_block(prefix, cout, cin, k, transposed=False):
    w = (cin, cout, k, k) if transposed else (cout, cin, k, k)
    return {f"{prefix}.0.weight": w, f"{prefix}.1.weight": (cout,), f"{prefix}.1.bias": (cout,)}


def _resnet(prefix, c):
    return {f"{prefix}.conv1.weight": (c, c, 3, 3), f"{prefix}.norm1.weight": (c,), f"{prefix}.norm1.bias": (c,),
            f"{prefix}.conv2.weight": (c, c, 3, 3), f"{prefix}.norm2.weight": (c,), f"{prefix}.norm2.bias": (c,)}


def published_encoder_decoder(cin):
    """The published trunk, written out by hand: 7 -> 64 (256 px), 128, 256, 512 (32 px), six
    ResNet blocks, back up to 64 channels."""
    s = _conv_block("main_body.module_list.0", 64, cin, 7)
    for i, c in enumerate((64, 128, 256), start=1):
        s |= _conv_block(f"main_body.module_list.{i}", 2 * c, c, 4)
    for i in range(4, 10):
        s |= _resnet(f"main_body.module_list.{i}", 512)
    for i, c in zip(range(10, 13), (512, 256, 128)):
        s |= _conv_block(f"main_body.module_list.{i}", c // 2, c, 4, transposed=True)
    return s


def published_layouts() -> dict[str, dict[str, tuple]]:
    morpher = published_encoder_decoder(7) | {"color_change.0.weight": (4, 64, 7, 7), "alpha_mask.0.weight": (4, 64, 7, 7)}
    rotator = published_encoder_decoder(7) | {
        "pumarola_color_change.0.weight": (4, 64, 7, 7), "pumarola_alpha_mask.0.weight": (4, 64, 7, 7),
        "zhou_grid_change.weight": (2, 64, 7, 7)}
    comb = _conv_block("main_body.downward_modules.0", 64, 11, 7)
    for i, c in enumerate((64, 128, 256), start=1):
        comb |= _conv_block(f"main_body.downward_modules.{i}", 2 * c, c, 4)
    for i in range(6):
        comb |= _resnet(f"main_body.bottleneck_modules.{i}", 512)
    # Stored finest first: 0 = final conv7 block over [64 + 64], 3 = first up-sampling from 512.
    comb |= _conv_block("main_body.upsampling_modules.3", 256, 512, 4, transposed=True)
    comb |= _conv_block("main_body.upsampling_modules.2", 128, 256 + 256, 4, transposed=True)
    comb |= _conv_block("main_body.upsampling_modules.1", 64, 128 + 128, 4, transposed=True)
    comb |= _conv_block("main_body.upsampling_modules.0", 64, 64 + 64, 7)
    comb |= {f"{h}.0.weight": (4, 64, 7, 7) for h in ("combine_alpha_mask", "retouch_alpha_mask", "retouch_color_change")}
    return {"face_morpher": morpher, "two_algo_face_rotator": rotator, "combiner": comb}


def test_full_networks_have_exactly_the_published_layout():
    with torch.device("meta"):  # shapes only, no memory
        nets = (FaceMorpher(FULL), TwoAlgoFaceRotator(FULL), Combiner(FULL))
    for net, (name, layout) in zip(nets, published_layouts().items()):
        got = {k: tuple(v.shape) for k, v in net.state_dict().items()}
        assert got == layout, name


def test_published_files_with_random_weights_load_strictly(tmp_path):
    saved = {}
    for name, layout in published_layouts().items():
        # A distinct constant per tensor (cheap at 34 M parameters) shows each lands in its place.
        sd = {k: torch.full(shape, 0.001 * i) for i, (k, shape) in enumerate(layout.items())}
        torch.save(sd, tmp_path / PUBLISHED_FILES[name])
        saved[name] = sd
    nets = load_published(tmp_path)
    for net, name in zip(nets, PUBLISHED_FILES):
        for k, v in net.state_dict().items():
            assert torch.equal(v, saved[name][k]), (name, k)
    # one missing key -> a clear error naming the file
    del saved["combiner"]["retouch_color_change.0.weight"]
    torch.save(saved["combiner"], tmp_path / "combiner.pt")
    with pytest.raises(UserInputError, match="combiner.pt.*do not match"):
        load_published(tmp_path)
    (tmp_path / "combiner.pt").unlink()
    with pytest.raises(UserInputError, match="combiner.pt is missing"):
        load_published(tmp_path)


def test_convs_have_no_bias_and_norms_are_affine_instance_norms():
    for net in (FaceMorpher(TINY), TwoAlgoFaceRotator(TINY), Combiner(TINY)):
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                assert m.bias is None
            if isinstance(m, torch.nn.modules.batchnorm._NormBase):
                assert isinstance(m, torch.nn.InstanceNorm2d) and m.affine and not m.track_running_stats


def test_append_pose_adds_constant_planes_after_the_image():
    img = torch.randn(2, 4, 5, 6)
    pose = torch.tensor([[0.1, 0.2, 0.3], [-1.0, 0.0, 1.0]])
    x = append_pose(img, pose)
    assert x.shape == (2, 7, 5, 6)
    assert torch.equal(x[:, :4], img)
    assert torch.equal(x[:, 4:], pose[:, :, None, None].expand(2, 3, 5, 6))


def test_warp_identity_and_one_pixel_shift():
    img = torch.randn(1, 4, 8, 10, dtype=torch.float64)
    same, grid = warp(img, torch.zeros(1, 2, 8, 10, dtype=torch.float64))
    assert torch.allclose(same, img, atol=1e-12)
    assert torch.allclose(grid[0, 0, 0], torch.tensor([-1.0, -1.0], dtype=torch.float64))
    off = torch.zeros(1, 2, 8, 10, dtype=torch.float64)
    off[:, 0] = 2.0 / 9  # one pixel to the right in align_corners=True units
    shifted, _ = warp(img, off)
    assert torch.allclose(shifted[..., :-1], img[..., 1:], atol=1e-12)
    assert torch.allclose(shifted[..., -1], img[..., -1], atol=1e-12)  # border padding


def test_outputs_compose_as_published():
    torch.manual_seed(0)
    img = torch.rand(2, 4, 16, 16) * 2 - 1
    pose = torch.rand(2, 3)
    m = FaceMorpher(TINY)(img, pose)
    assert torch.allclose(m.image, m.alpha * img + (1 - m.alpha) * m.change)
    assert m.alpha.min() >= 0 and m.alpha.max() <= 1 and m.change.abs().max() <= 1
    rot = TwoAlgoFaceRotator(TINY)
    with torch.no_grad():
        rot.zhou_grid_change.weight.zero_()
    r = rot(img, pose)
    assert torch.allclose(r.resampled, img, atol=1e-5)  # zero flow copies the input
    assert r.grid_change.shape == (2, 2, 16, 16)
    c = Combiner(TINY)(r.color_changed, r.resampled, pose)
    assert torch.allclose(c.combined, c.combine_mask * r.color_changed + (1 - c.combine_mask) * r.resampled)
    assert torch.allclose(c.image, c.retouch_mask * c.combined + (1 - c.retouch_mask) * c.retouch_change)
    assert c.image.shape == (2, 4, 16, 16)


def test_bad_sizes_are_refused():
    with pytest.raises(ValueError, match="power of two"):
        FaceMorpher(NetConfig(image_size=48, width=4, bottleneck_size=16, blocks=1))
    with pytest.raises(ValueError, match="multiple"):
        FaceMorpher(NetConfig(image_size=20, width=4, bottleneck_size=8, blocks=1))
