"""The generator, the textured neural avatar and the Direct baseline.

Both avatars share one fully convolutional generator (:class:`Generator`, a small U-Net:
instance norm, strided convolutions down, nearest upsampling + convolution up) that reads the
bone stack of :mod:`.bones`. They differ in the head:

* :class:`TexturedAvatar`: ``n + 1`` part logits (softmax; channel ``n`` is the background)
  and ``2 n`` UV channels (sigmoid, ``(u, v)`` of part ``i`` in channels ``n+1+2i, n+2+2i``);
  a learned texture stack ``(n, 3, T, T)`` is sampled per part with ``grid_sample`` and the
  image is ``sum_i w_i * texture_i(uv_i) + w_bg * background``.
* :class:`DirectAvatar`: 3 RGB channels (sigmoid) and one mask logit; the image is
  ``m * rgb + (1 - m) * background``.

Part UV convention (internal to this package): ``(u, v)`` in ``[0, 1]^2`` maps to texel
column ``u * T`` and row ``v * T`` (``grid_sample`` with ``align_corners=False``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["ModelConfig", "AvatarOutput", "Generator", "TexturedAvatar", "DirectAvatar", "build_model", "MODEL_KINDS"]

MODEL_KINDS = ("texture", "direct")

SPARSE_EPS = 1e-3
"""Inference skips a part's texture lookup where its weight is below this."""


@dataclass
class ModelConfig:
    """Architecture of an avatar model (saved as ``config.json`` in the model folder)."""

    kind: str = "texture"
    """'texture' (textured neural avatar) or 'direct' (the baseline)."""
    in_channels: int = 20
    """Bone channels of the input (``len(skeleton.BONES)``)."""
    n_parts: int = 15
    """Body parts (texture model only)."""
    texture_size: int = 64
    """Side of each part texture in texels (texture model only)."""
    base_channels: int = 16
    """Channels of the generator's first level (doubled at each of the ``depth`` levels)."""
    depth: int = 3
    """Downsampling levels of the U-Net (input sides must be multiples of ``2 ** depth``)."""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AvatarOutput:
    """What an avatar predicts for a batch of bone stacks."""

    rgb: Float[Tensor, "B 3 H W"]
    """The image composited over the background, in [0, 1] (up to texture overshoot)."""
    mask_logit: Float[Tensor, "B 1 H W"] | None
    """Direct: the mask logit."""
    log_mask: Float[Tensor, "B 1 H W"]
    """log P(person) per pixel."""
    log_background: Float[Tensor, "B 1 H W"]
    """log P(background) per pixel."""
    part_logits: Float[Tensor, "B P H W"] | None = None
    """Texture model: ``n + 1`` part logits (last = background)."""
    part_uv: Float[Tensor, "B n 2 H W"] | None = None
    """Texture model: per-part ``(u, v)`` in [0, 1]."""

    @property
    def mask(self) -> Float[Tensor, "B 1 H W"]:
        return self.log_mask.exp()


def _block(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride, 1), nn.InstanceNorm2d(cout, affine=True), nn.LeakyReLU(0.2, inplace=True)
    )


