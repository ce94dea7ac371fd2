"""The fused render path (neural.infer) against the models' own forward (the training maths)."""

import numpy as np
import pytest
import torch

from avatarforge.neural.bones import rasterize_bones
from avatarforge.neural.infer import composite_texture, generator_forward, render_image
from avatarforge.neural.model import ModelConfig, build_model
from avatarforge.neural.skeleton import KEYPOINTS
from avatarforge.render import Camera
from avatarforge.util.colour import float_to_uint8


def _model(kind: str, seed: int, texture_size: int = 16):
    torch.manual_seed(seed)
    m = build_model(ModelConfig(kind=kind, texture_size=texture_size, base_channels=8)).eval()
    with torch.no_grad():
        for p in m.parameters():  # away from the initialisation: peaked part weights, non-trivial norms
            p.add_(torch.randn_like(p) * 0.5)
        if kind == "texture":
            m.texture.copy_(torch.rand_like(m.texture))
    return m


def _bones(size=(64, 48)):
    cam = Camera.look_at((0.4, 1.0, 2.8), (0, 0.85, 0), width=size[1], height=size[0], fov_y_deg=40)
    joints = np.random.default_rng(0).normal([0.0, 0.9, 0.0], [0.25, 0.4, 0.15], (len(KEYPOINTS), 3))
    return rasterize_bones(joints, cam, thickness=0.03)


@pytest.mark.parametrize("kind", ["texture", "direct"])
def test_fast_render_matches_model_forward(kind):
    m = _model(kind, seed=3)
    bones, bg = _bones(), torch.tensor([0.2, 0.5, 0.7])
    with torch.no_grad():
        ref = float_to_uint8(m(bones[None], bg).rgb[0].clamp(0, 1).permute(1, 2, 0).numpy())
    fast = render_image(m, bones, bg)
    assert fast.shape == ref.shape and fast.dtype == np.uint8
    diff = np.abs(fast.astype(int) - ref.astype(int))
    # Float rounding only: at most one level, at a few pixels.
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01
    assert ref.std() > 5  # the image is not flat: a wrong channel or lookup would show


def test_generator_forward_matches_module():
    m = _model("texture", seed=4)
    x = _bones((32, 40))[None]
    with torch.no_grad():
        ref = m.generator(x)
    torch.testing.assert_close(generator_forward(m.generator, x), ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="multiples of 8"):
        generator_forward(m.generator, torch.zeros(1, 20, 30, 32))


def test_texture_composite_against_grid_sample_blend():
    # Independent of the generator: random pixel-major logits, compared with the model's dense blend.
    m = _model("texture", seed=5, texture_size=8)
    n = m.config.n_parts
    torch.manual_seed(6)
    logits = torch.randn(12, 10, n + 1) * 3
    uv_logits = torch.randn(12, 10, 2 * n) * 2
    bg = torch.tensor([0.9, 0.1, 0.4])
    w = torch.softmax(logits, -1).permute(2, 0, 1)[None]
    uv = torch.sigmoid(uv_logits).permute(2, 0, 1).reshape(1, n, 2, 12, 10)
    with torch.enable_grad():
        ref = (m.blend(w, uv) + w[:, n : n + 1] * bg.view(1, 3, 1, 1)).detach()[0].clamp(0, 1)
    got = composite_texture(logits, uv_logits, m.texture, bg).astype(np.float32) / 255
    # Rounding to uint8 (half a level) + the parts skipped below SPARSE_EPS (n * 1e-3).
    np.testing.assert_allclose(got, ref.permute(1, 2, 0).numpy(), atol=0.5 / 255 + n * 1e-3)
