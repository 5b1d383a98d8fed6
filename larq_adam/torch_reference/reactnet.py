"""ReActNet-A in PyTorch with the parameter names and layouts of the authors' release.

The network is the one of :mod:`larq_adam.models.reactnet` (Table 3's ReActNet-A), written
for PyTorch so that the Keras model can be checked against it and so that checkpoints
with the authors' keys can be produced and read:

* ``feature.0`` is the stem (``conv1``: 3x3 conv, ``bn1``: BatchNorm); ``feature.1`` ...
  ``feature.13`` are the blocks; ``fc`` is the classifier. Every BatchNorm keeps its
  ``num_batches_tracked`` buffer, so ``state_dict()`` has the released checkpoints' 298
  keys (1000 classes), shapes included (pinned in ``tests/data``).
* Block parameters: ``move11`` (RSign shift), ``binary_3x3``, ``bn1``, ``move12`` /
  ``prelu1`` / ``move13`` (RPReLU), ``move21``, then ``binary_pw`` + ``bn2`` or, where the
  channels double, ``binary_pw_down1`` / ``binary_pw_down2`` + ``bn2_1`` / ``bn2_2``, and
  ``move22`` / ``prelu2`` / ``move23``. Shifts are stored ``(1, C, 1, 1)``.
* Binary activations (BA, BNN): ``sign`` forward (0 at 0, as ``torch.sign``; zero padding
  of the binarized input therefore pads with 0) and the piecewise-quadratic ApproxSign
  gradient ``2 - 2|x|`` on ``[-1, 1]``.
* Binary weights (BW, BNN), Eq. 2: ``mean|W| * sign(W)`` per output channel, the scale
  detached, the gradient that of ``clamp(W, -1, 1)``. Two layouts of the binarizable conv
  weights exist: ``weight`` ``(O, I, k, k)`` (the AdamBNN release, both steps, and
  ReActNet's step 1) and, with ``flat_binary_weights``, ``weights`` ``(O*I*k*k, 1)``
  (ReActNet's step-2 release).
"""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from larq_adam import vocabulary
from larq_adam.errors import UserInputError

STAGE_OUT_CHANNELS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)
STAGES = vocabulary.STAGES


def channels_for(width: float) -> List[int]:
    """Channel counts of the stem and the 13 blocks at channel multiplier ``width``
    (the Keras factory's rule: stem ``max(8, round(32 * width))``, exact ratios after)."""
    base = max(8, int(round(STAGE_OUT_CHANNELS[0] * width)))
    return [base * c // STAGE_OUT_CHANNELS[0] for c in STAGE_OUT_CHANNELS]


def block_strides() -> List[int]:
    """Stride of blocks 1..13: 2 where the channels change, except 32 -> 64."""
    pairs = zip(STAGE_OUT_CHANNELS[:-1], STAGE_OUT_CHANNELS[1:])
    return [2 if (a != b and b != 64) else 1 for a, b in pairs]


def binary_activation(x: torch.Tensor) -> torch.Tensor:
    """Eq. 1 forward with ApproxSign's gradient: the value of ``sign(x)`` and the gradient
    of the piecewise quadratic ``q(x)`` (``-1`` below -1, ``x^2 + 2x`` on [-1, 0),
    ``2x - x^2`` on [0, 1), ``1`` above)."""
    q = torch.where(x < 0, x * x + 2 * x, 2 * x - x * x)
    q = torch.clamp(torch.where(x.abs() >= 1, torch.sign(x), q), -1.0, 1.0)
    return q + (torch.sign(x) - q).detach()


class LearnableShift(nn.Module):
    """``x + b`` with ``b`` of shape ``(1, C, 1, 1)`` (the RSign / RPReLU shifts)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias.expand_as(x)


class BinarizableConv(nn.Module):
    """A bias-free conv whose input and/or weights are binarized (Eq. 1, Eq. 2)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, *,
                 binary_input: bool, binary_weight: bool, flat: bool, pad_value: float = 0.0):
        super().__init__()
        self.shape = (cout, cin, kernel, kernel)
        self.stride, self.padding = stride, kernel // 2
        self.pad_value = pad_value if binary_input else 0.0
        self.binary_input, self.binary_weight = binary_input, binary_weight
        numel = cout * cin * kernel * kernel
        bound = (cin * kernel * kernel) ** -0.5
        init = torch.empty(self.shape).uniform_(-bound, bound)
        self.param_name = "weights" if flat else "weight"
        self.register_parameter(self.param_name,
                                nn.Parameter(init.reshape(numel, 1) if flat else init))

    def kernel(self) -> torch.Tensor:
        w = getattr(self, self.param_name).view(self.shape)
        if not self.binary_weight:
            return w
        scale = w.abs().mean(dim=(1, 2, 3), keepdim=True).detach()
        clipped = torch.clamp(w, -1.0, 1.0)
        return clipped + (scale * torch.sign(w) - clipped).detach()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.binary_input:
            x = binary_activation(x)
        if self.pad_value == 0.0:
            return F.conv2d(x, self.kernel(), stride=self.stride, padding=self.padding)
        x = F.pad(x, (self.padding,) * 4, value=self.pad_value)
        return F.conv2d(x, self.kernel(), stride=self.stride)


