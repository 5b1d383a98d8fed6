"""ResNet-18/34 in PyTorch with torchvision's parameter names, for the teachers' checks.

The paper distils ReActNet-A from a real-valued ResNet-34 (after ReActNet's
distributional loss); :mod:`larq_adam.models.teachers` builds the same networks in Keras.
This module is written for the project (torchvision needs a build that is not always
available) and computes what ``torchvision.models.resnet18/34`` compute:

* stem ``conv1`` 7x7/2 (padding 3) -> ``bn1`` -> ReLU -> 3x3/2 max-pool (padding 1);
  the small-image form has a 3x3/1 ``conv1`` (padding 1) and no max-pool;
* ``layer1`` ... ``layer4`` of basic blocks ``conv1`` (3x3, stride s) -> ``bn1`` -> ReLU ->
  ``conv2`` -> ``bn2``, plus the shortcut (``downsample.0`` 1x1 conv with stride s and
  ``downsample.1`` BN when the shape changes), then ReLU;
* global average pool and ``fc``.

The channel multiplier ``width`` follows the Keras factory: ``max(8, round(64 * width))``
channels in ``layer1``, doubled in every later stage, so ``width=1`` gives torchvision's
11,689,512 / 21,797,672 parameters and its state dicts load unchanged.
"""
from typing import Optional

import torch
import torch.nn as nn

from larq_adam.errors import UserInputError

BLOCKS = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3)}


def base_channels(width: float) -> int:
    """Channels of ``layer1`` at multiplier ``width`` (the Keras teachers' rule)."""
    return max(8, int(round(64 * width)))


class BasicBlock(nn.Module):
    """torchvision's basic block: two 3x3 convs with BN, identity or 1x1-conv shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=False)
        self.downsample: Optional[nn.Sequential] = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(y + shortcut)


class ResNet(nn.Module):
    """ResNet-18 or -34 returning logits.

    Args:
        depth: 18 or 34.
        num_classes: size of ``fc``.
        width: channel multiplier (1.0: torchvision's network).
        small_input: 3x3/1 stem without max-pool (the Keras small-image form, <= 64 px).

    Example:
        >>> net = ResNet(34, num_classes=10, width=0.25, small_input=True)
    """

    def __init__(self, depth: int = 18, num_classes: int = 1000, width: float = 1.0,
                 small_input: bool = False):
        super().__init__()
        if depth not in BLOCKS:
            raise UserInputError(f"depth must be one of {sorted(BLOCKS)}, got {depth!r}")
        base = base_channels(width)
        self.small_input = bool(small_input)
        if self.small_input:
            self.conv1 = nn.Conv2d(3, base, 3, 1, 1, bias=False)
        else:
            self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        self.relu = nn.ReLU(inplace=False)
        self.maxpool = nn.Identity() if self.small_input else nn.MaxPool2d(3, 2, 1)
        inplanes = base
        for s, repeats in enumerate(BLOCKS[depth]):
            planes = base * 2**s
            blocks = []
            for b in range(repeats):
                stride = 2 if (s > 0 and b == 0) else 1
                blocks.append(BasicBlock(inplanes, planes, stride))
                inplanes = planes
            setattr(self, f"layer{s + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(inplanes, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        for s in range(1, 5):
            x = getattr(self, f"layer{s}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))


def resnet18(**kwargs) -> ResNet:
    """ResNet-18 (torchvision's names); see :class:`ResNet`."""
    return ResNet(18, **kwargs)


def resnet34(**kwargs) -> ResNet:
    """ResNet-34, the paper's teacher (torchvision's names); see :class:`ResNet`."""
    return ResNet(34, **kwargs)
