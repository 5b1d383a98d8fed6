"""StrongBaseline (Real-to-Binary, ResNet-18 layout) on ImageNet with the paper's two-step
BABW recipe (Table 2: 63.2% top-1, Table 4's BABW row).

Adam at 1.25e-3 for batch 256 with linear decay, 256 epochs per step; step 1 binary
activations with weight decay 5e-6, step 2 fully binary with decay 0, distilled from a
real-valued teacher (the paper: a pretrained ResNet-34). ``--order bwba`` gives Table 4's
other row. Needs imagenet2012 prepared by tfds (tar files in DATA_DIR/downloads/manual).

    python recipes/strong_baseline_imagenet.py --data-dir /data/tfds --teacher resnet34.h5 \\
        --strategy mirrored                # all local GPUs; --strategy tpu for a TPU
"""
from typing import Optional, Sequence

import _common


def main(argv: Optional[Sequence[str]] = None) -> int:
    return _common.imagenet_main(argv, "strong_baseline", __doc__)


if __name__ == "__main__":
    _common.run_main(main)
