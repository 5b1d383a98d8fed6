"""Pick a weight decay from short trials by the paper's FF / C2I rule (Sec. 3.3, Table 1).

The paper (Sec. 3.3.1-3.3.3): weight decay on the latent weights trades stability against
dependence on the initialisation. A large decay keeps the latent weights small, so their
signs flip back and forth (a high FF ratio, Eq. 4-5: "some flip-flops do not contribute to
the final weights, but just harm the training stability"); a small, zero or negative decay
lets them grow, so the signs stay where they started (a high C2I ratio, Eq. 6-7; Table 1's
-1e-4 keeps 97% of the initial signs and reaches 26% top-1). Table 1 (ImageNet, one-step,
FF averaged over all iterations): 1e-5: FF 2.33e-3, C2I 0.4810; 5e-6: 1.62e-3, 0.4960;
0: 2.86e-4, 0.5243; -1e-4: 1.07e-7, 0.9740; 5e-6 trained best. Sec. 3.3.3: "by simply
eliminating the undesirable weight decay value just by looking at the FF ratio in the
early epochs we can find a good weight decay with fewer trials and errors".

The trials: one one-step BNN run per candidate (``la.training.one_step``, Adam, no
teacher), all with the same seed and so the same initial weights (the training draws a
step's initial weights from the run's seed and the step's name; :func:`run` checks the
initial signs every trial keeps as its C2I reference are equal) and the same data order, for
``epochs`` epochs. One-step BNN, not step 1 of BABW: the FF ratio measures sign flips of
the binary weights, which harm only where the weights are binary (the paper: step 1's
real-valued weights "have no worry about the FF ratio"); the paper's pick from one-step
Table 1 (5e-6) is the decay it then uses in step 1 of BABW.

The rule (:func:`apply_rule`), on each trial's FF ratio (mean over the trial's iterations)
and C2I ratio after the trial, against the reference (decay 0, else the smallest
non-negative candidate):

1. not bound to the initialisation: the share of flipped signs ``1 - C2I`` must be at
   least ``bind_factor`` (0.5) times the reference's (Table 1: -1e-4 has 0.026 against
   0's 0.476, rejected);
2. stable: the FF ratio must be at most ``ff_factor`` (7) times the reference's;
3. the pick: the largest decay passing both (a larger decay lowers the dependence on the
   initialisation, the benefit the paper harvests with 5e-6 over 0).

``ff_factor = 7`` is the geometric midpoint of Table 1's two ratios, 5e-6 / 0 = 5.7
(picked) and 1e-5 / 0 = 8.1 (not picked), so the rule picks 5e-6 from Table 1's numbers
(tested). Limits: it is calibrated on one table of whole-run means on ImageNet, while the
trials measure early epochs, where FF ratios are higher and C2I ratios nearer 1 for every
candidate; the ratios to the reference transfer better than absolute values, but not
exactly. Decays whose effect needs many iterations (1e-6 over a few hundred) look like 0
in short trials: ``decay_scale`` multiplies every candidate in the trials (e.g. by the
claims scoreboard's ``lr * wd * T`` rule, :meth:`~larq_adam.experiments.claims.Setting.decay`)
while the table keeps the candidates' own values. The rule screens out unstable and
initialisation-bound decays; it does not promise the best accuracy among the rest.
"""
import dataclasses
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from larq_adam import run_files
from larq_adam.errors import RunStateError, UserInputError
from larq_adam.formats import number

__all__ = ["TABLE1", "FF_FACTOR", "BIND_FACTOR", "Trial", "Pick", "apply_rule",
           "initial_signs", "run"]

PathLike = Union[str, Path]
#: Table 1's one-step rows: decay -> (FF ratio over all iterations, C2I ratio).
TABLE1 = {1e-5: (2.33e-3, 0.4810), 5e-6: (1.62e-3, 0.4960), 0.0: (2.86e-4, 0.5243),
          -1e-4: (1.07e-7, 0.9740)}
FF_FACTOR = 7.0
BIND_FACTOR = 0.5


