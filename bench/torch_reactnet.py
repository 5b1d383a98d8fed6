"""PyTorch ReActNet-A timed on a batch-64 Adam training step on CPU: the reference figure
for bench/train_step.py.

The network is :class:`larq_adam.torch_reference.reactnet.ReActNetA`, which computes what
the authors' PyTorch code computes (layers, zero padding of the binarized inputs,
BatchNorm placement, ``torch.sign``, the ApproxSign and clip-STE gradients; checked
against the Keras model in float64 by tests/test_reference_equality.py), stem stride 1 at
<= 64 px. The optimizer is the authors' setting: ``torch.optim.Adam`` with weight decay
5e-6 on the 4-D parameters. ``--bf16`` runs the forward pass under
``torch.autocast("cpu", dtype=torch.bfloat16)``, PyTorch's counterpart of Keras'
``mixed_bfloat16`` policy. Needs torch. Prints ``img/s <median>`` as its last line.

    python bench/torch_reactnet.py --stage bnn --threads 2 [--bf16]

``--serve`` (what ``bench/train_step.py --torch`` uses): after the warm-up it prints
``ready``, then runs as many steps as each line of its input asks and answers each with
``img/s <rate>``, so the caller can time it in windows alternating with its own.
"""
import argparse
import contextlib
import statistics
import sys
import time

import torch
import torch.nn.functional as F

from larq_adam.torch_reference.reactnet import STAGES, ReActNetA, weight_decay_groups


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--stage", choices=STAGES, default="bnn")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast (forward)")
    p.add_argument("--serve", action="store_true",
                   help="after the warm-up, time the number of steps each input line asks")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    model = ReActNetA(num_classes=a.classes, width=a.width, stage=a.stage,
                      stem_stride=1 if a.size <= 64 else 2).train()
    decayed, other = weight_decay_groups(model)
    opt = torch.optim.Adam([{"params": other}, {"params": decayed, "weight_decay": 5e-6}],
                           lr=1e-3)
    x = torch.randn(a.batch, 3, a.size, a.size)
    y = torch.randint(0, a.classes, (a.batch,))
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.bf16 else \
        contextlib.nullcontext

    def step():
        opt.zero_grad(set_to_none=True)
        with autocast():
            loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    def rate(steps: int) -> float:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        return steps * a.batch / (time.perf_counter() - t0)

    for _ in range(a.warmup):
        step()
    if a.serve:
        print("ready", flush=True)
        for line in sys.stdin:
            print("img/s", f"{rate(int(line)):.3f}", flush=True)
        return
    rates = [rate(a.steps) for _ in range(a.repeats)]
    print("runs", " ".join(f"{r:.1f}" for r in rates))
    print("img/s", f"{statistics.median(rates):.1f}")


if __name__ == "__main__":
    main()
