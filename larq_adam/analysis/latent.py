"""The paper's measurements of BNN optimisation as pure functions on latent weights.

Everything here is a plain function of arrays (numpy arrays, tf tensors or variables are
all accepted) or of a Keras model; :mod:`larq_adam.analysis.callbacks` applies the same
definitions during ``fit``. Equation numbers refer to the paper (Liu, Shen et al. 2021).

* :func:`binarizable_layers`, :func:`binary_kernels` - the binarizable layers of a model and
  their *latent* (real-valued) kernels, in every stage (in FP/BA the kernels are real, but they are
  still "the binarized layers' latent weights" of the paper's analysis).
* :func:`flip_fraction` - Eq. 4-5: the share of latent weights whose sign changed.
* :func:`c2i_ratio` - Eq. 6-7, with Table 1's definition (see its docstring).
* :func:`cam`, :func:`sdam`, :func:`update_cam` - Eq. 3 and Fig. 4-5.
* :func:`saturation` - Fig. 3: the share of inputs to binary activations with ``|a| > 1``.
* :func:`histogram` - fixed-bin histograms with out-of-range counts (Fig. 3 and 7).

Signs follow Eq. 1: ``sign(0) = +1`` (so a weight at exactly 0 counts as positive).

Example:
    >>> import numpy as np
    >>> flip_fraction([np.array([1.0, -1.0, 0.0, 2.0])], [np.array([-1.0, -1.0, 0.5, 2.0])])
    0.25
    >>> c2i_ratio([np.array([1.0, -1.0])], [np.array([1.0, 1.0])])
    0.5
    >>> cam(np.ones((3, 3, 2, 4))).tolist()
    [1.0, 1.0, 1.0, 1.0]
"""
from typing import List, NamedTuple, Sequence, Tuple, Union

import larq as lq
import numpy as np
import tensorflow as tf

from larq_adam import quantized
from larq_adam.errors import UserInputError

__all__ = [
    "BINARY_LAYER_TYPES",
    "Histogram",
    "binarizable_layers",
    "binary_kernels",
    "kernel_of",
    "channel_view",
    "sign_positive",
    "flip_fraction",
    "c2i_ratio",
    "cam",
    "sdam",
    "update_cam",
    "saturation",
    "histogram",
]

ArrayLike = Union[np.ndarray, tf.Tensor, tf.Variable]
Arrays = Union[ArrayLike, Sequence[ArrayLike]]

#: The layers that are binarized in the BNN stage (see :mod:`larq_adam.quantized`).
BINARY_LAYER_TYPES = quantized.BINARIZABLE_TYPES


def binarizable_layers(model: tf.keras.layers.Layer, trainable_only: bool = False
                       ) -> List[tf.keras.layers.Layer]:
    """The binarizable layers of ``model`` (Sec. 3.3: "the binarized layers"), nested included:
    :func:`larq_adam.quantized.binarizable_layers`, whose latent weights Eq. 3-7 measure in
    every stage (FP, BA, BW and BNN find the same layers)."""
    return quantized.binarizable_layers(model, trainable_only=trainable_only)


def kernel_of(layer: tf.keras.layers.Layer) -> tf.Variable:
    """The latent kernel variable of one binarizable layer (never the quantized view).

    Larq wraps a quantized kernel in a ``QuantizedVariable``; this returns the wrapped
    ``latent_variable``, so reading it gives the real-valued latent weights whatever
    ``lq.context.quantized_scope`` is active, and the variable can be assigned.
    """
    if not layer.built:
        raise UserInputError(
            f"layer {layer.name!r} is not built yet, so it has no kernel; build the model "
            "(call it on data or give it an input shape) first"
        )
    name = "depthwise_kernel" if isinstance(layer, lq.layers.QuantDepthwiseConv2D) else "kernel"
    variable = getattr(layer, name)
    return getattr(variable, "latent_variable", variable)


def binary_kernels(
    model: tf.keras.layers.Layer, trainable_only: bool = False
) -> List[tf.Variable]:
    """The latent kernels of every binarized layer of ``model`` (the weights of Eq. 3-7).

    These are the real-valued variables the optimizer updates; in the BNN stage the forward
    pass uses ``mean(|W|) * sign(W)`` of them (Eq. 2). In FP/BA stages the same layers'
    real weights are returned, so the measurements compare like with like across stages.
    See :func:`binarizable_layers` for which layers count and their order.

    >>> # doctest: +SKIP
    >>> [k.shape for k in binary_kernels(model)]
    """
    layers = binarizable_layers(model, trainable_only=trainable_only)
    return [kernel_of(layer) for layer in layers]


