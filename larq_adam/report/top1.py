"""A step's test top-1 as the report states it: epochs 1-based, and no drop left unexplained.

A step's ``test_accuracy`` (:class:`~larq_adam.results.StepResult`) is its final weights'
test top-1, with every BN layer normalising with its *moving* statistics. When
that number lies far below the step's best epoch (:data:`FAR_BELOW`), the summary says so
beside it and the ``## BN statistics`` section (:func:`bn_section`) says what the run
measured about it: the same final weights' top-1 with BN statistics re-estimated over the
training split (``recalibrated_accuracy``, :mod:`larq_adam.training.bn_stats`), when the
step records it.
"""
from typing import List, Optional, Tuple

from larq_adam.formats import finite, pct
from larq_adam.report.read import RunData, StepData

__all__ = ["FAR_BELOW", "RESULT_EPOCH_BASE", "BN_HEADING", "best_epoch", "epoch_of",
           "recalibrated", "far_below_best", "best_cell", "final_cell", "bn_section",
           "selected_on_test", "selection_line", "validation_name"]

#: A final top-1 more than this far (a fraction: 0.10 = 10 points) below the step's best
#: epoch is called out in the summary and explained in ``## BN statistics``.
FAR_BELOW = 0.10
#: The number a read :class:`~larq_adam.results.StepResult`'s ``best_epoch`` gives the
#: first epoch (``result.json`` files written before epochs counted from 1 are converted
#: when read, ``StepResult.from_json``).
RESULT_EPOCH_BASE = 1
BN_HEADING = "## BN statistics"
_SEE = "see BN statistics"


def best_epoch(step: StepData) -> Optional[int]:
    """The 1-based epoch of the step's best test top-1, ``None`` when not recorded."""
    stored = step.measured("best_epoch")
    return int(stored) - RESULT_EPOCH_BASE + 1 if finite(stored) else None


def epoch_of(step: StepData, epoch: Optional[int]) -> str:
    """``"epoch 2 of 3"`` for a 1-based ``epoch`` of ``step`` (``"epoch 2"`` when the
    step's number of epochs is unknown)."""
    total = step.setting("epochs", len(step.history) or None)
    return f"epoch {epoch} of {int(total)}" if finite(total) else f"epoch {epoch}"


def recalibrated(step: StepData) -> Optional[float]:
    """The final weights' test top-1 with BN statistics re-estimated over the training
    split (``result.json``'s ``recalibrated_accuracy``), ``None`` where not measured."""
    value = step.measured("recalibrated_accuracy")
    return float(value) if finite(value) else None


def _best_value(step: StepData) -> object:
    """The best weights' *test* top-1: ``best_test_accuracy``, or ``best_accuracy`` where
    the step selected on the test split (older records have only that)."""
    best_test = step.measured("best_test_accuracy")
    return best_test if finite(best_test) else step.measured("best_accuracy")


def _final_and_best(step: StepData) -> Optional[Tuple[float, float]]:
    """``(final top-1, best weights' top-1)`` on the test split when the step recorded
    both."""
    final, best = step.measured("test_accuracy"), _best_value(step)
    return (float(final), float(best)) if finite(final) and finite(best) else None


def far_below_best(step: StepData) -> bool:
    """True when the final weights' top-1 lies more than :data:`FAR_BELOW` below the
    step's best epoch's."""
    pair = _final_and_best(step)
    return pair is not None and pair[1] - pair[0] > FAR_BELOW


def _recovers(step: StepData) -> bool:
    """True when re-estimated BN statistics bring the final weights back to within
    :data:`FAR_BELOW` of the best epoch (the moving statistics were the drop)."""
    pair, recal = _final_and_best(step), recalibrated(step)
    return pair is not None and recal is not None and pair[1] - recal <= FAR_BELOW


def _best_text(step: StepData, unit: str = "") -> str:
    """``"best 81.30 at epoch 2 of 3"`` (without the epoch when it is not recorded)."""
    epoch = best_epoch(step)
    at = f" at {epoch_of(step, epoch)}" if epoch is not None else ""
    return f"best {pct(_best_value(step))}{unit}{at}"


def selected_on_test(step: StepData) -> bool:
    """Whether the step chose its best weights on the test split (``selection``)."""
    return str(step.measured("selection") or "test").startswith("test")


def best_cell(step: StepData) -> str:
    """``"60.00 (epoch 2 of 3)"``: the best weights' test top-1 and their epoch, 1-based;
    with their validation top-1 too where they were chosen on a validation split
    (``"59.10 (validation 60.00, epoch 2 of 3)"``)."""
    best = step.measured("best_accuracy")
    if not finite(best):
        return "-"
    epoch = best_epoch(step)
    notes = [] if epoch is None else [epoch_of(step, epoch)]
    value = best
    if not selected_on_test(step):
        notes.insert(0, f"validation {pct(best)}")
        value = step.measured("best_test_accuracy")
    return f"{pct(value)} ({', '.join(notes)})" if notes else pct(value)


