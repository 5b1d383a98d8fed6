"""Bring trained PyTorch weights into Keras, save them, optionally put them on a phone.

    python recipes/import_pytorch.py CHECKPOINT [--model reactnet_a|resnet18|resnet34]
        [--stage ba|bnn] [--image-size 224] [--out MODEL.h5]
        [--lce MODEL.tflite [--images IMAGES.npy | --random-images 16]]

CHECKPOINT is a ``.pth.tar``/``.pth`` file: a ReActNet-A checkpoint as the paper's two-step
training writes it (step 1: --stage ba, step 2: --stage bnn; keys may carry DataParallel's
``module.`` prefix, binary weights may be 4-D or flat) or a torchvision ResNet-18/34 state
dict (the paper's teacher is ResNet-34). ``la.models.from_pytorch`` builds the Keras model
(class count and width read from the tensors) and loads every tensor; it is saved as .h5
(``tf.keras.models.load_model`` reads it back). With --lce the model is converted to Larq
Compute Engine (``la.export.to_lce``), its ops are listed (``la.export.op_report``) and the
LCE interpreter is checked against Keras (``la.export.verify``). The file runs on Android /
aarch64 with LCE's ``lce_benchmark_model --graph=MODEL.tflite``.

Exit status: 0 done, 1 the LCE file disagrees with Keras or a binary layer did not become
an ``LceBconv2d``, 2 a bad checkpoint or flag (a
one-line message says which and why). Checkpoints are unpickled: load only trusted files.
"""
import argparse
import re
import sys
from typing import Optional, Sequence

import larq_adam as la  # selects Keras 2 before TensorFlow loads
import numpy as np

from larq_adam.errors import LarqAdamError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="the PyTorch .pth.tar / .pth file to import")
    p.add_argument("--model", choices=("reactnet_a", "resnet18", "resnet34"),
                   default="reactnet_a", help="architecture of the checkpoint (reactnet_a)")
    p.add_argument("--stage", choices=("ba", "bnn"), default=None,
                   help="ReActNet-A only: ba = step-1 checkpoint (binary activations, real "
                        "weights), bnn = step 2, fully binary (default bnn)")
    p.add_argument("--image-size", type=int, default=224,
                   help="input side in px (224; <= 64 gives ReActNet-A's stride-1 stem)")
    p.add_argument("--num-classes", type=int, default=None,
                   help="expected class count (default: read from fc.weight; checked)")
    p.add_argument("--width", type=float, default=None,
                   help="expected channel multiplier (default: read from the stem; checked)")
    p.add_argument("--out", default=None,
                   help="the Keras model file (default: CHECKPOINT with the suffix .h5)")
    p.add_argument("--lce", default=None, metavar="MODEL.tflite",
                   help="also convert to Larq Compute Engine, list its ops and verify it")
    p.add_argument("--images", default=None, metavar="IMAGES.npy",
                   help="verification images (N, H, W, 3) float32, normalised as in "
                        "training (default: --random-images random normal images)")
    p.add_argument("--random-images", type=int, default=16,
                   help="how many random images verify uses without --images (16)")
    return p


def default_out(checkpoint: str) -> str:
    """``model_best.pth.tar`` -> ``model_best.h5``."""
    return re.sub(r"(\.pth\.tar|\.pth|\.pt|\.tar)?$", "", checkpoint, count=1) + ".h5"


def export(model, path: str, args: argparse.Namespace) -> bool:
    """LCE file, op report and verification against Keras; True when every fully binary
    layer became an ``LceBconv2d`` and the numbers agree."""
    info = la.export.to_lce(model, path)
    ops = la.export.op_report(info["path"], model=model, raise_on_missing=False)
    print(f"[import] {ops['binary_convs']} LceBconv2d ({ops['binary_mac_share']:.1%} of the "
          f"MACs); all ops: {ops['ops']}")
    if ops["not_binary"]:
        print(f"[import] not binary in the LCE file: {', '.join(ops['not_binary'])}")
    if args.images:
        images = np.load(args.images).astype("float32")
    else:
        shape = (args.random_images, *model.input_shape[1:])
        images = np.random.default_rng(0).normal(size=shape).astype("float32")
    result = la.export.verify(model, info["path"], images, raise_on_mismatch=False)
    print(f"[import] verify on {len(images)} images: "
          f"{'PASSED, ' + result['criterion'] if result['passed'] else 'FAILED'} "
          f"(max |diff| {result['rel_max_diff']:.2e} of the logit scale, top-1 agreement "
          f"{result['top1_agreement']:.3f})")
    return bool(result["passed"]) and not ops["not_binary"]


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        model = la.models.from_pytorch(
            args.checkpoint, model=args.model, stage=args.stage,
            input_shape=(args.image_size, args.image_size, 3),
            num_classes=args.num_classes, width=args.width)
    except LarqAdamError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = args.out or default_out(args.checkpoint)
    model.save(out)
    print(f"[import] {args.model} ({model.count_params():,} parameters, "
          f"{model.output_shape[-1]} classes) -> {out}")
    if args.lce and not export(model, args.lce, args):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