def channel_view(layer: tf.keras.layers.Layer, kernel: ArrayLike) -> ArrayLike:
    """``kernel`` arranged so its last axis is the layer's output channel (for :func:`cam`).

    Conv and dense kernels already are; a depthwise kernel ``(kh, kw, c_in, mult)`` has
    ``c_in * mult`` output channels and is reshaped to ``(kh, kw, 1, c_in * mult)``.
    """
    if isinstance(layer, lq.layers.QuantDepthwiseConv2D):
        shape = kernel.shape
        return tf.reshape(kernel, (shape[0], shape[1], 1, shape[2] * shape[3]))
    return kernel


# --------------------------------------------------------------------------- array helpers
def _to_numpy(x: ArrayLike) -> np.ndarray:
    x = getattr(x, "latent_variable", x)  # a Larq QuantizedVariable: its latent weights
    if isinstance(x, (tf.Variable, tf.Tensor)):
        return x.numpy()
    return np.asarray(x)


def _as_list(arrays: Arrays, what: str) -> List[np.ndarray]:
    if isinstance(arrays, (list, tuple)):
        out = [_to_numpy(a) for a in arrays]
    else:
        out = [_to_numpy(arrays)]
    if not out:
        raise UserInputError(f"{what} is an empty list; pass at least one array")
    return out


def _pair(before: Arrays, after: Arrays, names: Tuple[str, str]):
    a, b = _as_list(before, names[0]), _as_list(after, names[1])
    if len(a) != len(b):
        raise UserInputError(
            f"{names[0]} has {len(a)} arrays but {names[1]} has {len(b)}; pass the same "
            "layers in the same order (e.g. binary_kernels(model) at both times)"
        )
    for i, (x, y) in enumerate(zip(a, b)):
        if x.shape != y.shape:
            raise UserInputError(
                f"array {i}: {names[0]} has shape {x.shape} but {names[1]} has {y.shape}; "
                "pass the same layers in the same order"
            )
    return a, b


def sign_positive(x: ArrayLike) -> ArrayLike:
    """Eq. 1's sign as a boolean: True for +1 (x >= 0, so sign(0) = +1); numpy arrays and
    tf tensors alike (the callbacks apply it in-graph)."""
    return x >= 0


# --------------------------------------------------------------------------- Eq. 4-7
def flip_fraction(before: Arrays, after: Arrays) -> float:
    """Eq. 4-5: the fraction of weights whose sign differs between ``before`` and ``after``.

    ``I_FF = |sign(w_after) - sign(w_before)| / 2`` per weight (Eq. 4), summed over all
    weights of all layers and divided by their total number ``N_total`` (Eq. 5): the layers
    are pooled, so every weight (not every layer) counts equally. ``sign(0) = +1`` (Eq. 1).

    For the FF ratio of one iteration pass ``w_t`` and ``w_{t+1}``; Table 1's FF ratio is
    the mean of this over all iterations (see :class:`~larq_adam.analysis.FlipFlopRatio`).

    Args:
        before, after: one array or a list of arrays (e.g. :func:`binary_kernels` read at
            two times), matching in number and shapes.
    Returns:
        flipped count / total count, a float in [0, 1].
    """
    a, b = _pair(before, after, ("before", "after"))
    flipped = sum(int(np.count_nonzero(sign_positive(x) != sign_positive(y)))
                  for x, y in zip(a, b))
    total = sum(x.size for x in a)
    if total == 0:
        raise UserInputError("the arrays hold no weights; pass non-empty kernels")
    return flipped / total


def c2i_ratio(initial: Arrays, final: Arrays) -> float:
    """Eq. 6-7: the correlation-to-initialization (C2I) ratio, with Table 1's definition.

    ``I_C2I = |sign(w_final) - sign(w_init)| / 2`` (Eq. 6) marks weights whose final sign
    differs from the initial one. Eq. 7 as printed is ``1 - 1/2 * sum(I_C2I) / N_total``,
    which can only take values in [0.5, 1]; yet Table 1 reports 0.4810 (weight decay 1e-5).
    Table 1's values match ``1 - sum(I_C2I) / N_total``, i.e. the share of weights whose
    final sign equals the initial one (0.5 for no correlation, 1 for none flipped), so that
    is what this returns: ``1 - flip_fraction(initial, final)``.

    Args:
        initial: the latent weights at the reference time (e.g. initialisation, or step 1's
            final weights for a two-step run), one array or a list of arrays.
        final: the latent weights now, matching ``initial``.
    """
    return 1.0 - flip_fraction(initial, final)


