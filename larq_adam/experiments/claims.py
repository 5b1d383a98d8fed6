"""The paper's directional claims measured with seeds, tests and verdicts: a scoreboard.

Each claim compares arms (training settings), each arm trained with ``seeds`` run seeds
(the seed sets the initial weights, the data order and the augmentation), each arm+seed in
its own run folder ``out_dir/runs/ARM/seedS`` trained with ``resume="allow"``: a killed
scoreboard, run again, reads the finished runs back, continues the interrupted one and
ends with the same numbers. Runs are shared between claims where the paper's comparison
allows it (8 arms serve 12 rows; ``key: claim (paper) - arms``):

* ``a-bnn``: Adam beats SGD on a BNN, top-1 (Fig. 2b) - bnn_adam, bnn_sgd;
* ``a-fp``: SGD does at least as well as Adam on the FP twin (Fig. 2a) - fp_sgd, fp_adam;
* ``a``: Adam's gain over SGD is larger on the BNN than on FP (Fig. 2) - the four above;
* ``b-cam``: higher minimum CAM of the first binary conv (Fig. 4) - bnn_adam, bnn_sgd;
* ``b-sdam``: lower SDAM of the first binary conv (Fig. 4) - bnn_adam, bnn_sgd;
* ``b-upd``: larger update CAM of the low-CAM kernels (Fig. 5) - bnn_adam, bnn_sgd;
* ``c``: fewer saturated inputs |a| > 1 of the first binary conv (Fig. 3) - bnn_adam,
  bnn_sgd;
* ``d-ff`` / ``d-c2i``: the FF ratio rises and the C2I ratio falls as the weight decay
  grows (Table 1) - bnn_adam (decay 0), bnn_adam_wd5e-06, bnn_adam_wd1e-05;
* ``e``: BABW beats BWBA, top-1 after step 2 (Table 4) - babw, bwba;
* ``f``: two-step 5e-6 / 0 beats one-step 5e-6 (Table 1) - babw, bnn_adam_wd5e-06;
* ``g``: more latent weights beyond +-1 with Adam (Fig. 7) - bnn_adam, bnn_sgd.

Tests (:mod:`.stats`): Welch's t, one-sided in the claimed direction (a-bnn, a-fp, b, c,
e, f, g); a Welch contrast (a: (BNN Adam - BNN SGD) - (FP Adam - FP SGD) > 0); Spearman's
rho over decay x seed with a permutation p-value (d). Verdict: "reproduced" (p < 0.05 in
the claimed direction), "contradicted" (p < 0.05 against it), else "inconclusive at this
budget". CAM, SDAM, update CAM and saturation are read at the last epoch: the whole
default run (640 iterations) is shorter than the one ImageNet epoch (~5000 iterations)
after which Figs. 3-5 measure. Every Adam arm trains at 1e-3 and every run without a
teacher (cross-entropy on the labels), so the BNN Adam run at decay 0 serves Fig. 2 and
Table 1 at once.

Scale (:class:`Setting`; measured on the 2-core CPU, results in the README):
ReActNet-A x0.125 on mnist5k (32 px), batch 64, 16 batches per epoch (1,024 images: every
epoch a new seeded shuffle), 40 epochs = 640 iterations per step, linear LR decay. One
epoch costs ~3.5 s (training, evaluation on the 1,000 test digits and the analysis
callbacks) and a run ~18 s of model building and tracing, so a one-step run takes ~160 s
(measured at the default: 145-177 s of training per BNN run) and a two-step run ~320 s;
18 one-step and 6 two-step runs make ~80 minutes. Limits of this budget: Adam moves a
weight by at most ~lr per iteration, ~0.3 over the 640 linearly decaying iterations, so
latent weights initialised near +-0.05 cannot pass +-1 (claim g measured 0 for both
optimizers: it needs ``lr * T`` of order 1, the paper had 1.25e-3 x 1.28M); the update CAM
(b-upd) is measured at the last iteration, where the linear schedule is at lr / 40.
SGD (momentum 0.9) trains at 0.025: the paper's 0.1 at batch 256 scaled linearly to batch
64 (0.1 at batch 64 diverged: NaN loss in the first epoch of the FP net, inf in the third
of the BNN). Each step of a two-step run trains as long as a one-step run, as in the
paper (so two-step has twice the iterations).

Weight decay scaling rule: the coupled decay pulls a weight by ``lr * wd * w`` (relative to
the gradient's scale under Adam) per iteration, so the total pull over a step is kept
equal to the paper's: ``wd = wd_paper * (lr_paper * T_paper) / (lr * T)`` with
``lr_paper = 1.25e-3``, ``T_paper = 256 epochs x 5,005 iterations`` (ImageNet at batch
256) and ``T`` the step's iterations (:meth:`Setting.decay`). At the default scale 5e-6
becomes 1.25e-2 and 1e-5 becomes 2.5e-2. This keeps ``lr * wd * T``, not the ratio of the
decay to the gradient's RMS, which differs between ImageNet and mnist5k.

``quick=True``: 1 epoch of 2 batches of 16 (the same 8 arms; ``seeds=2`` is the cheapest
run): it checks the machinery, not the paper (its verdicts mean nothing).

Example:
    >>> board = run("runs/claims", seeds=3)                          # doctest: +SKIP
    >>> [(c.key, c.test.verdict) for c in board.claims]             # doctest: +SKIP
"""
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from larq_adam.errors import UserInputError
from larq_adam.experiments import claim_tables
from larq_adam.experiments.claim_definitions import (CLAIM_KEYS, DEFAULT, METRICS,
                                                     PAPER_ITERATIONS, PAPER_LR, QUICK, Arm,
                                                     Claim, Setting, arms, claims)
