"""Stage 1, the face morpher: closes eyes and opens the mouth by changing colours."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor, nn

from avatarforge.portrait.networks.blocks import EncoderDecoder, conv7
from avatarforge.portrait.networks.config import FULL, NetConfig

__all__ = ["FaceMorpher", "MorpherOutput", "append_pose"]


def append_pose(image: Float[Tensor, "B C H W"], pose: Float[Tensor, "B P"]) -> Float[Tensor, "B C+P H W"]:
    """The pose values broadcast to constant image planes, appended after the image channels."""
    b, _, h, w = image.shape
    return torch.cat([image, pose[:, :, None, None].expand(b, pose.shape[1], h, w)], dim=1)


@dataclass
class MorpherOutput:
    """Face morpher result; images are RGBA in [-1, 1] with linear RGB."""

    image: Float[Tensor, "B 4 H W"]
    """``alpha * input + (1 - alpha) * change``."""
    alpha: Float[Tensor, "B 4 H W"]
    """Per-channel keep-the-input mask in [0, 1]."""
    change: Float[Tensor, "B 4 H W"]
    """The change image (tanh, [-1, 1])."""


class FaceMorpher(nn.Module):
    """Encoder-decoder over (image, 3 pose planes: left eye, right eye, mouth).

    State-dict names: ``main_body.module_list.*``, ``color_change.0.weight``,
    ``alpha_mask.0.weight`` (the published ``face_morpher.pt`` layout).
    """

    pose_size = 3

    def __init__(self, config: NetConfig = FULL):
        super().__init__()
        self.config = config
        c = config.image_channels
        self.main_body = EncoderDecoder(config.image_size, c + self.pose_size, config.width,
                                        config.bottleneck_size, config.blocks)
        self.color_change = nn.Sequential(conv7(config.width, c), nn.Tanh())
        self.alpha_mask = nn.Sequential(conv7(config.width, c), nn.Sigmoid())

    def forward(self, image: Float[Tensor, "B 4 H W"], pose: Float[Tensor, "B 3"]) -> MorpherOutput:
        y = self.main_body(append_pose(image, pose))
        change, alpha = self.color_change(y), self.alpha_mask(y)
        return MorpherOutput(image=alpha * image + (1 - alpha) * change, alpha=alpha, change=change)
