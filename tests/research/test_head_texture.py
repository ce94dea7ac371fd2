"""The head texture reads the crop where the head's surface projects (sign conventions of the
orthographic camera, the crop pixels and the UV rows)."""

from types import SimpleNamespace

import numpy as np
import torch

from avatarforge.research.deca.crop import DecaCrop
from avatarforge.research.deca.model import DecaCode
from avatarforge.pipeline.create_research import head_texture


def test_head_texture_samples_the_projection():
    k = 11
    g = np.linspace(-0.1, 0.1, k)
    xx, yy = np.meshgrid(g, g)
    verts = np.stack([xx.ravel(), yy.ravel(), np.zeros(k * k)], 1)
    ids = np.arange(k * k).reshape(k, k)
    a, b, c, d = ids[:-1, :-1].ravel(), ids[:-1, 1:].ravel(), ids[1:, 1:].ravel(), ids[1:, :-1].ravel()
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])  # counter-clockwise seen from +Z
    uvs = (verts[:, :2] + 0.1) / 0.2
    flame = SimpleNamespace(arrays=SimpleNamespace(uvs=uvs, uv_faces=faces, faces=faces))
    code = DecaCode(torch.zeros(1, 100), torch.zeros(1, 50), torch.zeros(1, 50), torch.zeros(1, 6),
                    torch.tensor([[4.0, 0.05, -0.02]]), torch.zeros(1, 9, 3))
    cols, rows = np.meshgrid(np.arange(224), np.arange(224))
    img = np.stack([cols / 223, rows / 223, np.full(cols.shape, 0.5)], -1).astype(np.float32)
    crop = DecaCrop(img, np.eye(3), np.zeros(2), 224.0)
    size = 32
    tex, wgt = head_texture(flame, code, torch.tensor(verts, dtype=torch.float32)[None], crop, None, size)
    i, j = 10, 20  # a texel inside the layout
    u, v = (j + 0.5) / size, 1 - (i + 0.5) / size
    x, y = 0.2 * u - 0.1, 0.2 * v - 0.1
    px = (4.0 * (x + 0.05) + 1) * 112
    py = (-4.0 * (y - 0.02) + 1) * 112  # image y runs down
    assert wgt[i, j] == 1.0
    np.testing.assert_allclose(tex[i, j, :2] / 255, [px / 223, py / 223], atol=2.5 / 255)
