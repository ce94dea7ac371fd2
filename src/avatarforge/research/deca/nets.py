"""DECA's three networks, with the parameter names of the released ``deca_model.tar``:

* ``E_flame`` / ``E_detail``: :class:`ResnetEncoder` = ``encoder.*`` (ResNet-50) +
  ``layers.0`` (Linear 2048->1024), ReLU, ``layers.2`` (Linear 1024->236 or ->128).
* ``D_detail``: :class:`DetailGenerator` = ``l1.0`` (Linear 181->128*8*8) then
  ``conv_blocks.<i>``: BatchNorm(128), five [x2 bilinear upsample, 3x3 conv, BatchNorm
  (eps 0.8), LeakyReLU 0.2] blocks 128->128->64->64->32->16, 3x3 conv ->1, tanh; x0.01.
  Parameter-free layers keep their slots so the indices match (2, 3, 6, 7, ..., 21).
"""

from __future__ import annotations

from jaxtyping import Float
from torch import Tensor, nn

from avatarforge.research.deca.resnet import ResNet50

__all__ = ["ResnetEncoder", "DetailGenerator"]


class ResnetEncoder(nn.Module):
    """224x224 RGB in [0, 1] -> ``outsize`` values."""

    def __init__(self, outsize: int):
        super().__init__()
        self.encoder = ResNet50()
        self.layers = nn.Sequential(nn.Linear(2048, 1024), nn.ReLU(), nn.Linear(1024, outsize))

    def forward(self, images: Float[Tensor, "B 3 224 224"]) -> Float[Tensor, "B N"]:
        return self.layers(self.encoder(images))


class DetailGenerator(nn.Module):
    """(jaw pose 3 + expression 50 + detail 128) -> (B, 1, 256, 256) UV displacement in [-0.01, 0.01]."""

    def __init__(self, latent_dim: int = 181, out_scale: float = 0.01):
        super().__init__()
        self.out_scale = out_scale
        self.l1 = nn.Sequential(nn.Linear(latent_dim, 128 * 8 * 8))
        blocks: list[nn.Module] = [nn.BatchNorm2d(128)]
        chans = (128, 128, 64, 64, 32, 16)
        for cin, cout in zip(chans[:-1], chans[1:]):
            blocks += [nn.Upsample(scale_factor=2, mode="bilinear"), nn.Conv2d(cin, cout, 3, padding=1),
                       nn.BatchNorm2d(cout, 0.8), nn.LeakyReLU(0.2, inplace=True)]
        blocks += [nn.Conv2d(16, 1, 3, padding=1), nn.Tanh()]
        self.conv_blocks = nn.Sequential(*blocks)

    def forward(self, z: Float[Tensor, "B 181"]) -> Float[Tensor, "B 1 256 256"]:
        x = self.l1(z).view(z.shape[0], 128, 8, 8)
        return self.conv_blocks(x) * self.out_scale
