"""ReActNet-A or StrongBaseline on ImageNet with the paper's two-step BABW recipe.

Table 2: ReActNet-A 70.5% top-1, StrongBaseline 63.2%. Adam (betas 0.9 / 0.999) at
1.25e-3 for batch 256 with the released code's linear decay, 256 epochs per step; step 1
binary activations with weight decay 5e-6, step 2 fully binary with decay 0, both distilled
from a real-valued teacher (the paper: a pretrained ResNet-34, e.g. imported with
``larq-adam import resnet34.pth --model resnet34``). Random resized crop, Lighting and flip;
eval resize 256 / crop 224. Needs imagenet2012 prepared by tfds (its two tar files in
DATA_DIR/downloads/manual). The same run from the command line:
``larq-adam train --preset imagenet --model MODEL --data-dir DATA_DIR --teacher TEACHER``.

    python recipes/imagenet.py reactnet_a /data/tfds resnet34.h5 mirrored
"""
import sys

import larq_adam as la
from larq_adam import presets


def main(model: str, data_dir: str, teacher: str, strategy: str = "mirrored") -> None:
    config = presets.IMAGENET.replace(model=model, data_dir=data_dir, teacher=teacher,
                                      strategy=strategy)  # larq-adam train --preset imagenet
    run_dir = presets.run_dir("imagenet", config)
    result = la.training.train(run_dir, config, resume="allow")
    for step in result.steps:
        print(step.summary_line())
    print(f"report: {la.report.make_report(run_dir)}")


if __name__ == "__main__":
    main(*sys.argv[1:5])
