"""PyTorch implementations of the paper's networks, for equality checks and benchmarks.

They compute what the authors' PyTorch code computes (ReActNet-A, step 1 and step 2) and
what torchvision's ResNets compute, with the same parameter names and layouts, so their
``state_dict`` is interchangeable with released checkpoints. They need ``torch``
(``pip install "larq-adam[torch]"``); importing this package without it raises an
``ImportError`` that says so.
"""
try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "larq_adam.torch_reference needs PyTorch: pip install \"larq-adam[torch]\" "
        "(or pip install torch)"
    ) from exc
