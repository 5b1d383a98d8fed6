"""The paper's comparisons as library functions: Tables 1, 4, 5 and Figs. 2 and 8.

Each function trains the runs of one comparison from a base :class:`RunConfig` (data,
model, width, epochs, seed, ... shared by every run), each run in its own folder under
``out_dir``, and returns ``{label: RunResult}``; :func:`compare` writes the comparison's
table and figures with :func:`larq_adam.report.compare`. With ``resume=True`` finished runs
are read back and an interrupted one continues, so a killed comparison ends as an
uninterrupted one. A base config with ``teacher="auto"`` trains one real-valued teacher
first (``out_dir/teacher_run``), shared by every run.

Example:
    >>> base = RunConfig(kind="one_step", width=0.25, epochs=2)        # doctest: +SKIP
    >>> runs = table1_weight_decay("runs/table1", base)                 # doctest: +SKIP
    >>> compare(runs, "runs/table1", kind="weight_decay", title="Table 1")  # doctest: +SKIP
"""
from pathlib import Path
from typing import Callable, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from larq_adam.config import RunConfig
from larq_adam.results import RunResult

PathLike = Union[str, Path]
Runs = Dict[str, RunResult]
Progress = Optional[Callable[[str, RunResult], None]]

#: Table 1: one-step decays, and (step 1, step 2) decays of two-step BABW.
TABLE1_ONE_STEP = (1e-5, 5e-6, 0.0, -1e-4)
TABLE1_TWO_STEP = ((1e-5, 0.0), (5e-6, 0.0))
#: Table 5's optimizers at PyTorch's default learning rates (None: the optimizer's).
TABLE5_OPTIMIZERS = ("adam", "rmsprop", "adagrad", "adadelta", "amsgrad", "adabound")
#: Fig. 2: Adam at 1e-3 and SGD (momentum 0.9) at 0.1, no decay.
FIG2_SETTINGS = {"adam": 1e-3, "sgd": 0.1}
#: Fig. 8: initial learning rates swept per optimizer.
FIG8_LEARNING_RATES = {"adam": (1e-4, 1e-3, 1e-2), "sgd": (1e-2, 1e-1, 1.0)}


def _train(run_dir: Path, config: RunConfig, *, resume: bool, verbose: int) -> RunResult:
    from larq_adam import training

    return training.train(run_dir, config, resume="allow" if resume else False,
                          verbose=verbose)


def shared_teacher(out_dir: PathLike, base: RunConfig, *, resume: bool = False,
                   verbose: int = 1) -> RunConfig:
    """``base`` with its teacher resolved: ``"auto"`` trains one real-valued teacher in
    ``out_dir/teacher_run`` (FP stage, no analysis) and points every run at its model."""
    if base.teacher != "auto":
        return base
    teacher = base.replace(kind="one_step", model=base.teacher_model, stage="fp",
                           weight_decay=0.0, teacher=None, analysis=False,
                           width=base.resolved_teacher_width,
                           epochs=base.resolved_teacher_epochs)
    result = _train(Path(out_dir) / "teacher_run", teacher, resume=resume, verbose=verbose)
    return base.replace(teacher=result.final_model_path)


def _run_all(out_dir: PathLike, base: RunConfig, arms: Iterable[Tuple[str, str, Mapping]],
             *, resume: bool, verbose: int, progress: Progress) -> Runs:
    """Train ``arms`` (label, folder, config changes) from ``base`` with a shared teacher."""
    out = Path(out_dir)
    base = shared_teacher(out, base, resume=resume, verbose=verbose)
    runs: Runs = {}
    for label, folder, changes in arms:
        runs[label] = _train(out / folder, base.replace(**changes), resume=resume,
                             verbose=verbose)
        if progress is not None:
            progress(label, runs[label])
    return runs


