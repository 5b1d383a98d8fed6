"""Size and latency of ReActNet-A as an LCE model against its float TFLite twin.

    python bench/export_bench.py [--sizes 224 32] [--threads 2] [--runs 20] [--out DIR]
        [--classifiers float32 float16 int8]

For each input size: builds ReActNet-A in the BNN stage with trained-looking random
weights (the reference's zero padding), converts it with LCE (``to_lce``) and its
FP-stage twin with TFLite (``to_tflite_float``), checks that every binary conv became an
LceBconv2d, and times both side by side in this one run: the LCE model in LCE's interpreter
(indirect BGEMM, the fast x86 kernel) and the float model in LCE's interpreter and in TF's
``tf.lite.Interpreter`` (XNNPack, TF's fast float path). Prints the ratios against the
goals: LCE file <= 1/15 of the float file, LCE latency below the float latency. With
``--classifiers`` the LCE file is also written with the real FC's weights stored as float16
or int8 (``to_lce(classifier=...)``), each verified exactly against Keras with the weights
as stored, and its size, latency and change against the float32 classifier printed.
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


def _compact_rows(model, px, lce, args, out):
    """The LCE file with each classifier storage: size, latency, verify."""
    # real images (mnist5k digits resized to px): random normal images at 224 px hit
    # near-zero pre-activations whose sign flips under any rounding change
    images, _ = la.data.balanced_sample("mnist5k", 16, seed=0, image_size=px)
    print(f"\n{px} px, classifier storage (indirect BGEMM, {args.threads} threads):")
    for dtype in args.classifiers:
        info = ex.to_lce(model, os.path.join(out, f"reactnet_a_{px}_{dtype}.tflite"),
                         classifier=dtype, verbose=False)
        b = ex.benchmark(info["path"], use_indirect_bgemm=True, threads=args.threads,
                         runs=args.runs)
        stored = ex.verify(model, info["path"], images, classifier=dtype,
                           raise_on_mismatch=False)
        vs_f32 = ex.verify(model, info["path"], images, raise_on_mismatch=False, noise_factor=0)
        print(f"  {dtype:8s} {info['bytes'] / 1e6:.2f} MB ({info['bytes'] / lce['bytes']:.3f} of "
              f"float32-FC LCE), latency {b['median_ms']:.2f} ms, verify vs Keras as stored: "
              f"{'PASSED' if stored['passed'] else 'FAILED'} ({stored['criterion']}, "
              f"{stored['rel_max_diff']:.2e}), vs float32 Keras: max {vs_f32['rel_max_diff']:.2e}"
              f" of the logit scale, top-1 {vs_f32['top1_agreement']:.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=int, nargs="+", default=[224, 32])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--out", help="folder for the .tflite files (default: a temp dir)")
    p.add_argument("--classifiers", nargs="+", default=["float32", "float16", "int8"],
                   help="storage of the real FC's weights in the LCE file")
    args = p.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="export_bench_")
    rows = []
    for px in args.sizes:
        classes = 1000 if px > 64 else 10
        model = trained_looking(la.models.build_model(
            "reactnet_a", stage="bnn", input_shape=(px, px, 3), num_classes=classes,
            pad_values=0.0))
        lce = ex.to_lce(model, os.path.join(out, f"reactnet_a_{px}.tflite"))
        flt = ex.to_tflite_float(model, os.path.join(out, f"reactnet_a_{px}_float.tflite"))
        ops = ex.op_report(lce["path"], model=model)  # raises if not binary
        kw = dict(threads=args.threads, runs=args.runs)
        b_lce = ex.benchmark(lce["path"], use_indirect_bgemm=True, **kw)
        b_lce_default = ex.benchmark(lce["path"], use_indirect_bgemm=False, **kw)
        b_flt = ex.benchmark(flt["path"], interpreter="lce", **kw)
        b_tfl = ex.benchmark(flt["path"], interpreter="tflite", **kw)
        rows.append((px, lce, flt, ops, b_lce, b_lce_default, b_flt, b_tfl))
        _compact_rows(model, px, lce, args, out)
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
