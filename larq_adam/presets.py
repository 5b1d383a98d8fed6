"""Named starting points of a run, as :class:`~larq_adam.config.RunConfig` values that
``larq-adam train --preset NAME`` and the recipes share (options and keywords given on top
win: ``IMAGENET.replace(model="strong_baseline")``).

- :data:`MAIN_JOB` (``--preset mnist5k``, the default): the paper's two-step BABW scheme
  (Sec. 3.3.3) sized for the offline digits on a 2-core CPU: ReActNet-A x0.25, 3 epochs per
  step, Adam at 1e-3 with linear decay, step 1 binary activations with weight decay 5e-6,
  step 2 fully binary with decay 0, both distilled from a real-valued teacher trained first.
- :data:`IMAGENET` (``--preset imagenet``): Sec. 4.1 and the released training scripts:
  ImageNet at 224 px, batch 256, Adam at 1.25e-3 with the released code's linear decay, 256
  epochs per step, a ResNet-34 teacher, and the authors' protocol of choosing the best
  weights on the split they report (``select_on="test"``: ImageNet's validation set).

Plain Python (no TensorFlow): the command line reads these before TensorFlow loads.
"""
from typing import Dict

from larq_adam.config import RunConfig
from larq_adam.errors import UnknownKeyError

__all__ = ["MAIN_JOB", "IMAGENET", "PRESETS", "get", "run_dir"]

MAIN_JOB = RunConfig(kind="two_step", data="mnist5k", model="reactnet_a", width=0.25,
                     epochs=3, learning_rate=1e-3, teacher="auto", order="babw",
                     step1_weight_decay=5e-6, step2_weight_decay=0.0)
IMAGENET = RunConfig(kind="two_step", data="imagenet2012", image_size=224, batch_size=256,
                     model="reactnet_a", width=1.0, learning_rate=1.25e-3,
                     exact_reference=True, epochs=256, teacher="auto",
                     teacher_model="resnet34", order="babw", step1_weight_decay=5e-6,
                     step2_weight_decay=0.0, select_on="test")
PRESETS: Dict[str, RunConfig] = {"mnist5k": MAIN_JOB, "imagenet": IMAGENET}


def get(name: str) -> RunConfig:
    """The preset called ``name`` (one of :data:`PRESETS`)."""
    if name not in PRESETS:
        raise UnknownKeyError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")
    return PRESETS[name]


def run_dir(name: str, config: RunConfig) -> str:
    """Where a run of preset ``name`` goes by default: ``runs/two_step`` for the main job,
    ``runs/MODEL_imagenet`` for ImageNet (one folder per network)."""
    return f"runs/{config.model}_imagenet" if name == "imagenet" else "runs/two_step"