def table1_weight_decay(out_dir: PathLike, base: RunConfig, *,
                        one_step: Sequence[float] = TABLE1_ONE_STEP,
                        two_step: Sequence[Tuple[float, float]] = TABLE1_TWO_STEP,
                        resume: bool = False, verbose: int = 1, progress: Progress = None
                        ) -> Runs:
    """Table 1: FF ratio, C2I ratio and top-1 of Adam for several weight decays, one-step
    BNN and two-step BABW (Sec. 3.3: FF rises and C2I falls as decay grows; two-step
    breaks that trade-off)."""
    arms = [(f"one-step {wd:g}", f"one_step_wd{wd:g}",
             dict(kind="one_step", stage="bnn", weight_decay=wd)) for wd in one_step]
    arms += [(f"two-step {a:g} / {b:g}", f"two_step_wd{a:g}_{b:g}",
              dict(kind="two_step", order="babw", step1_weight_decay=a,
                   step2_weight_decay=b)) for a, b in two_step]
    return _run_all(out_dir, base, arms, resume=resume, verbose=verbose, progress=progress)


def table4_order(out_dir: PathLike, base: RunConfig, *, resume: bool = False,
                 verbose: int = 1, progress: Progress = None) -> Runs:
    """Table 4: two-step binarization order, BABW (the paper's) vs BWBA, decays 5e-6 / 0."""
    arms = [(label, order, dict(kind="two_step", order=order, step1_weight_decay=5e-6,
                                step2_weight_decay=0.0))
            for order, label in (("babw", "BABW (activations first)"),
                                 ("bwba", "BWBA (weights first)"))]
    return _run_all(out_dir, base, arms, resume=resume, verbose=verbose, progress=progress)


def table5_optimizers(out_dir: PathLike, base: RunConfig, *,
                      optimizers: Sequence[str] = TABLE5_OPTIMIZERS, resume: bool = False,
                      verbose: int = 1, progress: Progress = None) -> Runs:
    """Table 5: Adam against other adaptive optimizers, one-step BNN at their default
    learning rates and no weight decay (Sec. 4.3.3)."""
    arms = [(name, name, dict(kind="one_step", stage="bnn", optimizer=name,
                              learning_rate=None, weight_decay=0.0)) for name in optimizers]
    return _run_all(out_dir, base, arms, resume=resume, verbose=verbose, progress=progress)


def fig2_adam_vs_sgd(out_dir: PathLike, base: RunConfig, *, stage: str = "bnn",
                     resume: bool = False, verbose: int = 1, progress: Progress = None
                     ) -> Runs:
    """Fig. 2: Adam (1e-3) vs SGD (momentum 0.9, 0.1) in one ``stage`` (``bnn`` or its
    real-valued twin ``fp``), one-step, no decay; the runs' records also give Fig. 3-5, 7."""
    arms = [(f"{stage} {name} lr={lr:g}", f"{stage}_{name}",
             dict(kind="one_step", stage=stage, optimizer=name, learning_rate=lr,
                  weight_decay=0.0)) for name, lr in FIG2_SETTINGS.items()]
    return _run_all(out_dir, base, arms, resume=resume, verbose=verbose, progress=progress)


def fig8_lr_sweep(out_dir: PathLike, base: RunConfig, *,
                  learning_rates: Mapping[str, Sequence[float]] = FIG8_LEARNING_RATES,
                  resume: bool = False, verbose: int = 1, progress: Progress = None) -> Runs:
    """Fig. 8: top-1 against the initial learning rate, Adam vs SGD, one-step BNN, linear
    decay (Sec. 4.3.1: Adam is better and more robust across learning rates)."""
    arms = [(f"{name} lr={lr:g}", f"{name}_lr{lr:g}",
             dict(kind="one_step", stage="bnn", optimizer=name, learning_rate=lr,
                  weight_decay=0.0)) for name, lrs in learning_rates.items() for lr in lrs]
    return _run_all(out_dir, base, arms, resume=resume, verbose=verbose, progress=progress)


def compare(runs: Mapping[str, RunResult], out_dir: PathLike, *, kind: str, title: str
            ) -> Path:
    """The comparison's markdown table and figures in ``out_dir``
    (:func:`larq_adam.report.compare`); returns the markdown file."""
    from larq_adam import report

    dirs = {label: result.run_dir for label, result in runs.items()}
    return Path(report.compare(dirs, out_dir, kind=kind, title=title))
