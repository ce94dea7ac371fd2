"""ResNet-50 trunk with torchvision's parameter names (``conv1``, ``bn1``,
``layer1.0.conv1`` ... ``layer4.2.bn3``, ``layerK.0.downsample.0/1``), without ``fc``:
torchvision is not a dependency, and DECA's encoders store exactly these keys."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor, nn

__all__ = ["Bottleneck", "ResNet50"]


class Bottleneck(nn.Module):
    """1x1 -> 3x3 (stride here, as torchvision's v1.5) -> 1x1 (x4 channels), identity/projection skip."""

    expansion = 4

    def __init__(self, in_ch: int, width: int, stride: int = 1):
        super().__init__()
        out_ch = width * self.expansion
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))

    def forward(self, x: Tensor) -> Tensor:
        skip = x if self.downsample is None else self.downsample(x)
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.relu(self.bn2(self.conv2(y)))
        return self.relu(self.bn3(self.conv3(y)) + skip)


class ResNet50(nn.Module):
    """Stem (7x7/2 conv, BN, ReLU, 3x3/2 max-pool), stages of 3, 4, 6, 3 bottlenecks, global
    average pool -> (B, 2048)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = 64
        for i, (width, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), 1):
            layers = []
            for b in range(blocks):
                layers.append(Bottleneck(in_ch, width, stride if b == 0 else 1))
                in_ch = width * Bottleneck.expansion
            setattr(self, f"layer{i}", nn.Sequential(*layers))

    def forward(self, x: Float[Tensor, "B 3 H W"]) -> Float[Tensor, "B 2048"]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return torch.flatten(x.mean((2, 3)), 1)
