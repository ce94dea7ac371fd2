"""The talking-head poser: morpher -> rotator -> combiner on one RGBA portrait.

Input and output images are uint8 sRGB RGBA (straight alpha). A network that works at a
smaller size than the image (the reduced variant: 128 px) sees an area-downsampled copy and
its output is upsampled back; only the pixels the network changed come from that copy (see
:meth:`Poser.pose_image`), so unchanged parts keep their full resolution.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float, UInt8
from torch import Tensor

from avatarforge.portrait.image import resize, to_rgba, to_tensor
from avatarforge.portrait.networks import Combiner, CombinerOutput, FaceMorpher, MorpherOutput, NetConfig, RotatorOutput, TwoAlgoFaceRotator
from avatarforge.portrait.pose import TalkingPose

__all__ = ["Poser", "PoserOutput"]


@dataclass
class PoserOutput:
    """Every intermediate of one pass (network tensors, RGBA in [-1, 1], linear RGB)."""

    morphed: MorpherOutput
    rotated: RotatorOutput
    combined: CombinerOutput

    @property
    def image(self) -> Float[Tensor, "B 4 H W"]:
        return self.combined.image


class Poser:
    """Three networks and the conventions to run them."""

    def __init__(self, morpher: FaceMorpher, rotator: TwoAlgoFaceRotator, combiner: Combiner, meta: dict | None = None):
        self.morpher, self.rotator, self.combiner = morpher.eval(), rotator.eval(), combiner.eval()
        self.meta = dict(meta or {})

    @property
    def config(self) -> NetConfig:
        return self.morpher.config

    @classmethod
    def load(cls, weights: str | os.PathLike | None = None) -> "Poser":
        """The bundled reduced networks (``weights`` None), a checkpoint file, or a folder of
        the published weight files."""
        from pathlib import Path

        from avatarforge.portrait.weights import load_checkpoint, load_published

        if weights is not None and Path(weights).is_dir():
            return cls(*load_published(weights), meta={"source": f"published weights in {weights}"})
        nets, meta = load_checkpoint(weights)
        return cls(*nets, meta=meta)

    @torch.inference_mode()
    def forward(self, image: Float[Tensor, "B 4 S S"], pose: Float[Tensor, "B 6"]) -> PoserOutput:
        """Run the three stages at the networks' own size ``S``."""
        m = self.morpher(image, pose[:, 3:6])
        r = self.rotator(m.image, pose[:, 0:3])
        c = self.combiner(r.color_changed, r.resampled, pose[:, 0:3])
        return PoserOutput(morphed=m, rotated=r, combined=c)

    def pose_tensor(self, image: Float[Tensor, "B 4 H W"], pose: Float[Tensor, "B 6"]) -> Float[Tensor, "B 4 H W"]:
        """Pose network tensors of any square size (resized to the networks' size and back)."""
        size = image.shape[-1]
        out = self.forward(resize(image, self.config.image_size), pose).image
        return resize(out, size)

    def pose_image(self, rgba: UInt8[np.ndarray, "H W 4"], pose: TalkingPose) -> UInt8[np.ndarray, "H W 4"]:
        """Pose one square uint8 RGBA image (any size; 256 is the reference).

        When the networks work at a smaller size, pixels whose low-resolution result barely
        differs from the low-resolution input (max channel change < 2/255 after upsampling)
        keep the original full-resolution pixel.
        """
        x = to_tensor(rgba)
        size = x.shape[-1]
        if size == self.config.image_size:
            return to_rgba(self.forward(x, pose.tensor()).image)[0]
        small = resize(x, self.config.image_size)
        out_small = self.forward(small, pose.tensor()).image
        out = resize(out_small, size)
        changed = (resize(out_small - small, size).abs().amax(1, keepdim=True) > 4 / 255)
        # Dilate the changed region a little so the seam is not at the edge of a change.
        changed = torch.nn.functional.max_pool2d(changed.float(), 5, 1, 2) > 0
        return to_rgba(torch.where(changed, out, x))[0]
