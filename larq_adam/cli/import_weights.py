"""``larq-adam import CHECKPOINT``: trained PyTorch weights into a Keras model file.

CHECKPOINT is a ``.pth.tar`` / ``.pth`` file: a ReActNet-A checkpoint as the paper's
two-step training writes it (AdamBNN's or ReActNet's release; step 1: ``--stage ba``, step
2: ``--stage bnn``; keys may carry DataParallel's ``module.`` prefix, binary weights may be
4-D ``weight`` or flat ``weights``) or a torchvision ResNet-18/34 state dict (the paper's
teacher is ResNet-34).
``la.models.from_pytorch`` builds the Keras model (class count and width read from the
tensors) and loads every tensor; it is saved as .h5. With ``--lce`` the model is also
exported (``la.export.check``: LCE file, op list, verification against Keras, model.json).
Needs torch >= 2.6 (``pip install larq-adam[torch]``). Only data is unpickled (tensors,
numbers, strings, containers: ``weights_only=True``); a file that asks for more is refused
unless ``--trust-checkpoint``, which unpickles it in full and runs any code it carries.

Exit status: 0 done, 1 the LCE file disagrees with Keras or a binary layer stayed float,
2 a bad checkpoint or option (one line says which).
"""
import argparse
import re
from pathlib import Path

from larq_adam import vocabulary
from larq_adam.cli import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="the PyTorch .pth.tar / .pth file to import")
    parser.add_argument("--model", choices=vocabulary.PYTORCH_IMPORTABLE,
                        default="reactnet_a", help="architecture of the checkpoint")
    parser.add_argument("--stage", choices=("ba", "bnn"), default=None,
                        help="ReActNet-A: ba = a step-1 checkpoint, bnn = step 2 (default)")
    parser.add_argument("--image-size", type=common.positive_int, default=224,
                        help="input side in px (<= 64 gives ReActNet-A's stride-1 stem)")
    parser.add_argument("--num-classes", type=common.positive_int, default=None,
                        help="expected class count (default: read from fc.weight; checked)")
    parser.add_argument("--width", type=common.positive_float, default=None,
                        help="expected channel multiplier (default: read from the stem)")
    parser.add_argument("--trust-checkpoint", action="store_true",
                        help="unpickle the checkpoint in full, running any code it carries "
                             "(only for a file from a source you trust; by default only "
                             "tensors, numbers and containers load)")
    parser.add_argument("--out", default=None,
                        help="the Keras model file (default: CHECKPOINT with suffix .h5)")
    parser.add_argument("--lce", action="store_true",
                        help="also export to LCE beside --out and verify it")
    parser.add_argument("--images", default=None, metavar="IMAGES.npy",
                        help="verification images (N, H, W, 3) float32, normalised as in "
                             "training (default: 16 random normal images)")
    common.add_debug(parser)


def default_out(checkpoint: str) -> str:
    """``model_best.pth.tar`` -> ``model_best.h5``."""
    return re.sub(r"(\.pth\.tar|\.pth|\.pt|\.tar)?$", "", checkpoint, count=1) + ".h5"


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import larq_adam as la
    from larq_adam.cli import export_run

    model = la.models.from_pytorch(
        args.checkpoint, model=args.model, stage=args.stage,
        input_shape=(args.image_size, args.image_size, 3), num_classes=args.num_classes,
        width=args.width, trust=args.trust_checkpoint)
    out = Path(args.out or default_out(args.checkpoint))
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    print(f"[import] {args.model} ({model.count_params():,} parameters, "
          f"{model.output_shape[-1]} classes) -> {out}")
    if not args.lce:
        return 0
    if args.images:
        images = np.load(args.images).astype("float32")
    else:
        shape = (16, *model.input_shape[1:])
        images = np.random.default_rng(0).normal(size=shape).astype("float32")
    result = la.export.check(model, images, out.parent, source=str(out),
                             images_from=args.images or "16 random normal images")
    export_run.print_result(result)
    return 0 if result.passed else 1
