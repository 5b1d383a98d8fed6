"""Export to Larq Compute Engine (LCE) with proofs: binary where it should be, equal to Keras.

The paper's BNNs (ReActNet-A, Table 3; StrongBaseline, Table 2) only pay off when their
binarized convolutions (Eq. 1 activations, Eq. 2 weights) run as binary ops. This package
converts a trained Keras model and checks the result instead of trusting it:

* :func:`check` (:mod:`.pipeline`) - all of the below in one call, written to a folder:
  ``model.tflite``, ``model_float.tflite``, ``model.json`` (the deployment contract,
  :mod:`.contract`) and ``export.json`` (the :class:`ExportResult` the report renders);
* :func:`to_lce` / :func:`to_tflite_float` (:mod:`.convert`) - the LCE flatbuffer, and the
  float TFLite of the FP-stage twin (the baseline for size and latency), both converted
  from :func:`save_serving`'s SavedModel of the inference function alone;
* :func:`lce_ready` / :func:`float_twin` / :func:`with_pad_values` (:mod:`.rewrite`) - the
  network as the converter should see it (LCE 0.16's zero-padding bug worked around with
  :class:`CorrectedAdd`), its FP twin, its padding changed;
* :func:`verify` (:mod:`.verification`) - LCE interpreter against Keras on real images;
  raises :class:`ExportMismatchError` beyond tolerance;
* :func:`op_report` (:mod:`.ops`) - ops from the parsed flatbuffer and the share of MACs in
  ``LceBconv2d``; raises :class:`NotBinaryError` when a fully binary layer stayed float;
* :func:`benchmark` (:mod:`.bench`) - latency in LCE's (or TFLite's) interpreter, size;
* :mod:`.device_log` - the timing in an ``lce_benchmark_model`` log from a device;
* :func:`load_model` (:mod:`.loading`) - a saved model, Larq's warning shown once;
* :func:`export_run` (:mod:`.run_export`) - :func:`check` of a trained run's model on its
  own data, with what the caller already holds (config, model, images).

Example::

    import larq_adam as la
    result = la.export.check(model, images, "runs/x", labels=labels,
                             normalization=(info.mean, info.std))
    print(result.summary())                      # result.passed, runs/x/model.json, ...
"""
from larq_adam.export import compact, contract, device_log  # noqa: F401  (modules of the API)
from larq_adam.export.base import ExportMismatchError, NotBinaryError
from larq_adam.export.bench import benchmark
from larq_adam.export.contract import Preprocess, to_pixels, with_preprocessing
from larq_adam.export.convert import NoBinaryLayerWarning, save_serving, to_lce, to_tflite_float
from larq_adam.export.loading import larq_warnings_once, load_model
from larq_adam.export.ops import op_report
from larq_adam.export.pipeline import ExportResult, check
from larq_adam.export.rewrite import CorrectedAdd, float_twin, lce_ready, with_pad_values
from larq_adam.export.run_export import export_run
from larq_adam.export.testing import randomize_like_trained
from larq_adam.export.verification import (DEFAULT_ATOL, DEFAULT_MIN_TOP1,
                                           DEFAULT_NOISE_FACTOR, DEFAULT_RTOL, verify)

__all__ = [
    "check",
    "export_run",
    "ExportResult",
    "ExportMismatchError",
    "NotBinaryError",
    "NoBinaryLayerWarning",
    "to_lce",
    "save_serving",
    "to_tflite_float",
    "float_twin",
    "with_pad_values",
    "lce_ready",
    "CorrectedAdd",
    "verify",
    "randomize_like_trained",
    "op_report",
    "benchmark",
    "load_model",
    "larq_warnings_once",
    "with_preprocessing",
    "to_pixels",
    "Preprocess",
    "contract",
    "device_log",
    "DEFAULT_RTOL",
    "DEFAULT_ATOL",
    "DEFAULT_MIN_TOP1",
    "DEFAULT_NOISE_FACTOR",
]
