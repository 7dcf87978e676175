"""Residual networks with a 3×3 stem for small images.

``resnet20`` / ``resnet56``: He et al.'s CIFAR ResNets, 3 stages of 16/32/64 channels, parameter-free
shortcuts (option A: subsample and zero-pad channels). ``resnet18`` / ``resnet34``: the ImageNet
widths 64…512 with 1×1 convolution + BatchNorm shortcuts where the shape changes (option B), a 3×3
stem and no stem max-pool, as usual for CIFAR.

Each block taps its first unit's output and its own output (after the skip addition and the
activation), so a rule that cuts the graph between layers cuts it there.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from explorer.models.tap import Tap, activation


class PadShortcut(nn.Module):
    """Option A shortcut: take every second pixel and zero-pad the new channels equally."""

    def __init__(self, extra_channels: int) -> None:
        super().__init__()
        self.extra = extra_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.extra // 2
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, half, self.extra - half))


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, option: str, activation_name: str) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.act = activation(activation_name)
        self.tap1, self.tap2 = Tap(), Tap()
        if stride == 1 and cin == cout:
            self.shortcut: nn.Module = nn.Identity()
        elif option == "A":
            self.shortcut = PadShortcut(cout - cin)
        else:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.shortcut(x)  # first, so that conv2 is the last layer before tap2
        h = self.tap1(self.act(self.bn1(self.conv1(x))))
        return self.tap2(self.act(self.bn2(self.conv2(h)) + skip))


class ResNet(nn.Module):
    """Stem (3×3 conv, BN, activation), stages of BasicBlocks, global average pool, linear output.

    Example:
        >>> net = ResNet((3, 32, 32), 10, widths=(16, 32, 64), blocks=(1, 1, 1), option="A")
        >>> net(torch.zeros(2, 3, 32, 32)).shape
        torch.Size([2, 10])
    """

    def __init__(self, input_shape, outputs, widths, blocks, option, activation_name="relu") -> None:
        super().__init__()
        self.stem = nn.Conv2d(input_shape[0], widths[0], 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(widths[0])
        self.act = activation(activation_name)
        self.tap = Tap()
        layers, cin = [], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            for j in range(count):
                stride = 2 if i > 0 and j == 0 else 1
                layers.append(BasicBlock(cin, width, stride, option, activation_name))
                cin = width
        self.blocks = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.tap(self.act(self.bn(self.stem(x)))))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def resnet(name: str, input_shape, outputs, activation_name="relu") -> ResNet:
    """``resnet20``, ``resnet56`` (CIFAR, option A) or ``resnet18``, ``resnet34`` (option B)."""
    if name in ("resnet20", "resnet56"):
        n = {"resnet20": 3, "resnet56": 9}[name]
        return ResNet(input_shape, outputs, (16, 32, 64), (n, n, n), "A", activation_name)
    blocks = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3)}[name]
    return ResNet(input_shape, outputs, (64, 128, 256, 512), blocks, "B", activation_name)