# --------------------------------------------------------------------------- Eq. 3, Fig. 4-5
def cam(kernel: ArrayLike) -> np.ndarray:
    """Eq. 3: the Channel-wise Absolute Mean of a kernel, one value per output channel.

    ``CAM_o = 1 / (N_in * k * k) * sum_{c, i, j} |w_{c, i, j, o}|``: the mean of ``|w|``
    over every axis but the last (Keras kernels keep the output channel last: conv kernels
    ``(k, k, N_in, N_out)``, dense ``(N_in, N_out)``). For a depthwise kernel first use
    :func:`channel_view`. Fig. 4 marks these values with red hyphens.

    Returns:
        float64 array of shape ``(N_out,)``.
    """
    w = _to_numpy(kernel)
    if w.ndim < 2:
        raise UserInputError(
            f"cam needs a kernel with an output-channel (last) axis and at least one other "
            f"axis; got shape {w.shape}"
        )
    return np.abs(w.astype(np.float64)).reshape(-1, w.shape[-1]).mean(axis=0)


def sdam(kernel: ArrayLike) -> float:
    """Fig. 4 / Sec. 3.2.2: the Standard Deviation of the Absolute Mean (SDAM).

    The (population, ``ddof=0``) standard deviation of :func:`cam` across the kernel's
    output channels: low SDAM means the channels are trained evenly ("fair").
    """
    return float(np.std(cam(kernel)))


def update_cam(before: ArrayLike, after: ArrayLike) -> np.ndarray:
    """Fig. 5: the CAM (Eq. 3) of one update ``w_after - w_before``, per output channel."""
    a, b = _pair(before, after, ("before", "after"))
    if len(a) != 1:
        raise UserInputError("update_cam takes one kernel before and after, not lists")
    return cam(b[0].astype(np.float64) - a[0].astype(np.float64))


# --------------------------------------------------------------------------- Fig. 3, Fig. 7
def saturation(activations: Arrays, bound: float = 1.0) -> float:
    """Fig. 3 / Sec. 3.2.1: the share of activations with ``|a| > bound`` (default 1).

    Pass the inputs of binary activations (pre-sign values); beyond ``+-1`` the ApproxSign
    and clipped-STE gradients are zero ("activation saturation"). A list of arrays is
    pooled: every value counts equally.
    """
    values = _as_list(activations, "activations")
    total = sum(v.size for v in values)
    if total == 0:
        raise UserInputError("no activations given; pass a non-empty array")
    return sum(int(np.count_nonzero(np.abs(v) > bound)) for v in values) / total


class Histogram(NamedTuple):
    """Fixed-bin histogram: ``counts[i]`` values in ``[edges[i], edges[i+1])`` (the last bin
    also holds ``edges[-1]``), plus the counts strictly ``below`` and ``above`` the range."""

    counts: np.ndarray
    edges: np.ndarray
    below: int
    above: int


def histogram(
    values: Arrays, bins: int = 200, range: Tuple[float, float] = (-2.0, 2.0)
) -> Histogram:
    """Histogram of ``values`` (a list is pooled) with fixed bins (Fig. 3 and Fig. 7).

    Bin ``i`` of ``bins`` equal bins on ``range = (lo, hi)`` is
    ``floor((v - lo) / (hi - lo) * bins)`` (``tf.histogram_fixed_width``'s rule; ``v == hi``
    goes to the last bin); values outside ``[lo, hi]`` are not clipped into the edge bins
    but counted in ``below`` / ``above``. With the default 200 bins on [-2, 2] the bin edges
    fall on -1, 0 and +1, the marks of Fig. 3 and 7.
    """
    lo, hi = float(range[0]), float(range[1])
    if not hi > lo or int(bins) < 1:
        raise UserInputError(f"need bins >= 1 and range (lo, hi) with hi > lo; got {bins}, {range}")
    flat = np.concatenate([v.reshape(-1) for v in _as_list(values, "values")])
    counts, below, above = _tf_histogram(tf.constant(flat, tf.float32), lo, hi, int(bins))
    return Histogram(
        counts=counts.numpy(),
        edges=np.linspace(lo, hi, int(bins) + 1),
        below=int(below),
        above=int(above),
    )


def _tf_histogram(flat: tf.Tensor, lo: float, hi: float, bins: int):
    """In-graph histogram: (counts int64 [bins], below int64, above int64)."""
    flat = tf.reshape(tf.cast(flat, tf.float32), [-1])
    below = tf.math.count_nonzero(flat < lo, dtype=tf.int64)
    above = tf.math.count_nonzero(flat > hi, dtype=tf.int64)
    # histogram_fixed_width puts out-of-range values into the edge bins: take them out.
    counts = tf.histogram_fixed_width(flat, [lo, hi], nbins=bins, dtype=tf.int64)
    fix = tf.one_hot(0, bins, dtype=tf.int64) * below
    fix += tf.one_hot(bins - 1, bins, dtype=tf.int64) * above
    return counts - fix, below, above
