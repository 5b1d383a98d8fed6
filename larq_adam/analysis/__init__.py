"""The paper's measurements of BNN optimisation (Sec. 3.2-3.3, Eq. 3-7, Fig. 3-7, Table 1).

* :mod:`~larq_adam.analysis.latent` - pure functions on latent weights: FF ratio (Eq. 4-5),
  C2I ratio (Eq. 6-7, Table 1's definition), CAM/SDAM (Eq. 3, Fig. 4-5), saturation
  (Fig. 3), histograms (Fig. 7).
* :mod:`~larq_adam.analysis.callbacks` - Keras callbacks logging them during ``fit``
  (``ff_ratio``, ``ff_ratio_run``, ``c2i_ratio``, ``cam_min``, ``sdam``,
  ``update_cam_mean``, ``saturation``).
* :mod:`~larq_adam.analysis.records` - the per-epoch ``.npz`` files the callbacks write and
  :func:`load_records` to read them back.

Example:
    >>> import larq_adam as la
    >>> cbs = la.analysis.default_callbacks(probe_images=x[:64], record_dir="analysis")  # doctest: +SKIP
    >>> model.fit(ds, epochs=2, callbacks=cbs)                                            # doctest: +SKIP
    >>> la.analysis.load_records("analysis")["ff"][0]["flips"]                            # doctest: +SKIP
"""
from larq_adam.analysis.callbacks import (
    ActivationSaturation,
    C2IRatio,
    CAMStats,
    FlipFlopRatio,
    WeightHistograms,
    analysis_first,
    default_callbacks,
)
from larq_adam.analysis.latent import (
    BINARY_LAYER_TYPES,
    Histogram,
    binary_kernels,
    binarizable_layers,
    c2i_ratio,
    cam,
    channel_view,
    flip_fraction,
    histogram,
    kernel_of,
    saturation,
    sdam,
    update_cam,
)
from larq_adam.analysis.records import RECORD_KINDS, load_records, record_path, save_record

__all__ = [
    "ActivationSaturation",
    "BINARY_LAYER_TYPES",
    "C2IRatio",
    "CAMStats",
    "FlipFlopRatio",
    "Histogram",
    "RECORD_KINDS",
    "WeightHistograms",
    "analysis_first",
    "binary_kernels",
    "binarizable_layers",
    "c2i_ratio",
    "cam",
    "channel_view",
    "default_callbacks",
    "flip_fraction",
    "histogram",
    "kernel_of",
    "load_records",
    "record_path",
    "saturation",
    "save_record",
    "sdam",
    "update_cam",
]
