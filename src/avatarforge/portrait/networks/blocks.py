"""Layer blocks of the Talking Head Anime networks, with the published parameter names.

Every convolution has no bias and is He-initialised; every normalisation is an affine
InstanceNorm (so a state dict holds ``weight``/``bias`` per norm and only ``weight`` per conv).
Sequential blocks keep their index layout (``0`` = conv, ``1`` = norm) so that the released
weight files load with ``strict=True``.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = [
    "conv7", "conv3", "conv7_block", "downsample_block", "upsample_block",
    "ResNetBlock", "EncoderDecoder", "UNet",
]


def _he(conv: nn.Module) -> nn.Module:
    if not conv.weight.is_meta:  # a meta network is only a shape for loading weights into
        nn.init.kaiming_normal_(conv.weight)
    return conv


def conv7(cin: int, cout: int) -> nn.Conv2d:
    """7x7 convolution, stride 1, 'same' padding, no bias."""
    return _he(nn.Conv2d(cin, cout, kernel_size=7, stride=1, padding=3, bias=False))


def conv3(cin: int, cout: int) -> nn.Conv2d:
    """3x3 convolution, stride 1, 'same' padding, no bias."""
    return _he(nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False))


def conv7_block(cin: int, cout: int) -> nn.Sequential:
    """conv7 -> affine InstanceNorm -> ReLU."""
    return nn.Sequential(conv7(cin, cout), nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


def downsample_block(cin: int) -> nn.Sequential:
    """4x4 stride-2 conv doubling the channels -> InstanceNorm -> ReLU (halves H and W)."""
    conv = _he(nn.Conv2d(cin, 2 * cin, kernel_size=4, stride=2, padding=1, bias=False))
    return nn.Sequential(conv, nn.InstanceNorm2d(2 * cin, affine=True), nn.ReLU(inplace=True))


def upsample_block(cin: int, cout: int) -> nn.Sequential:
    """4x4 stride-2 transposed conv -> InstanceNorm -> ReLU (doubles H and W)."""
    conv = _he(nn.ConvTranspose2d(cin, cout, kernel_size=4, stride=2, padding=1, bias=False))
    return nn.Sequential(conv, nn.InstanceNorm2d(cout, affine=True), nn.ReLU(inplace=True))


class ResNetBlock(nn.Module):
    """x + norm2(conv2(relu(norm1(conv1(x))))), 3x3 convs, channels unchanged."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = conv3(channels, channels)
        self.norm1 = nn.InstanceNorm2d(channels, affine=True)
        self.conv2 = conv3(channels, channels)
        self.norm2 = nn.InstanceNorm2d(channels, affine=True)

    def forward(self, x: Float[Tensor, "B C H W"]) -> Float[Tensor, "B C H W"]:
        return x + self.norm2(self.conv2(torch.relu(self.norm1(self.conv1(x)))))


def _halvings(image_size: int, bottleneck_size: int) -> int:
    if image_size < bottleneck_size or image_size % bottleneck_size:
        raise ValueError(f"image size {image_size} must be a multiple of the bottleneck size {bottleneck_size}")
    n, s = 0, image_size
    while s > bottleneck_size:
        s //= 2
        n += 1
    if s != bottleneck_size:
        raise ValueError(f"image size {image_size} / bottleneck {bottleneck_size} is not a power of two")
    return n


class EncoderDecoder(nn.Module):
    """conv7 block to ``width`` channels, stride-2 halvings (doubling channels) down to
    ``bottleneck_size``, ``blocks`` ResNet blocks, transposed-conv doublings back up.

    Output: ``width`` channels at the input size. Parameters live in ``module_list``.
    """

    def __init__(self, image_size: int, in_channels: int, width: int, bottleneck_size: int, blocks: int):
        super().__init__()
        n = _halvings(image_size, bottleneck_size)
        layers: list[nn.Module] = [conv7_block(in_channels, width)]
        c = width
        for _ in range(n):
            layers.append(downsample_block(c))
            c *= 2
        layers += [ResNetBlock(c) for _ in range(blocks)]
        for _ in range(n):
            layers.append(upsample_block(c, c // 2))
            c //= 2
        self.module_list = nn.ModuleList(layers)

    def forward(self, x: Float[Tensor, "B Cin H W"]) -> Float[Tensor, "B width H W"]:
        for m in self.module_list:
            x = m(x)
        return x


class UNet(nn.Module):
    """The encoder-decoder with skip connections (the combiner's trunk).

    ``downward_modules``: conv7 block + halvings; ``bottleneck_modules``: ResNet blocks;
    ``upsampling_modules`` is stored finest-first: index 0 is the last conv7 block (over the
    final features concatenated with the conv7 block's output), index ``n`` the first
    up-sampling from the bottleneck; every other up-sampling takes the previous output
    concatenated with the encoder features of the same size.
    """

    def __init__(self, image_size: int, in_channels: int, width: int, bottleneck_size: int, blocks: int):
        super().__init__()
        n = _halvings(image_size, bottleneck_size)
        self.downward_modules = nn.ModuleList([conv7_block(in_channels, width)])
        skip = [width]  # channels of each encoder output, finest first
        c = width
        for _ in range(n):
            self.downward_modules.append(downsample_block(c))
            c *= 2
            skip.append(c)
        self.bottleneck_modules = nn.ModuleList([ResNetBlock(c) for _ in range(blocks)])
        ups: list[nn.Module] = []  # coarsest first while building
        for level in range(n, 0, -1):
            cin = c if level == n else c + skip[level]
            ups.append(upsample_block(cin, c // 2))
            c //= 2
        ups.append(conv7_block(c + width, width))
        self.upsampling_modules = nn.ModuleList(ups[::-1])

    def forward(self, x: Float[Tensor, "B Cin H W"]) -> Float[Tensor, "B width H W"]:
        feats = []
        for m in self.downward_modules:
            x = m(x)
            feats.append(x)
        for m in self.bottleneck_modules:
            x = m(x)
        ups = self.upsampling_modules
        x = ups[-1](x)
        for i in range(len(ups) - 2, -1, -1):
            x = ups[i](torch.cat([x, feats[i]], dim=1))
        return x
