"""Fig. 6 (Sec. 3.2.3): why Adam gets out of flat regions that stop SGD, on a toy network.

The network sums two binary nodes, ``out = A * s(x) + B * s(y)`` with ``s = sign`` in the
forward pass, and is trained on ``loss = (A + B - out)^2 / 2`` (both signs must become +1).
With the clip STE the gradient is that of ``s = clip(., -1, 1)``: it vanishes for a node
once its input leaves [-1, 1]. From the same start, y (weight B = 1) quickly saturates;
then only x's small gradient is left (it is scaled by A = 0.05). SGD with momentum crawls
with that small gradient and x's sign stays wrong; Adam divides by the gradient's own RMS,
so x keeps moving at the learning rate's pace and flips. Pure numpy, deterministic.
"""
from pathlib import Path
from typing import Union

import numpy as np

A, B = 0.05, 1.0          # node weights: x's gradient is 20x smaller than y's
TARGET = A + B            # reached when both signs are +1
START = (-0.8, -0.8)      # inside [-1, 1]^2: both gradients alive at first
GRID_X, GRID_Y = (-2.0, 2.0), (-2.0, 4.0)


def loss(x, y, node):
    """The toy network's squared error with ``node`` = np.sign (forward) or the clip."""
    return 0.5 * (TARGET - (A * node(x) + B * node(y))) ** 2


def sign(v):
    return np.where(v >= 0, 1.0, -1.0)  # Eq. 1: sign(0) = +1


def clip(v):
    return np.clip(v, -1.0, 1.0)


def clip_grad(p):
    """Gradient of the clip surface (the STE's) at ``p = (x, y)``."""
    x, y = p
    r = (A * clip(x) + B * clip(y)) - TARGET
    return np.array([r * A * (abs(x) <= 1), r * B * (abs(y) <= 1)])


def sgd(start, lr, steps, momentum=0.9):
    """PyTorch's SGD with momentum: ``v = m v + g; p -= lr v``."""
    p, v, path = np.array(start, float), np.zeros(2), [np.array(start, float)]
    for _ in range(steps):
        v = momentum * v + clip_grad(p)
        p = p - lr * v
        path.append(p.copy())
    return np.array(path)


def adam(start, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    """Adam (Kingma & Ba) with bias correction."""
    p, m, v, path = np.array(start, float), np.zeros(2), np.zeros(2), [np.array(start, float)]
    for t in range(1, steps + 1):
        g = clip_grad(p)
        m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
        p = p - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        path.append(p.copy())
    return np.array(path)


def x_share_after_y_saturates(path):
    """Share of the x direction in the total update once y has left [-1, 1]."""
    out = np.nonzero(np.abs(path[:, 1]) > 1)[0]
    if not out.size:
        return float("nan")
    d = np.abs(np.diff(path[out[0]:], axis=0))
    return float(d[:, 0].sum() / max(d.sum(), 1e-12))


def run(out_dir: Union[str, Path], *, steps: int = 80, sgd_lr: float = 0.05,
        adam_lr: float = 0.05, grid: int = 81) -> Path:
    """Both optimizers from the same start; the figure, a table and ``report.md`` in
    ``out_dir``. Returns the markdown file."""
    from larq_adam import report

    xs, ys = np.linspace(*GRID_X, grid), np.linspace(*GRID_Y, grid)
    X, Y = np.meshgrid(xs, ys)
    paths = {f"SGD (lr {sgd_lr:g}, momentum 0.9)": sgd(START, sgd_lr, steps),
             f"Adam (lr {adam_lr:g})": adam(START, adam_lr, steps)}
    fig = report.toy_landscape_figure(
        xs, ys, loss(X, Y, sign), loss(X, Y, clip), paths,
        title=f"Two sign nodes: out = {A:g} sign(x) + {B:g} sign(y); start {START}")
    run_dir = Path(out_dir)
    png = report.save_figure(fig, run_dir / "figures" / "fig6_toy_landscape.png")
    rows = [[name, f"({path[-1, 0]:.3f}, {path[-1, 1]:.3f})",
             f"{loss(*path[-1], sign):.4f}", f"{loss(*path[-1], clip):.4f}",
             f"{x_share_after_y_saturates(path):.3f}"] for name, path in paths.items()]
    table = report.markdown_table(
        ["optimizer", f"final (x, y) after {steps} steps", "forward loss (sign)",
         "clip loss", "x share of the update after y saturates"], rows)
    md = run_dir / "report.md"
    md.write_text("# Fig. 6: the two-sign-node toy landscape\n\n"
                  f"![Fig. 6](figures/{png.name})\n\n{table}")
    return md