class Stem(nn.Module):
    """The real 3x3 stem conv and its BatchNorm (keys ``conv1.*``, ``bn1.*``)."""

    def __init__(self, channels: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn1(self.conv1(x))


class Block(nn.Module):
    """One ReActNet-A block (``inplanes -> planes``, stride 1 or 2)."""

    def __init__(self, inplanes: int, planes: int, stride: int, *, stage: str, flat: bool,
                 pad_value: float = 0.0):
        super().__init__()
        opts = dict(binary_input=stage in ("ba", "bnn"), binary_weight=stage in ("bw", "bnn"),
                    flat=flat)
        self.stride, self.inplanes, self.planes = stride, inplanes, planes
        self.move11 = LearnableShift(inplanes)
        self.binary_3x3 = BinarizableConv(inplanes, inplanes, 3, stride, pad_value=pad_value,
                                          **opts)
        self.bn1 = nn.BatchNorm2d(inplanes)
        self.move12, self.prelu1 = LearnableShift(inplanes), nn.PReLU(inplanes)
        self.move13, self.move21 = LearnableShift(inplanes), LearnableShift(inplanes)
        if planes == inplanes:
            self.binary_pw = BinarizableConv(inplanes, planes, 1, 1, **opts)
            self.bn2 = nn.BatchNorm2d(planes)
        elif planes == 2 * inplanes:
            self.binary_pw_down1 = BinarizableConv(inplanes, inplanes, 1, 1, **opts)
            self.binary_pw_down2 = BinarizableConv(inplanes, inplanes, 1, 1, **opts)
            self.bn2_1, self.bn2_2 = nn.BatchNorm2d(inplanes), nn.BatchNorm2d(inplanes)
        else:
            raise UserInputError("planes must be inplanes or 2 * inplanes")
        self.move22, self.prelu2 = LearnableShift(planes), nn.PReLU(planes)
        self.move23 = LearnableShift(planes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out1 = self.bn1(self.binary_3x3(self.move11(x)))
        shortcut = F.avg_pool2d(x, 2, 2) if self.stride == 2 else x
        out1 = self.move13(self.prelu1(self.move12(out1 + shortcut)))
        out2 = self.move21(out1)
        if self.planes == self.inplanes:
            out2 = self.bn2(self.binary_pw(out2)) + out1
        else:
            out2 = torch.cat([self.bn2_1(self.binary_pw_down1(out2)) + out1,
                              self.bn2_2(self.binary_pw_down2(out2)) + out1], dim=1)
        return self.move23(self.prelu2(self.move22(out2)))


class ReActNetA(nn.Module):
    """ReActNet-A (Table 3) in ``stage`` "fp", "ba" (step 1), "bw" or "bnn" (step 2).

    Args:
        num_classes: logits.
        width: channel multiplier (1.0: the paper's network, 29,343,592 parameters).
        stem_stride: 2 for ImageNet-sized inputs, 1 for the small-image form.
        stage: which of activations and weights are binary.
        flat_binary_weights: store the binarizable conv weights as ``weights``
            ``(n, 1)`` (ReActNet's step-2 release) instead of ``weight`` ``(O, I, k, k)``.
        pad_value: value that pads the binarized inputs of the 3x3 convs: 0 as the
            authors' code; 1 matches the Keras models' ``pad_values=1`` (LCE's fast path).
    """

    def __init__(self, num_classes: int = 1000, width: float = 1.0, stem_stride: int = 2,
                 stage: str = "bnn", flat_binary_weights: bool = False,
                 pad_value: float = 0.0):
        super().__init__()
        if stage not in STAGES:
            raise UserInputError(f"unknown stage {stage!r}; valid stages are {STAGES}")
        ch = channels_for(width)
        self.feature = nn.ModuleList([Stem(ch[0], stem_stride)])
        for i, stride in enumerate(block_strides(), start=1):
            self.feature.append(Block(ch[i - 1], ch[i], stride, stage=stage,
                                      flat=flat_binary_weights, pad_value=pad_value))
        self.fc = nn.Linear(ch[-1], num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.feature:
            x = layer(x)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def weight_decay_groups(model: nn.Module) -> Tuple[list, list]:
    """``(decayed, other)`` parameters by the released training script's rule: a parameter
    is decayed when it is 4-D (conv kernels, the ``(1, C, 1, 1)`` shifts) or its name
    contains ``conv`` (the stem's ``conv1``, 4-D anyway). Flat ``(n, 1)`` binary weights
    (``binary_3x3.weights``, ``binary_pw.weights``) are neither and fall in ``other``, as in
    the release."""
    decayed, other = [], []
    for name, p in model.named_parameters():
        (decayed if p.ndim == 4 or "conv" in name else other).append(p)
    return decayed, other
