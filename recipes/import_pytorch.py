"""Trained PyTorch weights (the authors' ReActNet-A checkpoints, torchvision ResNets) into
Keras, saved, then exported to LCE with its proof. The same from the command line:
``larq-adam import CHECKPOINT --stage bnn --lce``. Needs torch.

    python recipes/import_pytorch.py model_best.pth.tar bnn
"""
import os
import sys

import numpy as np

import larq_adam as la


def main(checkpoint: str, stage: str = "bnn", image_size: int = 224) -> None:
    model = la.models.from_pytorch(checkpoint, model="reactnet_a", stage=stage,
                                   input_shape=(image_size, image_size, 3))
    out = checkpoint.rsplit(".pth", 1)[0] + ".h5"
    model.save(out)
    images = np.random.default_rng(0).normal(size=(16, image_size, image_size, 3))
    result = la.export.check(model, images.astype("float32"), os.path.dirname(out) or ".",
                             source=out, images_from="16 random normal images")
    print(f"{out}: LCE check {'PASSED' if result.passed else 'FAILED'}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
