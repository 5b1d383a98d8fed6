"""Export a trained run to Larq Compute Engine and prove it: binary, equal to Keras.

    python recipes/export.py RUN_DIR [--images 256] [--classifier float32|float16|int8]
                             [--uint8-input] [--device-log FILE]

Calls ``la.export.export_run``: RUN_DIR/final_model.h5, checked on class-balanced test
images of the run's own data (config.json) with ``la.export.check``; RUN_DIR gets model.tflite (LCE),
model_float.tflite (the FP twin), model.json (the deployment contract) and export.json
(rendered by ``larq-adam report RUN_DIR``). Exit status 1 when the check fails.
"""
import argparse
import sys

import larq_adam as la  # before TensorFlow: selects Keras 2


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

    result = la.export.export_run(args.run_dir, images=args.images, classifier=args.classifier,
                                  uint8_input=args.uint8_input, device_log=args.device_log)
    print(result.summary())
    return 0 if result.passed else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except la.errors.LarqAdamError as err:  # a bad argument or file: one line
        sys.exit(f"error: {err}")
