"""PyTorch implementations of the paper's networks, for equality checks and benchmarks.

They compute what the authors' PyTorch code computes (ReActNet-A, step 1 and step 2) and
what torchvision's ResNets compute, with the same parameter names and layouts, so their
``state_dict`` is interchangeable with released checkpoints. They need ``torch``
(``pip install "larq-adam[torch]"``); importing this package without it raises a
``MissingDependencyError`` (an ``ImportError``) that says so.
"""
try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    from larq_adam.errors import MissingDependencyError

    raise MissingDependencyError(
        "larq_adam.torch_reference needs PyTorch: pip install \"larq-adam[torch]\" "
        "(or pip install torch)"
    ) from exc


def randomize_like_trained(module: "torch.nn.Module", seed: int = 0) -> "torch.nn.Module":
    """Give ``module`` weights and BatchNorm statistics as after training (the PyTorch
    counterpart of ``larq_adam.export.randomize_like_trained``), in place: conv and linear
    weights ~ N(0, 1/fan_in), BN gamma in [0.5, 1.5], beta ~ N(0, 0.2), running mean
    ~ N(0, 0.3), running variance in [0.5, 2], PReLU slopes in [0.05, 0.4], the
    ``(1, C, 1, 1)`` shifts and biases ~ N(0, 0.1). Fresh modules are a poor test: all-ones
    statistics hide mistakes in what a model does with them."""
    g = torch.Generator().manual_seed(seed)

    def fill(t, kind):
        shape, dtype = t.shape, t.dtype
        if kind == "uniform":
            return torch.rand(shape, generator=g, dtype=torch.float64).to(dtype)
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)

    with torch.no_grad():
        for name, p in module.named_parameters():
            leaf = name.rsplit(".", 1)[0]
            sub = module.get_submodule(leaf) if "." in name else module
            if isinstance(sub, torch.nn.modules.batchnorm._BatchNorm):
                p.copy_(0.5 + fill(p, "uniform") if name.endswith("weight") else 0.2 * fill(p, "n"))
            elif isinstance(sub, torch.nn.PReLU):
                p.copy_(0.05 + 0.35 * fill(p, "uniform"))
            elif name.endswith(("weight", "weights")) and p.ndim >= 2:
                shape = getattr(sub, "shape", p.shape)  # flat binary weights know their 4-D shape
                fan_in = int(torch.tensor(shape[1:]).prod())
                p.copy_(fill(p, "n") / fan_in ** 0.5)
            else:
                p.copy_(0.1 * fill(p, "n"))
        for name, b in module.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.3 * fill(b, "n"))
            elif name.endswith("running_var"):
                b.copy_(0.5 + 1.5 * fill(b, "uniform"))
    return module