def validation_name(run: RunData) -> str:
    """What ``fit``'s ``val_`` values of the run's steps were measured on."""
    steps = [s for s in run.all_steps() if s.measured("selection")]
    if steps and not any(selected_on_test(s) for s in steps):
        return "the validation split"
    return "the test split"


def selection_line(run: RunData) -> str:
    """The sentence under the summary naming what the best weights were chosen on."""
    chosen = sorted({str(s.measured("selection")) for s in run.all_steps()
                     if s.measured("selection")})
    if not chosen:
        return ""
    return (f"Best weights (and step 2's start from them) chosen on: {'; '.join(chosen)}. "
            "Top-1 columns are on the test split.\n")


def _drop_note(step: StepData) -> str:
    """Why a final top-1 lies far below the best, as far as the step's records say."""
    recal = recalibrated(step)
    if recal is None:
        return (f"{_best_text(step)}; the final epoch's moving BN statistics, not "
                f"re-estimated in this run: {_SEE}")
    if _recovers(step):
        return (f"{_best_text(step)}; {pct(recal)} with re-estimated BN statistics: the "
                f"moving statistics lag, {_SEE}")
    return (f"{_best_text(step)}; {pct(recal)} with re-estimated BN statistics too: the "
            f"final weights, not their BN statistics, {_SEE}")


def final_cell(step: StepData) -> str:
    """The summary's top-1 of the final weights (moving BN statistics), with the
    re-estimated statistics' top-1 beside it when measured and, when far below the best
    epoch, what the records say about that drop."""
    final = step.measured("test_accuracy")
    if not finite(final):
        return "-"
    if far_below_best(step):
        return f"{pct(final)} ({_drop_note(step)})"
    recal = recalibrated(step)
    if recal is not None:
        return f"{pct(final)} ({pct(recal)} with re-estimated BN statistics)"
    return pct(final)


def _final_epoch(step: StepData) -> str:
    total = step.setting("epochs", len(step.history) or None)
    return epoch_of(step, int(total)) if finite(total) else "the last epoch"


def _drop_reading(step: StepData) -> str:
    """What the records say about a final top-1 far below the best epoch's: the gap and
    whether re-estimated BN statistics close it."""
    final, recal = float(step.measured("test_accuracy")), recalibrated(step)
    gap = float(_best_value(step)) - final
    text = f", {100 * gap:.2f} points below the {_best_text(step, '%')}"
    if recal is None:
        text += ("; not re-estimated in this run (its result.json has no "
                 "recalibrated_accuracy), so whether the statistics' lag is the drop is not "
                 "measured")
        if (step.dir / "best.weights.h5").exists():
            text += f"; the best epoch's weights are `{step.name}/best.weights.h5`"
    elif _recovers(step):
        text += (f"; with re-estimated statistics {pct(recal)}%, so the lag of the moving "
                 "statistics explains the drop, not the weights")
    else:
        text += (f"; with re-estimated statistics {pct(recal)}%, so the drop is in the final "
                 "weights, not their BN statistics")
    return text


def _step_line(step: StepData) -> str:
    """One bullet of ``## BN statistics``: the step's final top-1 with the moving and (when
    measured) the re-estimated statistics, against its best epoch."""
    recal = recalibrated(step)
    text = (f"- {step.name}: final weights ({_final_epoch(step)}) "
            f"{pct(step.measured('test_accuracy'))}% with the moving statistics")
    if far_below_best(step):
        text += _drop_reading(step)
    elif recal is not None:
        text += f", {pct(recal)}% with re-estimated ones"
    if step.measured("bn_recalibrated"):
        text += "; the saved final weights keep the re-estimated statistics"
    return text + "."


def bn_section(run: RunData) -> str:
    """The ``## BN statistics`` section: what the moving and the re-estimated statistics
    give each step whose final top-1 is far below its best or whose re-estimated top-1 was
    measured; ``""`` when no step has either."""
    steps: List[StepData] = [s for s in run.all_steps()
                             if far_below_best(s) or recalibrated(s) is not None]
    if not steps:
        return ""
    intro = (
        "A step's top-1 in the summary is its final weights' test top-1: every BN "
        "layer normalises with its moving statistics, exponential averages of the training "
        "batches' statistics (PyTorch momentum 0.1, about the last ten batches). When the "
        "weights move fast (each latent-weight sign flip, Eq. 4-5's FF ratio, changes a "
        "binary weight at once) those averages lag behind the weights they normalise, and "
        "the test top-1 can fall far below the best epoch's while the training top-1 still "
        "rises. Re-estimating the statistics over the training split with the final weights "
        "(`la.training.recalibrate_bn`) changes no weight, so it tells a lag of the "
        "statistics from worse weights. A final top-1 more than "
        f"{100 * FAR_BELOW:g} points below the best epoch's is called out.")
    return "\n".join([BN_HEADING, "", intro, "", *(_step_line(s) for s in steps), ""])
