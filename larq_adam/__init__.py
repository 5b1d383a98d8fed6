"""larq-adam: Adam and training strategies for binary neural networks, on Larq.

Reproduces *How Do Adam and Training Strategies Help BNNs Optimization?* (Liu, Shen et al.,
ICML 2021): the models (StrongBaseline, ReActNet-A) in any binarization stage, the paper's
optimisation measurements as Keras callbacks (FF ratio, C2I ratio, CAM/SDAM, saturation),
its training recipes (Adam + weight decay on the latent weights, distillation, two-step
BABW), the report, and export to Larq Compute Engine.

Importing this package selects Keras 2 for TensorFlow (see :mod:`larq_adam._keras2`) and
registers the custom layers, so ``tf.keras.models.load_model`` reads the project's models;
sub-packages load on first use, so ``import larq_adam as la; la.models`` just works. The
``larq-adam`` command (:mod:`larq_adam.cli`) defers all of it until a command runs.
"""
import importlib

from larq_adam import _keras2  # must run before TensorFlow resolves tf.keras

__version__ = "0.1.0"

_SUBMODULES = ("analysis", "atomic", "cli", "config", "data", "errors", "experiments",
               "export", "formats", "layers", "models", "presets", "quantized", "results",
               "report", "run_files", "stages", "training")

__all__ = ["Stage", "__version__", *_SUBMODULES]

if not _keras2.started_as_command():
    from larq_adam import layers  # noqa: F401  (registers the custom layers for load_model)


def __getattr__(name: str):
    if name == "Stage":
        from larq_adam.stages import Stage

        globals()["Stage"] = Stage
        return Stage
    if name in _SUBMODULES:
        module = importlib.import_module(f"larq_adam.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'larq_adam' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
