"""The report's ``## Model`` section: the final model's summary, parameters and OPs.

The OPs are the paper's Table 3: ``OPs = FLOPs + BOPs / 64``, with BOPs the binary MACs
(both the input and the kernel 1-bit) and FLOPs the real-valued conv / dense MACs (the real
stem and FC of ReActNet-A: 1.2e7), as :func:`larq_adam.models.count_ops` counts them
(ReActNet-A at 224 px: 4.82e9 BOPs, 0.12e8 FLOPs, 0.87e8 OPs). ``count_ops`` also counts the
element-wise ops (BN, PReLU/RPReLU, shifts, adds, pooling) that Table 3 leaves out.
"""
import dataclasses
import os
from pathlib import Path
from typing import Any, List, Optional, Tuple

import larq as lq
import numpy as np
import tensorflow as tf

from larq_adam import keras_files, quantized
from larq_adam.analysis.latent import kernel_of
from larq_adam.errors import UntrustedFileError
from larq_adam.models import count_ops
from larq_adam.models._common import quiet_larq
from larq_adam.formats import count, sci
from larq_adam.report.read import RunData
from larq_adam.report.tables import markdown_table
from larq_adam.run_files import h5_problem

__all__ = ["BOPS_PER_OP", "ModelFacts", "paper_ops", "final_model_path", "model_facts",
           "model_section", "read_model_section", "summary_block"]

#: Table 3 counts 64 binary operations as one operation (a 64-bit XNOR-popcount).
BOPS_PER_OP = 64
MODEL_HEADING = "## Model"
SUMMARY_FAILED = "lq.models.summary failed"


@dataclasses.dataclass(frozen=True)
class ModelFacts:
    """What the report says about a Keras model: ``lq.models.summary``'s text, the
    parameter counts and :func:`larq_adam.models.count_ops`' counts (per image)."""

    name: str
    summary: str
    total_params: int
    trainable_params: int
    latent_params: int
    binary_macs: int
    float_macs: int
    elementwise: int

    @property
    def other_params(self) -> int:
        """Parameters outside the binarizable layers' kernels (always real-valued)."""
        return self.total_params - self.latent_params

    @property
    def ops(self) -> float:
        """Table 3's OPs of the model."""
        return paper_ops(self.binary_macs, self.float_macs)


def paper_ops(binary_macs: float, float_macs: float) -> float:
    """Table 3: ``OPs = FLOPs + BOPs / 64`` (BOPs the binary MACs, FLOPs the real MACs)."""
    return float(float_macs) + float(binary_macs) / BOPS_PER_OP


def final_model_path(run: RunData) -> Path:
    """The run's final model: ``config.json``'s ``final_model`` (relative to the run
    folder), else ``RUN/final_model.h5``."""
    return run.dir / str(run.config.get("final_model") or "final_model.h5")


def _first_line(err: BaseException) -> str:
    return (str(err).splitlines() or [""])[0]


def _summary_text(model: Any) -> str:
    """``lq.models.summary(model)`` captured as text (one line naming why, if it fails)."""
    lines: List[str] = []
    try:
        lq.models.summary(model, print_fn=lines.append)
    except (ValueError, TypeError, AttributeError) as err:  # a layer Larq cannot profile
        return f"{SUMMARY_FAILED}: {type(err).__name__}: {_first_line(err)}"
    return "\n".join(lines).rstrip()


def summary_block(summary: str) -> str:
    """Larq's per-layer summary folded into a ``<details>`` block that GitHub renders
    collapsed, its line count in the ``<summary>``; a failed summary stays one plain
    line."""
    if not summary or summary.startswith(SUMMARY_FAILED):
        return summary
    n = len(summary.splitlines())
    return "\n".join([f"<details><summary>Model summary ({n} lines)</summary>", "",
                      "```text", summary, "```", "", "</details>"])


def model_facts(model: Any) -> ModelFacts:
    """The summary, parameter counts (total, latent weights of the binarizable layers, the
    rest) and Table 3's op counts of a built Keras model."""
    latent = sum(int(np.prod(kernel_of(layer).shape))
                 for layer in quantized.binarizable_layers(model))
    counts = count_ops(model)
    return ModelFacts(name=model.name, summary=_summary_text(model),
                      total_params=int(model.count_params()),
                      trainable_params=sum(int(np.prod(w.shape)) for w in model.trainable_weights),
                      latent_params=latent,
                      binary_macs=int(counts["binary_macs"]),
                      float_macs=int(counts["float_macs"]),
                      elementwise=int(counts["elementwise"]))


def model_section(facts: ModelFacts, *, source: str) -> str:
    """The ``## Model`` section: parameters, Table 3's BOPs / FLOPs / OPs with the
    element-wise ops beside them, and Larq's per-layer summary (``lq.models.summary``)
    folded into a collapsible block (:func:`summary_block`)."""
    ops = markdown_table(
        ["BOPs (binary MACs)", "FLOPs (real MACs)", "OPs = FLOPs + BOPs/64",
         "element-wise ops", "FLOPs + element-wise"],
        [[sci(facts.binary_macs), sci(facts.float_macs), sci(facts.ops),
          sci(facts.elementwise), sci(facts.float_macs + facts.elementwise)]])
    return "\n".join([
        MODEL_HEADING, "",
        f"`{source}` (`{facts.name}`): {count(facts.total_params)} parameters "
        f"({count(facts.trainable_params)} trainable), {count(facts.latent_params)} of them "
        "the latent weights of the binarizable layers (binary in the BNN stage) and "
        f"{count(facts.other_params)} others (real-valued).", "",
        "Operations per image as in Table 3 (element-wise ops of BN, PReLU / RPReLU, shifts, "
        "adds and pooling are not part of Table 3's FLOPs):", "",
        ops, "Per layer, as `lq.models.summary` counts it:", "", summary_block(facts.summary),
        ""])


def _load(path: Path, trust: bool = False) -> Tuple[Optional[Any], Optional[str]]:
    """``(model, None)`` or ``(None, why it cannot be read)``; a model with code in it
    (``Lambda`` layers, unknown classes) is not read unless ``trust``."""
    if path.suffix in (".h5", ".hdf5"):
        problem = h5_problem(path, whole_model=True)
        if problem:
            return None, problem
    try:
        with quiet_larq():  # the latent weights are unclipped on purpose (DESIGN.md)
            return keras_files.load_model(path, trust=trust, opt_in="--trust-model"), None
    except UntrustedFileError as err:
        return None, str(err)
    except (OSError, ValueError, KeyError, TypeError, ImportError) as err:
        return None, f"{type(err).__name__}: {_first_line(err)[:160]}"


def read_model_section(run: RunData, *, trust: bool = False) -> Tuple[str, Optional[str]]:
    """``(section, None)`` for the run's final model, or ``("", note)`` saying in one line
    why there is no ``## Model`` section (no model file, one that cannot be read, or one
    with code in it and ``trust`` off)."""
    path = final_model_path(run)
    source = Path(os.path.relpath(path, run.dir)).as_posix()
    if not path.exists():
        return "", f"model summary and OPs (no {source})"
    model, problem = _load(path, trust)
    if model is None:
        return "", f"model summary and OPs ({source} cannot be read: {problem})"
    return model_section(model_facts(model), source=source), None