class _Up(nn.Module):
    """Nearest x2 upsampling, a 1x1 projection to the skip's channels, the skip added, a 3x3 block."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, 1)
        self.block = _block(cout, cout)

    def forward(self, y: Tensor, skip: Tensor) -> Tensor:
        # Projecting before upsampling is the same maths (1x1 conv and nearest commute), 4x cheaper.
        return self.block(F.interpolate(self.proj(y), scale_factor=2, mode="nearest") + skip)


class Generator(nn.Module):
    """A small U-Net on bone stacks: ``depth`` strided levels, additive skips, instance norm.

    Channels are ``base * (1, 2, 4, 6, ...)`` per level; skips are added rather than
    concatenated to keep the full-resolution levels cheap (rendering speed).
    """

    def __init__(self, in_channels: int, out_channels: int, base: int = 16, depth: int = 3):
        super().__init__()
        chans = [base * m for m in (1, 2, 4, 6, 8, 8, 8)[: depth + 1]]
        self.stem = _block(in_channels, base)
        self.down = nn.ModuleList([nn.Sequential(_block(chans[i], chans[i + 1], 2), _block(chans[i + 1], chans[i + 1]))
                                   for i in range(depth)])
        self.mid = nn.Sequential(_block(chans[-1], chans[-1]), _block(chans[-1], chans[-1]))
        self.up = nn.ModuleList([_Up(chans[i + 1], chans[i]) for i in reversed(range(depth))])
        self.head = nn.Conv2d(base, out_channels, 1)  # 1x1: a 3x3 head at full size costs as much as the rest
        self.depth = depth

    def forward(self, x: Float[Tensor, "B C H W"]) -> Float[Tensor, "B O H W"]:
        h, w = x.shape[-2:]
        if h % 2**self.depth or w % 2**self.depth:
            raise ValueError(f"image sides must be multiples of {2 ** self.depth}, got {h}x{w}")
        skips = [self.stem(x)]
        for level in self.down:
            skips.append(level(skips[-1]))
        y = self.mid(skips.pop())
        for level in self.up:
            y = level(y, skips.pop())
        return self.head(y)


def _background(bg: Tensor | None, like: Tensor) -> Tensor:
    """Background as (B|1, 3, H, W): None = black, (3,) = a colour, or an image batch."""
    if bg is None:
        return torch.zeros(1, 3, 1, 1, dtype=like.dtype)
    bg = bg.to(like.dtype)
    return bg.view(1, 3, 1, 1) if bg.ndim == 1 else bg


class TexturedAvatar(nn.Module):
    """Generator -> soft part assignments + per-part UVs; a learned texture stack sampled there."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n = config.n_parts
        self.generator = Generator(config.in_channels, (n + 1) + 2 * n, config.base_channels, config.depth)
        self.texture = nn.Parameter(torch.full((n, 3, config.texture_size, config.texture_size), 0.5))

    def maps(self, bones: Float[Tensor, "B C H W"]) -> tuple[Tensor, Tensor]:
        """Part logits (B, n+1, H, W) and part UVs (B, n, 2, H, W) in [0, 1]."""
        n = self.config.n_parts
        out = self.generator(bones)
        b, _, h, w = out.shape
        return out[:, : n + 1], torch.sigmoid(out[:, n + 1 :]).view(b, n, 2, h, w)

    def sample(self, part_uv: Float[Tensor, "B n 2 H W"]) -> Float[Tensor, "B n 3 H W"]:
        """Each part's texture sampled at its UV map."""
        b, n, _, h, w = part_uv.shape
        grid = (part_uv * 2 - 1).permute(0, 1, 3, 4, 2).reshape(b * n, h, w, 2)
        tex = self.texture.unsqueeze(0).expand(b, -1, -1, -1, -1).reshape(b * n, 3, *self.texture.shape[-2:])
        return F.grid_sample(tex, grid, mode="bilinear", padding_mode="border", align_corners=False).view(b, n, 3, h, w)

    def blend(self, weights: Float[Tensor, "B P H W"], part_uv: Float[Tensor, "B n 2 H W"]) -> Float[Tensor, "B 3 H W"]:
        """``sum_i w_i * texture_i(uv_i)`` over the parts (the foreground, not composited)."""
        n = self.config.n_parts
        if torch.is_grad_enabled():
            return torch.einsum("bnhw,bnchw->bchw", weights[:, :n], self.sample(part_uv))  # n: part, c: colour
        # Inference: sample each part only where its weight matters (same result up to
        # SPARSE_EPS of weight), ~n times fewer texture lookups.
        b, _, h, w = weights.shape
        out = torch.zeros(b, 3, h * w, dtype=weights.dtype)
        for i in range(n):
            wi = weights[:, i].reshape(b, -1)
            for k in range(b):
                idx = torch.nonzero(wi[k] > SPARSE_EPS).squeeze(1)
                if idx.numel() == 0:
                    continue
                grid = part_uv[k, i].reshape(2, -1)[:, idx].T * 2 - 1  # (N, 2)
                s = F.grid_sample(self.texture[i : i + 1], grid[None, None], mode="bilinear",
                                  padding_mode="border", align_corners=False)[0, :, 0]  # (3, N)
                out[k][:, idx] += wi[k, idx] * s
        return out.view(b, 3, h, w)

    def forward(self, bones: Float[Tensor, "B C H W"], background: Tensor | None = None) -> AvatarOutput:
        logits, uv = self.maps(bones)
        n = self.config.n_parts
        weights = torch.softmax(logits, 1)
        fg = self.blend(weights, uv)
        rgb = fg + weights[:, n : n + 1] * _background(background, fg)
        log_all = torch.logsumexp(logits, 1, keepdim=True)
        log_bg = logits[:, n : n + 1] - log_all
        log_fg = torch.logsumexp(logits[:, :n], 1, keepdim=True) - log_all
        return AvatarOutput(rgb=rgb, mask_logit=None, log_mask=log_fg, log_background=log_bg,
                            part_logits=logits, part_uv=uv)


class DirectAvatar(nn.Module):
    """The Direct baseline: the same generator predicting RGB and a mask, no texture."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config.in_channels, 4, config.base_channels, config.depth)

    def forward(self, bones: Float[Tensor, "B C H W"], background: Tensor | None = None) -> AvatarOutput:
        out = self.generator(bones)
        fg, logit = torch.sigmoid(out[:, :3]), out[:, 3:4]
        m = torch.sigmoid(logit)
        rgb = m * fg + (1 - m) * _background(background, fg)
        return AvatarOutput(rgb=rgb, mask_logit=logit, log_mask=F.logsigmoid(logit), log_background=F.logsigmoid(-logit))


def build_model(config: ModelConfig) -> TexturedAvatar | DirectAvatar:
    """The avatar of ``config.kind``."""
    if config.kind == "texture":
        return TexturedAvatar(config)
    if config.kind == "direct":
        return DirectAvatar(config)
    raise ValueError(f"unknown model kind {config.kind!r}: choose one of {', '.join(MODEL_KINDS)}")
