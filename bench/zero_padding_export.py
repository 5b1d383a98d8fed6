"""The reference's zero padding through LCE: the raw conversion against ``to_lce``.

    python bench/zero_padding_export.py [--sizes 32 224] [--threads 2] [--runs 20] [--rounds 2]

ReActNet-A in the BNN stage with the authors' zero padding of binarized inputs
(``pad_values=0``) and trained-looking random weights, at each input size, converted twice
in this one run: "raw" is ``larq_compute_engine.convert_keras_model`` on the model as it
is, "to_lce" goes through :func:`larq_adam.export.lce_ready`, which converts each
zero-padded binary conv on a map smaller than its kernel (LCE 0.16 miscomputes those) with
LCE's +1 padding and adds the zero-padding constant at the residual Add. For both it
prints the op report (LceBconv2d count, every other op), the file size, the latency in
LCE's interpreter (indirect BGEMM; the two files timed alternately, ``--rounds`` times,
median of the round medians) and the verification against Keras: exact criterion
(``|LCE - Keras| <= 1e-5 + 1e-4 max|logit|``) on mnist5k test images at 32 px, on
random images at 224 px (where the float-sensitivity route may be needed).
"""
import argparse
import os
import statistics
import sys
import tempfile

import larq_adam as la  # selects Keras 2 before TensorFlow loads
import numpy as np

from larq_adam import export as ex


def _images(px: int, n: int) -> np.ndarray:
    if px == 32:
        ds, _ = la.data.load("mnist5k", split="test", batch_size=n)
        return next(iter(ds))[0].numpy()
    return np.random.default_rng(0).normal(size=(n, px, px, 3)).astype("float32")


def _convert(model, px: int, out: str):
    import larq_compute_engine as lce

    raw = os.path.join(out, f"raw_{px}.tflite")
    with open(raw, "wb") as f:
        f.write(lce.convert_keras_model(model))
    fixed = ex.to_lce(model, os.path.join(out, f"to_lce_{px}.tflite"), verbose=False)["path"]
    return {"raw": raw, "to_lce": fixed}


def _row(name, path, model, images, latencies):
    ops = ex.op_report(path, model=model, raise_on_missing=False)
    check = ex.verify(model, path, images, noise_factor=ex.DEFAULT_NOISE_FACTOR,
                      raise_on_mismatch=False)
    others = {k: v for k, v in ops["ops"].items() if k != "LceBconv2d"}
    print(f"  {name:7s} LceBconv2d {ops['binary_convs']} (Keras binary layers "
          f"{ops['keras_binary_layers']}), ops {sum(ops['ops'].values())}, size "
          f"{os.path.getsize(path) / 1e6:.3f} MB, latency {statistics.median(latencies):.2f} ms")
    print(f"          other ops {others}")
    print(f"          verify on {check['num_images']} images: "
          f"{'PASSED' if check['passed'] else 'FAILED'} ({check['criterion']}), max |diff| "
          f"{check['max_abs_diff']:.3g} = {check['rel_max_diff']:.2e} of the logit scale, "
          f"top-1 agreement {check['top1_agreement']:.3f}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[32, 224])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--images", type=int, default=64)
    args = p.parse_args(argv)
    out = tempfile.mkdtemp(prefix="zero_padding_")
    for px in args.sizes:
        classes = 1000 if px > 64 else 10
        width = 1.0 if px > 64 else 0.25
        model = ex.randomize_like_trained(la.models.build_model(
            "reactnet_a", stage="bnn", input_shape=(px, px, 3), num_classes=classes,
            width=width, pad_values=0.0))
        paths = _convert(model, px, out)
        latencies = {name: [] for name in paths}
        for _ in range(args.rounds):
            for name, path in paths.items():
                latencies[name].append(ex.benchmark(
                    path, threads=args.threads, runs=args.runs,
                    use_indirect_bgemm=True)["median_ms"])
        print(f"\nReActNet-A {px} px, width {width}, BNN, pad_values=0; {args.threads} threads, "
              f"{args.rounds} alternating rounds of {args.runs} runs")
        images = _images(px, args.images if px == 32 else min(args.images, 8))
        for name, path in paths.items():
            _row(name, path, model, images, latencies[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
