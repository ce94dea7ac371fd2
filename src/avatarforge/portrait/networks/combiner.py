"""Stage 3, the combiner: mixes the rotator's two images and retouches the result."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn

from avatarforge.portrait.networks.blocks import UNet, conv7
from avatarforge.portrait.networks.config import FULL, NetConfig
from avatarforge.portrait.networks.morpher import append_pose

__all__ = ["Combiner", "CombinerOutput"]


@dataclass
class CombinerOutput:
    """Final image and its parts (RGBA, [-1, 1], linear RGB)."""

    image: Float[Tensor, "B 4 H W"]
    """``retouch * combined + (1 - retouch) * retouch_change``."""
    combined: Float[Tensor, "B 4 H W"]
    """``mask * color_changed + (1 - mask) * resampled``."""
    combine_mask: Float[Tensor, "B 4 H W"]
    retouch_mask: Float[Tensor, "B 4 H W"]
    retouch_change: Float[Tensor, "B 4 H W"]


class Combiner(nn.Module):
    """U-Net over (colour-changed image, resampled image, 3 rotation pose planes).

    State-dict names: ``main_body.{downward,bottleneck,upsampling}_modules.*``,
    ``combine_alpha_mask.0.weight``, ``retouch_alpha_mask.0.weight``,
    ``retouch_color_change.0.weight`` (the published ``combiner.pt`` layout).
    """

    pose_size = 3

    def __init__(self, config: NetConfig = FULL):
        super().__init__()
        self.config = config
        c = config.image_channels
        self.main_body = UNet(config.image_size, 2 * c + self.pose_size, config.width,
                              config.bottleneck_size, config.blocks)
        self.combine_alpha_mask = nn.Sequential(conv7(config.width, c), nn.Sigmoid())
        self.retouch_alpha_mask = nn.Sequential(conv7(config.width, c), nn.Sigmoid())
        self.retouch_color_change = nn.Sequential(conv7(config.width, c), nn.Tanh())

    def forward(
        self, color_changed: Float[Tensor, "B 4 H W"], resampled: Float[Tensor, "B 4 H W"], pose: Float[Tensor, "B 3"]
    ) -> CombinerOutput:
        y = self.main_body(append_pose(torch.cat([color_changed, resampled], dim=1), pose))
        mask = self.combine_alpha_mask(y)
        combined = mask * color_changed + (1 - mask) * resampled
        retouch = self.retouch_alpha_mask(y)
        change = self.retouch_color_change(y)
        return CombinerOutput(image=retouch * combined + (1 - retouch) * change, combined=combined,
                              combine_mask=mask, retouch_mask=retouch, retouch_change=change)
