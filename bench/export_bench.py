"""Size and latency of ReActNet-A as an LCE model against its float TFLite twin.

    python bench/export_bench.py [--sizes 224 32] [--threads 2] [--runs 20] [--out DIR]

For each input size: builds ReActNet-A in the BNN stage with trained-looking random
weights (pad_values=1.0, LCE's fast path), converts it with LCE (``to_lce``) and its
FP-stage twin with TFLite (``to_tflite_float``), checks that every binary conv became an
LceBconv2d, and times both side by side in this one run: the LCE model in LCE's interpreter
(indirect BGEMM, the fast x86 kernel) and the float model in LCE's interpreter and in TF's
``tf.lite.Interpreter`` (XNNPack, TF's fast float path). Prints the ratios against the
goals: LCE file <= 1/15 of the float file, LCE latency below the float latency.
Latencies are x86 CPU numbers (not LCE's optimized ARM path) and noisy on shared cores.
"""
import argparse
import os
import sys
import tempfile

import larq_adam as la  # selects Keras 2 before TensorFlow loads
import numpy as np

from larq_adam import export as ex


trained_looking = ex.randomize_like_trained


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 32])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--out", help="folder for the .tflite files (default: a temp dir)")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="export_bench_")
    rows = []
    for px in args.sizes:
        classes = 1000 if px > 64 else 10
        model = trained_looking(la.models.build_model(
            "reactnet_a", stage="bnn", input_shape=(px, px, 3), num_classes=classes,
            pad_values=1.0))
        lce = ex.to_lce(model, os.path.join(out, f"reactnet_a_{px}.tflite"))
        flt = ex.to_tflite_float(model, os.path.join(out, f"reactnet_a_{px}_float.tflite"))
        ops = ex.op_report(lce["path"], model=model)  # raises if not binary
        kw = dict(threads=args.threads, runs=args.runs)
        b_lce = ex.benchmark(lce["path"], use_indirect_bgemm=True, **kw)
        b_lce_default = ex.benchmark(lce["path"], use_indirect_bgemm=False, **kw)
        b_flt = ex.benchmark(flt["path"], interpreter="lce", **kw)
        b_tfl = ex.benchmark(flt["path"], interpreter="tflite", **kw)
        rows.append((px, lce, flt, ops, b_lce, b_lce_default, b_flt, b_tfl))
    print(f"\nReActNet-A, BNN stage, {args.threads} threads, {args.runs} runs, median "
          f"(p10-p90) ms; x86 CPU")
    ok = True
    for px, lce, flt, ops, b_lce, b_def, b_flt, b_tfl in rows:
        best_float = min(b_flt["median_ms"], b_tfl["median_ms"])
        size_ratio = lce["bytes"] / flt["bytes"]
        lat_ratio = b_lce["median_ms"] / best_float
        fmt = lambda b: f"{b['median_ms']:.2f} ({b['p10_ms']:.2f}-{b['p90_ms']:.2f})"  # noqa
        print(f"\n{px} px: {ops['binary_convs']} LceBconv2d, "
              f"{100 * ops['binary_mac_share']:.1f}% of MACs binary")
        print(f"  size     LCE {lce['bytes'] / 1e6:.2f} MB | float {flt['bytes'] / 1e6:.2f} MB "
              f"| LCE/float {size_ratio:.4f} = 1/{1 / size_ratio:.1f} (goal <= 1/15: "
              f"{'met' if size_ratio <= 1 / 15 else 'NOT met'})")
        print(f"  latency  LCE indirect-bgemm {fmt(b_lce)} | LCE default bgemm {fmt(b_def)} "
              f"| float in LCE interpreter {fmt(b_flt)} | float in tf.lite (XNNPack) "
              f"{fmt(b_tfl)}")
        print(f"  LCE / fastest float latency {lat_ratio:.2f} (goal < 1: "
              f"{'met' if lat_ratio < 1 else 'NOT met'})")
        print(f"  conversion LCE {lce['seconds']:.1f} s, float {flt['seconds']:.1f} s")
        ok &= size_ratio <= 1 / 15 and lat_ratio < 1
    print(f"\nfiles in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
