"""Stage 2, the two-algorithm face rotator: a colour-change path and an appearance-flow path."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

from avatarforge.portrait.networks.blocks import EncoderDecoder, conv7
from avatarforge.portrait.networks.config import FULL, NetConfig
from avatarforge.portrait.networks.morpher import append_pose

__all__ = ["TwoAlgoFaceRotator", "RotatorOutput", "warp"]


def warp(image: Float[Tensor, "B C H W"], offset: Float[Tensor, "B 2 H W"]) -> tuple[Tensor, Tensor]:
    """Sample ``image`` at the identity grid plus ``offset`` (x, y in normalised [-1, 1] units,
    align_corners=True, border padding, bilinear). Returns ``(warped, grid (B, H, W, 2))``."""
    b, _, h, w = image.shape
    ys = torch.linspace(-1.0, 1.0, h, dtype=image.dtype, device=image.device)
    xs = torch.linspace(-1.0, 1.0, w, dtype=image.dtype, device=image.device)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    grid = torch.stack([gx, gy], dim=-1)[None] + offset.permute(0, 2, 3, 1)
    out = F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return out, grid


@dataclass
class RotatorOutput:
    """Two rotated images (RGBA, [-1, 1], linear RGB) and what made them."""

    color_changed: Float[Tensor, "B 4 H W"]
    """Colour-change path (Pumarola et al.): ``alpha * input + (1 - alpha) * change``."""
    resampled: Float[Tensor, "B 4 H W"]
    """Appearance-flow path (Zhou et al.): the input sampled at the predicted grid."""
    change: Float[Tensor, "B 4 H W"]
    alpha: Float[Tensor, "B 4 H W"]
    grid_change: Float[Tensor, "B 2 H W"]
    """Predicted offset of the sampling grid (x, y), normalised units."""


class TwoAlgoFaceRotator(nn.Module):
    """Encoder-decoder over (image, 3 pose planes: head x, head y, neck z) with three heads.

    State-dict names: ``main_body.module_list.*``, ``pumarola_color_change.0.weight``,
    ``pumarola_alpha_mask.0.weight``, ``zhou_grid_change.weight`` (the published
    ``two_algo_face_rotator.pt`` layout).
    """

    pose_size = 3

    def __init__(self, config: NetConfig = FULL):
        super().__init__()
        self.config = config
        c = config.image_channels
        self.main_body = EncoderDecoder(config.image_size, c + self.pose_size, config.width,
                                        config.bottleneck_size, config.blocks)
        self.pumarola_color_change = nn.Sequential(conv7(config.width, c), nn.Tanh())
        self.pumarola_alpha_mask = nn.Sequential(conv7(config.width, c), nn.Sigmoid())
        self.zhou_grid_change = conv7(config.width, 2)

    def forward(self, image: Float[Tensor, "B 4 H W"], pose: Float[Tensor, "B 3"]) -> RotatorOutput:
        y = self.main_body(append_pose(image, pose))
        change, alpha = self.pumarola_color_change(y), self.pumarola_alpha_mask(y)
        grid_change = self.zhou_grid_change(y)
        resampled, _ = warp(image, grid_change)
        return RotatorOutput(
            color_changed=alpha * image + (1 - alpha) * change, resampled=resampled,
            change=change, alpha=alpha, grid_change=grid_change,
        )
