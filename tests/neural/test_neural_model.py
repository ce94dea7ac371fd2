import pytest
import torch

from avatarforge.neural.model import DirectAvatar, ModelConfig, TexturedAvatar, build_model


def test_shapes_and_probabilities():
    torch.manual_seed(0)
    cfg = ModelConfig(kind="texture", in_channels=5, n_parts=3, texture_size=8, base_channels=4)
    m = build_model(cfg)
    x = torch.rand(2, 5, 32, 24)
    out = m(x, torch.tensor([0.2, 0.4, 0.6]))
    assert out.rgb.shape == (2, 3, 32, 24) and out.part_logits.shape == (2, 4, 32, 24)
    assert out.part_uv.shape == (2, 3, 2, 32, 24) and (out.part_uv >= 0).all() and (out.part_uv <= 1).all()
    # log P(person) and log P(background) are complementary.
    torch.testing.assert_close(out.log_mask.exp() + out.log_background.exp(), torch.ones(2, 1, 32, 24))
    d = build_model(ModelConfig(kind="direct", in_channels=5, base_channels=4))
    assert isinstance(d, DirectAvatar) and d(x).rgb.shape == (2, 3, 32, 24)
    with pytest.raises(ValueError, match="multiples of 8"):
        m(torch.rand(1, 5, 30, 32))
    with pytest.raises(ValueError, match="unknown model kind"):
        build_model(ModelConfig(kind="nope"))


def test_texture_lookup_at_texel_centres_is_exact():
    m = TexturedAvatar(ModelConfig(in_channels=2, n_parts=2, texture_size=4, base_channels=4))
    with torch.no_grad():
        m.texture.copy_(torch.rand(2, 3, 4, 4))
    # UV of texel (row 1, col 2): u = 2.5 / 4, v = 1.5 / 4.
    uv = torch.zeros(1, 2, 2, 1, 1)
    uv[0, :, 0], uv[0, :, 1] = 2.5 / 4, 1.5 / 4
    s = m.sample(uv)[0, :, :, 0, 0]
    torch.testing.assert_close(s, m.texture[:, :, 1, 2])


def test_sparse_inference_blend_matches_dense():
    torch.manual_seed(1)
    m = TexturedAvatar(ModelConfig(in_channels=3, n_parts=4, texture_size=8, base_channels=4))
    with torch.no_grad():
        m.texture.copy_(torch.rand_like(m.texture))
    logits = torch.randn(2, 5, 16, 16) * 4  # peaked weights: many below the sparse threshold
    w = torch.softmax(logits, 1)
    uv = torch.rand(2, 4, 2, 16, 16)
    with torch.enable_grad():
        dense = m.blend(w, uv)
    with torch.no_grad():
        sparse = m.blend(w, uv)
    assert (w[:, :4] < 1e-3).float().mean() > 0.1  # the sparse path really skips lookups
    torch.testing.assert_close(sparse, dense.detach(), atol=4 * 1e-3, rtol=0)