@dataclasses.dataclass
class Trial:
    """One candidate's trial: its per-epoch FF and C2I ratios, the early values the rule
    reads (FF over all the trial's iterations, C2I after it) and the rule's decisions."""

    decay: float
    trial_decay: float
    run_dir: str
    ff_by_epoch: List[float]
    c2i_by_epoch: List[float]
    ff_early: float
    c2i_early: float
    seconds: float
    ff_vs_reference: float = math.nan
    flipped_vs_reference: float = math.nan
    stable: bool = True
    free: bool = True

    def to_json(self) -> Dict[str, Any]:
        return {k: (str(v) if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "Trial":
        out = {f.name: record[f.name] for f in dataclasses.fields(cls)}
        for key in ("ff_vs_reference", "flipped_vs_reference", "ff_early", "c2i_early"):
            out[key] = float(out[key])
        return cls(**out)


@dataclasses.dataclass
class Pick:
    """The picked decay, the reference, the rule's factors and every trial."""

    picked: float
    reference: float
    ff_factor: float
    bind_factor: float
    epochs: int
    iterations: int
    seed: int
    trials: List[Trial]

    def to_json(self) -> Dict[str, Any]:
        out = dataclasses.asdict(self)
        out["trials"] = [t.to_json() for t in self.trials]
        return out

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "Pick":
        out = {f.name: record[f.name] for f in dataclasses.fields(cls)}
        out["trials"] = [Trial.from_json(t) for t in record["trials"]]
        return cls(**out)

    @classmethod
    def load(cls, path: PathLike) -> "Pick":
        """Read ``pick.json`` (or the folder holding it)."""
        return run_files.read_typed_json(
            path, cls.from_json, name="pick.json", what="a pick",
            fix="delete it and run the picker again (finished trials are read back)")

    def markdown(self, figure: Optional[str] = None) -> str:
        """The trials' table, the pick and the rule."""
        return _markdown(self, figure)


def _reference(decays: Sequence[float]) -> float:
    non_negative = sorted(d for d in decays if d >= 0)
    if not non_negative:
        raise UserInputError(f"the candidates {list(decays)} have no decay >= 0 to compare "
                             "with; add 0 (the reference of the FF and C2I ratios)")
    return non_negative[0]


def _ratio(value: float, reference: float) -> float:
    if reference > 0:
        return value / reference
    return 1.0 if value == reference else math.inf


def apply_rule(early: Mapping[float, Tuple[float, float]], *, ff_factor: float = FF_FACTOR,
               bind_factor: float = BIND_FACTOR
               ) -> Tuple[float, float, Dict[float, Tuple[float, float, bool, bool]]]:
    """The paper's rule on ``{decay: (FF ratio, C2I ratio)}`` (see the module docstring).
    Returns ``(picked, reference, {decay: (FF / reference FF, flipped share / reference
    flipped share, stable, not bound)})``."""
    if not early:
        raise UserInputError("no candidates to pick from; pass at least one decay (with 0)")
    ref = _reference(list(early))
    ref_ff, ref_c2i = early[ref]
    decisions = {}
    for decay, (ff, c2i) in early.items():
        ff_ratio = _ratio(ff, ref_ff)
        flipped = _ratio(1.0 - c2i, 1.0 - ref_c2i)
        decisions[decay] = (ff_ratio, flipped, ff_ratio <= ff_factor or decay == ref,
                            flipped >= bind_factor or decay == ref)
    passing = [d for d, (_, _, stable, free) in decisions.items() if stable and free]
    return max(passing), ref, decisions


# ----------------------------------------------------------------------------- trials


def _folder(decay: float) -> str:
    return f"wd{decay:g}"


def initial_signs(run_dir: PathLike) -> List[np.ndarray]:
    """The signs of the binarized layers' initial latent kernels of a one-step run: the C2I
    reference (Eq. 6-7) the training keeps in the step's checkpoints (``c2i/signs/N``)."""
    import tensorflow as tf

    folder = Path(run_dir) / "step" / "checkpoints"
    latest = tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else None
    if latest is None:
        raise RunStateError(f"{folder} holds no checkpoint: the trial in {run_dir} did not "
                            "finish an epoch; delete the folder and run the picker again")
    reader = tf.train.load_checkpoint(latest)
    keys = [name for name, _ in tf.train.list_variables(latest)
            if name.startswith("c2i/signs/") and name.endswith("VARIABLE_VALUE")]
    if not keys:
        raise RunStateError(f"{latest} holds no C2I reference (c2i/signs/N): the trial was "
                            "trained without the analysis callbacks; delete it and run again")
    keys.sort(key=lambda name: int(name.split("/")[2]))
    return [reader.get_tensor(name) for name in keys]


def _check_same_start(trials: Sequence[Trial]) -> None:
    """Every trial must start from the same weights, or their FF and C2I do not compare."""
    first = initial_signs(trials[0].run_dir)
    for trial in trials[1:]:
        other = initial_signs(trial.run_dir)
        if len(other) != len(first) or any(not np.array_equal(a, b)
                                            for a, b in zip(first, other)):
            raise RunStateError(f"the trials in {trials[0].run_dir} and {trial.run_dir} "
                                "started from different weights; delete the picker's folder "
                                "and run it again with one seed for all candidates")


def _trial(decay: float, run_dir: Path, kwargs: Dict[str, Any], *, decay_scale: float,
           resume: bool, verbose: int) -> Trial:
    import tensorflow as tf

    from larq_adam import training

    tf.keras.backend.clear_session()
    result = training.one_step(run_dir, stage="bnn", optimizer="adam",
                               weight_decay=decay * decay_scale, analysis=True,
                               resume="allow" if resume else False,
                               verbose=2 if verbose >= 2 else 0, **kwargs)
    step = result.steps[-1]
    ff = [float(row.get("ff_ratio", math.nan)) for row in step.history]
    c2i = [float(row.get("c2i_ratio", math.nan)) for row in step.history]
    if step.ff_ratio is None or step.c2i_ratio is None:
        raise RunStateError(f"the trial in {run_dir} has no FF / C2I ratio (a non-finite "
                            "value or no binarized layer): check its history.csv")
    return Trial(decay=decay, trial_decay=decay * decay_scale, run_dir=str(run_dir),
                 ff_by_epoch=ff, c2i_by_epoch=c2i, ff_early=float(step.ff_ratio),
                 c2i_early=float(step.c2i_ratio), seconds=float(step.seconds))


def _iterations(run_dir: Path) -> int:
    """Iterations the trial trained: ``run_steps`` of its last FF record (Eq. 4-5's T)."""
    from larq_adam import analysis

    ff = analysis.load_records(str(run_dir / "step" / "records")).get("ff", {})
    if not ff:
        raise RunStateError(f"{run_dir / 'step' / 'records'} holds no FF record; delete the "
                            "trial's folder and run the picker again")
    return int(ff[max(ff)]["run_steps"])


def _check_candidates(candidates: Sequence[float], decay_scale: float) -> List[float]:
    values = [float(c) for c in candidates]
    if not values or any(not math.isfinite(c) for c in values) or len(set(values)) < len(values):
        raise UserInputError(f"candidates must be distinct finite decays, got {list(candidates)}")
    if not (math.isfinite(decay_scale) and decay_scale > 0):
        raise UserInputError(f"decay_scale must be a number > 0, got {decay_scale!r}")
    _reference(values)
    return values


# ----------------------------------------------------------------------------- report


def _fmt(value: float, spec: str = ".3g") -> str:
    """A trial's number; an infinite ratio (a reference of 0) as ``inf``."""
    return number(value, spec, missing=str(value))


def _markdown(pick: Pick, figure: Optional[str]) -> str:
    rows = ["| decay | trained at | FF ratio (trial mean) | FF / reference | C2I ratio | "
            "flipped share / reference | stable | not bound | |", "|" + "---|" * 9]
    for t in sorted(pick.trials, key=lambda t: t.decay):
        mark = ("**picked**" if t.decay == pick.picked else
                "reference" if t.decay == pick.reference else "")
        rows.append(f"| {t.decay:g} | {t.trial_decay:.3g} | {_fmt(t.ff_early)} | "
                    f"{_fmt(t.ff_vs_reference)} | {t.c2i_early:.4f} | "
                    f"{_fmt(t.flipped_vs_reference)} | {'yes' if t.stable else 'no'} | "
                    f"{'yes' if t.free else 'no'} | {mark} |")
    image = f"\n\n![FF and C2I per epoch]({figure})" if figure else ""
    return (f"# Weight decay pick: {pick.picked:g}\n\n"
            f"One-step BNN trials of {pick.epochs} epoch(s) ({pick.iterations} iterations), "
            f"seed {pick.seed}, all from the same initial weights. Rule (Sec. 3.3, Table "
            f"1): not bound to the initialisation (flipped share 1 - C2I >= "
            f"{pick.bind_factor:g} x the reference's), stable (FF <= {pick.ff_factor:g} x "
            f"the reference's), then the largest such decay. Reference: "
            f"{pick.reference:g}.\n\n" + "\n".join(rows) + image + "\n")


def pick_figure(pick: Pick, path: PathLike) -> Path:
    """FF ratio (log scale) and C2I ratio per epoch, one line per candidate."""
    from matplotlib.figure import Figure

    from larq_adam.report.figures import save_figure

    fig = Figure(figsize=(10, 3.8))
    ax_ff, ax_c2i = fig.subplots(1, 2)
    for t in sorted(pick.trials, key=lambda t: t.decay):
        epochs = np.arange(1, len(t.ff_by_epoch) + 1)
        style = dict(marker="o", linewidth=2.5 if t.decay == pick.picked else 1.2,
                     label=f"{t.decay:g}" + (" (picked)" if t.decay == pick.picked else ""))
        ax_ff.plot(epochs, t.ff_by_epoch, **style)
        ax_c2i.plot(epochs, t.c2i_by_epoch, **style)
    if all(v > 0 for t in pick.trials for v in t.ff_by_epoch if math.isfinite(v)):
        ax_ff.set_yscale("log")
    ax_ff.set(xlabel="epoch", ylabel="FF ratio (epoch mean, Eq. 4-5)",
              title="stability: flip-flops")
    ax_c2i.set(xlabel="epoch", ylabel="C2I ratio (Eq. 6-7)",
               title="dependence on the initialisation")
    for ax in (ax_ff, ax_c2i):
        ax.grid(alpha=0.3)
        ax.legend(title="weight decay", fontsize=7)
    fig.tight_layout()
    return save_figure(fig, path)  # atomic, folders created


# ----------------------------------------------------------------------------- running


def run(out_dir: PathLike, *, candidates: Sequence[float] = (1e-5, 5e-6, 1e-6, 0.0),
        epochs: int = 3, model: str = "reactnet_a", data: str = "mnist5k",
        width: float = 0.125, seed: int = 0, batch_size: int = 64,
        max_steps_per_epoch: Optional[int] = 16, learning_rate: float = 1e-3,
        decay_scale: float = 1.0, ff_factor: float = FF_FACTOR,
        bind_factor: float = BIND_FACTOR, resume: bool = True, verbose: int = 1) -> Pick:
    """Short one-step BNN trials of every candidate decay (``out_dir/wdDECAY``, each times
    ``decay_scale``) from the same initial weights, then the paper's rule
    (:func:`apply_rule`); writes ``pick.md``, ``pick.json`` and
    ``figures/pick_ff_c2i.png`` in ``out_dir``. ``resume``: finished trials are read back,
    an interrupted one continues."""
    from larq_adam.atomic import atomic_write_json, atomic_write_text

    values = _check_candidates(candidates, decay_scale)
    out = Path(out_dir)
    kwargs = dict(data=data, model=model, width=width, seed=seed, batch_size=batch_size,
                  max_steps_per_epoch=max_steps_per_epoch, learning_rate=learning_rate,
                  epochs=epochs, teacher=None)
    trials = []
    for decay in values:
        trials.append(_trial(decay, out / _folder(decay), kwargs, decay_scale=decay_scale,
                             resume=resume, verbose=verbose))
        if verbose:
            t = trials[-1]
            print(f"[pick-decay] {decay:g} (trained at {t.trial_decay:.3g}): FF "
                  f"{t.ff_early:.3g}, C2I {t.c2i_early:.4f} ({t.seconds:.0f} s)", flush=True)
    _check_same_start(trials)
    picked, ref, decisions = apply_rule({t.decay: (t.ff_early, t.c2i_early) for t in trials},
                                        ff_factor=ff_factor, bind_factor=bind_factor)
    for t in trials:
        t.ff_vs_reference, t.flipped_vs_reference, t.stable, t.free = decisions[t.decay]
    pick = Pick(picked=picked, reference=ref, ff_factor=ff_factor, bind_factor=bind_factor,
                epochs=epochs, iterations=_iterations(out / _folder(values[0])), seed=seed,
                trials=trials)
    figure = pick_figure(pick, out / "figures" / "pick_ff_c2i.png")
    atomic_write_json(out / "pick.json", pick.to_json())
    atomic_write_text(out / "pick.md", pick.markdown(str(figure.relative_to(out))))
    if verbose:
        print(pick.markdown(), flush=True)
    return pick
