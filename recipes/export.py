"""Export a trained run to Larq Compute Engine and prove it: binary, equal to Keras.

    python recipes/export.py RUN_DIR [--images 256] [--classifier float32|float16|int8]
                             [--uint8-input] [--device-log FILE]

Loads RUN_DIR/final_model.h5, takes class-balanced test images of the run's own data
(config.json), and calls ``la.export.check``: RUN_DIR gets model.tflite (LCE),
model_float.tflite (the FP twin), model.json (the deployment contract) and export.json
(rendered by ``larq-adam report RUN_DIR``). Exit status 1 when the check fails.
"""
import argparse
import os
import sys

import larq_adam as la  # before TensorFlow: selects Keras 2
from larq_adam.config import RunConfig


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", help="a finished run folder (with final_model.h5)")
    p.add_argument("--images", type=int, default=256, help="verification images (256)")
    p.add_argument("--classifier", choices=("float32", "float16", "int8"), default="float32",
                   help="storage of the real-valued FC's weights in model.tflite")
    p.add_argument("--uint8-input", action="store_true",
                   help="normalisation inside the graph: the file takes uint8 pixels")
    p.add_argument("--device-log", metavar="FILE", help="an lce_benchmark_model log")
    args = p.parse_args(argv)

    config = RunConfig.load(args.run_dir)
    model = la.export.load_model(os.path.join(args.run_dir, "final_model.h5"))
    size = model.input_shape[1]
    _, info = la.data.load(config.data, split="test", batch_size=1, image_size=size,
                           data_dir=config.data_dir)
    images, labels = la.data.balanced_sample(config.data, args.images, split="test",
                                             image_size=size, data_dir=config.data_dir)
    result = la.export.check(
        model, images, args.run_dir, labels=labels, class_names=info.class_names,
        normalization=(info.mean, info.std), classifier=args.classifier,
        uint8_input=args.uint8_input, device_log=args.device_log, source="final_model.h5",
        images_from=f"{config.data} test images (class-balanced)")
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except la.errors.LarqAdamError as err:  # a bad argument or file: one line
        sys.exit(f"error: {err}")
