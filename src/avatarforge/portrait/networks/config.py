"""Sizes of the three networks: the published full size and a reduced one for CPU use."""

from __future__ import annotations

from dataclasses import asdict, dataclass

__all__ = ["NetConfig", "FULL", "REDUCED"]


@dataclass(frozen=True)
class NetConfig:
    """Shape of a morpher / rotator / combiner (all three share it)."""

    image_size: int = 256
    """Side of the square RGBA image the network works on."""
    width: int = 64
    """Channels after the first conv7 block ("intermediate channels"); doubled per halving."""
    bottleneck_size: int = 32
    """Side of the bottleneck feature map (image_size / 2**halvings)."""
    blocks: int = 6
    """ResNet blocks at the bottleneck."""
    image_channels: int = 4
    """RGBA."""

    def to_dict(self) -> dict:
        return asdict(self)


FULL = NetConfig()
"""The published architecture (256 px, 64 channels, 32 px bottleneck, six ResNet blocks)."""

REDUCED = NetConfig(image_size=128, width=8, bottleneck_size=16, blocks=2)
"""Same design, an eighth of the width, half the resolution, two blocks: CPU training and
real-time CPU inference (256 px images are resized to 128 px around the network)."""
