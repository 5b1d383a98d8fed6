"""PyTorch ReActNet-A (the authors' architecture, stem stride 1 for small inputs) timed on
a batch-64 Adam training step on CPU: the reference figure for bench/train_step.py.

Needs torch (not a project requirement). Prints ``img/s <median>`` as its last line.

    python bench/torch_reactnet.py --stage bnn --threads 2
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNELS = (32, 64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024)


class _ApproxSign(torch.autograd.Function):
    """sign(x) forward (+1 at 0), 2 - 2|x| on [-1, 1] backward (ReActNet's polynomial)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0).to(x.dtype)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * torch.clamp(2.0 - 2.0 * x.abs(), min=0.0)


class Shift(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, c, 1, 1))

    def forward(self, x):
        return x + self.bias


class Conv(nn.Module):
    """Binarizable conv: real weights (BA) or mean|W| * sign(W) with the clip STE (BNN)."""

    def __init__(self, cin, cout, k, stride, binary_weights):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(cout, cin, k, k))
        nn.init.kaiming_uniform_(self.weight, a=5 ** 0.5)
        self.stride, self.pad, self.binary = stride, k // 2, binary_weights

    def forward(self, x):
        w = self.weight
        if self.binary:
            scale = w.abs().mean(dim=(1, 2, 3), keepdim=True).detach()
            clipped = torch.clamp(w, -1.0, 1.0)
            w = (scale * torch.sign(w)).detach() - clipped.detach() + clipped
        return F.conv2d(x, w, stride=self.stride, padding=self.pad)


class Block(nn.Module):
    def __init__(self, cin, cout, stride, binary_weights):
        super().__init__()
        self.stride, self.double = stride, cout == 2 * cin
        self.move11, self.move21 = Shift(cin), Shift(cin)
        self.conv3 = Conv(cin, cin, 3, stride, binary_weights)
        self.bn1 = nn.BatchNorm2d(cin)
        self.rp1 = nn.Sequential(Shift(cin), nn.PReLU(cin), Shift(cin))
        n = 2 if self.double else 1
        self.pw = nn.ModuleList(Conv(cin, cin if self.double else cout, 1, 1, binary_weights)
                                for _ in range(n))
        self.bn2 = nn.ModuleList(nn.BatchNorm2d(cin if self.double else cout) for _ in range(n))
        self.rp2 = nn.Sequential(Shift(cout), nn.PReLU(cout), Shift(cout))

    def forward(self, x):
        out1 = self.bn1(self.conv3(_ApproxSign.apply(self.move11(x))))
        if self.stride == 2:
            x = F.avg_pool2d(x, 2, 2)
        out1 = self.rp1(out1 + x)
        b = _ApproxSign.apply(self.move21(out1))
        out2 = torch.cat([bn(pw(b)) + out1 for pw, bn in zip(self.pw, self.bn2)], dim=1)
        return self.rp2(out2)


class ReActNetA(nn.Module):
    def __init__(self, num_classes, binary_weights, small, width=1.0):
        super().__init__()
        base = max(8, round(32 * width))
        ch = [base * c // 32 for c in CHANNELS]
        layers = [nn.Conv2d(3, ch[0], 3, 1 if small else 2, 1, bias=False), nn.BatchNorm2d(ch[0])]
        for i in range(1, len(ch)):
            stride = 2 if CHANNELS[i - 1] != CHANNELS[i] and CHANNELS[i] != 64 else 1
            layers.append(Block(ch[i - 1], ch[i], stride, binary_weights))
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(ch[-1], num_classes)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(self.features(x), 1).flatten(1))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stage", choices=["ba", "bnn"], default="bnn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = ReActNetA(a.classes, a.stage == "bnn", a.size <= 64, a.width).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(a.warmup):
        step()
    rates = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        for _ in range(a.steps):
            step()
        rates.append(a.steps * a.batch / (time.perf_counter() - t0))
    print("runs", " ".join(f"{r:.1f}" for r in rates))
    print("img/s", f"{statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
