"""ReActNet-A on ImageNet with the paper's two-step BABW recipe (Table 2: 70.5% top-1).

Adam (betas 0.9 / 0.999) at 1.25e-3 for batch 256 with linear decay, 256 epochs per step;
step 1 binary activations with weight decay 5e-6, step 2 fully binary with decay 0, both
distilled from a real-valued teacher (the paper: a pretrained ResNet-34). Random resized
crop + flip, eval resize 256 / crop 224. Needs imagenet2012 prepared by tfds (its two tar
files in DATA_DIR/downloads/manual).

    python recipes/reactnet_a_imagenet.py --data-dir /data/tfds --teacher resnet34.h5 \\
        --strategy mirrored                # all local GPUs; --strategy tpu for a TPU
"""
from typing import Optional, Sequence

import _common


def main(argv: Optional[Sequence[str]] = None) -> int:
    return _common.imagenet_main(argv, "reactnet_a", __doc__)


if __name__ == "__main__":
    _common.run_main(main)