from larq_adam.experiments.scoreboard import ArmRuns, ClaimResult, PathLike, Scoreboard
from larq_adam.experiments.claim_scoring import measure, score

__all__ = ["Setting", "DEFAULT", "QUICK", "Arm", "Claim", "ArmRuns", "ClaimResult",
           "Scoreboard", "arms", "claims", "measure", "score", "run", "CLAIM_KEYS", "METRICS",
           "PAPER_LR", "PAPER_ITERATIONS"]


def _needed_arms(setting: Setting, only: Optional[Sequence[str]]) -> List[str]:
    """The arms the chosen claims compare, in :func:`arms` order."""
    wanted = {a for c in claims(setting) if only is None or c.key in only for a in c.arms}
    return [key for key in arms(setting) if key in wanted]


def _check(seeds: int, only: Optional[Sequence[str]]) -> List[int]:
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 2:
        raise UserInputError(f"seeds must be an int >= 2 (each arm needs a variance to test), "
                             f"got {seeds!r}")
    unknown = sorted(set(only or ()) - set(CLAIM_KEYS))
    if unknown or (only is not None and not only):
        raise UserInputError(f"unknown claims {unknown or '(none chosen)'}; valid: "
                             f"{', '.join(CLAIM_KEYS)}")
    return list(range(seeds))


def _train(arm: Arm, setting: Setting, seed: int, run_dir: Path, *, resume: bool,
           verbose: int) -> Any:
    """One arm+seed run with ``la.training`` (``resume="allow"``: a finished run is read
    back, an interrupted one continues); a fresh Keras session per run."""
    import tensorflow as tf

    from larq_adam import training

    tf.keras.backend.clear_session()
    train = training.one_step if arm.scheme == "one_step" else training.two_step
    return train(run_dir, **setting.train_kwargs(seed), **dict(arm.options),
                 resume="allow" if resume else False, verbose=2 if verbose >= 2 else 0)


def _train_all(out: Path, setting: Setting, keys: Sequence[str], seeds: Sequence[int], *,
               resume: bool, verbose: int) -> Dict[str, ArmRuns]:
    """Every arm and seed (seed by seed, so a stopped scoreboard has all arms of the
    first seeds); returns each arm's runs."""
    spec = arms(setting)
    runs = {k: ArmRuns(k, spec[k].label, spec[k].scheme, dict(spec[k].options))
            for k in keys}
    for seed in seeds:
        for key in keys:
            run_dir = out / "runs" / key / f"seed{seed}"
            result = _train(spec[key], setting, seed, run_dir, resume=resume, verbose=verbose)
            arm_runs = runs[key]
            arm_runs.seeds.append(seed)
            arm_runs.run_dirs.append(str(run_dir))
            arm_runs.seconds.append(float(sum(s.seconds for s in result.steps)))
            arm_runs.metrics.append(measure(result))
            if verbose:
                top1, seconds = arm_runs.metrics[-1]["accuracy"], arm_runs.seconds[-1]
                print(f"[claims] {key} seed {seed}: top-1 {top1:.4f} ({seconds:.0f} s of "
                      "training)", flush=True)
    return runs


def _write(board: Scoreboard, out: Path) -> List[Path]:
    """``scoreboard.json``, ``scoreboard.md`` and ``figures/claim_KEY.png``."""
    from larq_adam.atomic import atomic_write_json, atomic_write_text
    from larq_adam.experiments import claim_figures

    figures = claim_figures.write_figures(board, out / "figures")
    relative = {k: str(p.relative_to(out)) for k, p in figures.items()}
    paths = [atomic_write_json(out / "scoreboard.json", board.to_json()),
             atomic_write_text(out / "scoreboard.md", claim_tables.markdown(board, relative))]
    return paths + list(figures.values())


def run(out_dir: PathLike, *, seeds: int = 3, quick: bool = False, resume: bool = True,
        verbose: int = 1, scale: Optional[Setting] = None,
        only: Optional[Sequence[str]] = None) -> Scoreboard:
    """Train (or read back) every arm of the chosen claims (``only``: keys of
    :data:`CLAIM_KEYS`; default all) with seeds ``0 .. seeds-1`` at ``scale`` (default
    :data:`DEFAULT`, or :data:`QUICK` with ``quick``), test each claim and write
    ``scoreboard.md``, ``scoreboard.json`` and ``figures/`` in ``out_dir``.

    ``resume=True`` continues a stopped scoreboard (finished runs are read back without
    training); ``False`` refuses a run folder that already holds a run. ``verbose``: 0
    silent, 1 one line per run and the time table, 2 also Keras' line per epoch.
    """
    start = time.time()
    seed_list = _check(seeds, only)
    setting = scale if scale is not None else (QUICK if quick else DEFAULT)
    out = Path(out_dir)
    keys = _needed_arms(setting, only)
    runs = _train_all(out, setting, keys, seed_list, resume=resume, verbose=verbose)
    rows = score(setting, runs, only=only)
    board = Scoreboard(setting, seed_list, runs, rows, wall_seconds=0.0)
    board.wall_seconds = round(time.time() - start, 1)
    paths = _write(board, out)
    if verbose:
        print(claim_tables.time_table(board))
        print(f"[claims] wall time {board.wall_seconds:.0f} s; wrote {paths[1]}", flush=True)
    return board
