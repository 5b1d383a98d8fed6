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
import dataclasses
import math
import time
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from larq_adam import run_files
from larq_adam.errors import UnknownKeyError, UserInputError
from larq_adam.experiments import stats

__all__ = ["Setting", "DEFAULT", "QUICK", "Arm", "Claim", "ArmRecord", "ClaimResult",
           "Scoreboard", "arms", "claims", "measure", "score", "run", "CLAIM_KEYS"]

PathLike = Union[str, Path]
PAPER_LR = 1.25e-3                 # the paper's Adam LR (batch 256)
PAPER_ITERATIONS = 256 * 5005      # 256 ImageNet epochs of 1.28M images at batch 256
LOW_CAM_QUANTILE = 0.25            # "low-CAM kernels" (Fig. 5): the lowest quarter


@dataclasses.dataclass(frozen=True)
class Setting:
    """The scale every arm trains at (see the module docstring for the choice)."""

    data: str = "mnist5k"
    model: str = "reactnet_a"
    width: float = 0.125
    batch_size: int = 64
    epochs: int = 40
    max_steps_per_epoch: int = 16
    adam_lr: float = 1e-3
    sgd_lr: float = 0.025
    decays: Tuple[float, ...] = (0.0, 5e-6, 1e-5)        # Table 1's, before scaling
    two_step_decays: Tuple[float, float] = (5e-6, 0.0)   # Table 1 / 4's step 1 / step 2

    def __post_init__(self) -> None:
        for key in ("batch_size", "epochs", "max_steps_per_epoch"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UserInputError(f"Setting.{key} must be an int >= 1, got {value!r}")
        if 0.0 not in self.decays or len(set(self.decays)) < 3:
            raise UserInputError(f"Setting.decays must hold 0 and at least two other decays "
                                 f"for the trend of claim d, got {self.decays}")
        if self.two_step_decays[0] not in self.decays:
            raise UserInputError(f"Setting.two_step_decays[0] ({self.two_step_decays[0]:g}) "
                                 f"must be one of Setting.decays {self.decays}: claim f "
                                 "compares two-step with the one-step run at that decay")

    @property
    def iterations(self) -> int:
        """Iterations of one training step."""
        return self.epochs * self.max_steps_per_epoch

    def decay(self, paper_decay: float) -> float:
        """The paper's decay scaled to this budget: ``lr * wd * T`` kept equal (Table 1)."""
        return paper_decay * (PAPER_LR * PAPER_ITERATIONS) / (self.adam_lr * self.iterations)

    def train_kwargs(self, seed: int) -> Dict[str, Any]:
        """Keyword arguments of ``la.training.one_step`` / ``two_step`` shared by all arms."""
        return dict(data=self.data, model=self.model, width=self.width,
                    batch_size=self.batch_size, epochs=self.epochs,
                    max_steps_per_epoch=self.max_steps_per_epoch, teacher=None, seed=seed)

    def to_json(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "Setting":
        out = {f.name: record[f.name] for f in dataclasses.fields(cls) if f.name in record}
        for key in ("decays", "two_step_decays"):
            if key in out:
                out[key] = tuple(out[key])
        return cls(**out)


DEFAULT = Setting()
QUICK = Setting(epochs=1, max_steps_per_epoch=2, batch_size=16)


@dataclasses.dataclass(frozen=True)
class Arm:
    """One training setting: ``scheme`` is ``one_step`` or ``two_step`` and ``options`` the
    arguments of that ``la.training`` function beyond :meth:`Setting.train_kwargs`."""

    key: str
    label: str
    scheme: str
    options: Tuple[Tuple[str, Any], ...]


def _decay_key(paper_decay: float) -> str:
    return "bnn_adam" if paper_decay == 0 else f"bnn_adam_wd{paper_decay:g}"


def arms(setting: Setting) -> Dict[str, Arm]:
    """The arms of every claim at ``setting``, keyed by folder name."""
    adam, sgd = setting.adam_lr, setting.sgd_lr
    out = [
        Arm("bnn_adam", f"BNN Adam {adam:g}", "one_step",
            (("stage", "bnn"), ("optimizer", "adam"), ("learning_rate", adam),
             ("weight_decay", 0.0), ("analysis", True))),
        Arm("bnn_sgd", f"BNN SGD {sgd:g}", "one_step",
            (("stage", "bnn"), ("optimizer", "sgd"), ("learning_rate", sgd),
             ("weight_decay", 0.0), ("analysis", True))),
        Arm("fp_adam", f"FP Adam {adam:g}", "one_step",
            (("stage", "fp"), ("optimizer", "adam"), ("learning_rate", adam),
             ("weight_decay", 0.0), ("analysis", False))),
        Arm("fp_sgd", f"FP SGD {sgd:g}", "one_step",
            (("stage", "fp"), ("optimizer", "sgd"), ("learning_rate", sgd),
             ("weight_decay", 0.0), ("analysis", False))),
    ]
    for wd in sorted(d for d in setting.decays if d != 0):
        out.append(Arm(_decay_key(wd), f"BNN Adam wd {wd:g} (x{setting.decay(1.0):.4g} = "
                                       f"{setting.decay(wd):.3g})", "one_step",
                       (("stage", "bnn"), ("optimizer", "adam"), ("learning_rate", adam),
                        ("weight_decay", setting.decay(wd)), ("analysis", True))))
    wd1, wd2 = setting.two_step_decays
    for order in ("babw", "bwba"):
        out.append(Arm(order, f"two-step {order.upper()} {wd1:g} / {wd2:g}", "two_step",
                       (("order", order), ("optimizer", "adam"), ("learning_rate", adam),
                        ("step1_weight_decay", setting.decay(wd1)),
                        ("step2_weight_decay", setting.decay(wd2)), ("analysis", False))))
    return {arm.key: arm for arm in out}


@dataclasses.dataclass(frozen=True)
class Claim:
    """One directional claim: ``arms`` compared on ``metric`` by ``test`` (``welch``: arm 0
    vs arm 1; ``contrast``: weights ``(1, -1, -1, 1)`` over four arms; ``trend``: Spearman
    of the metric on ``x``, one value per arm) in ``direction``."""

    key: str
    claimed: str
    source: str
    metric: str
    arms: Tuple[str, ...]
    test: str = "welch"
    direction: str = "greater"
    x: Tuple[float, ...] = ()


#: metric name -> what it is (the scoreboard's column text)
METRICS = {
    "accuracy": "top-1 on the test split, final weights (last step)",
    "cam_min_first": "minimum CAM (Eq. 3) of the first binary conv, last epoch",
    "sdam_first": "SDAM of the first binary conv, last epoch",
    "update_cam_low": "mean update CAM of the first binary conv's lowest-CAM quarter of "
                      "kernels, last iteration",
    "saturation_first": "share of the first binary conv's inputs with |a| > 1 (probe batch, "
                        "last epoch)",
    "ff_ratio": "FF ratio (Eq. 4-5), mean over all iterations",
    "c2i_ratio": "C2I ratio (Eq. 6-7) of the final weights",
    "latent_abs_gt1": "share of latent weights with |w| > 1, last epoch",
}


def claims(setting: Setting) -> List[Claim]:
    """The scoreboard's rows at ``setting`` (see the module docstring)."""
    wd_arms = tuple(_decay_key(d) for d in sorted(setting.decays))
    one_step_f = _decay_key(setting.two_step_decays[0])
    adam_sgd = ("bnn_adam", "bnn_sgd")
    return [
        Claim("a-bnn", "BNN: Adam > SGD", "Fig. 2b", "accuracy", adam_sgd),
        Claim("a-fp", "FP: SGD >= Adam", "Fig. 2a", "accuracy", ("fp_sgd", "fp_adam")),
        Claim("a", "Adam's gain over SGD larger on BNN than on FP", "Fig. 2", "accuracy",
              ("bnn_adam", "bnn_sgd", "fp_adam", "fp_sgd"), test="contrast"),
        Claim("b-cam", "min CAM: Adam > SGD", "Fig. 4", "cam_min_first", adam_sgd),
        Claim("b-sdam", "SDAM: Adam < SGD", "Fig. 4", "sdam_first", adam_sgd,
              direction="less"),
        Claim("b-upd", "update CAM of low-CAM kernels: Adam > SGD", "Fig. 5",
              "update_cam_low", adam_sgd),
        Claim("c", "saturation |a| > 1: Adam < SGD", "Fig. 3", "saturation_first", adam_sgd,
              direction="less"),
        Claim("d-ff", "FF ratio rises with weight decay", "Table 1", "ff_ratio", wd_arms,
              test="trend", x=tuple(sorted(setting.decays))),
        Claim("d-c2i", "C2I ratio falls with weight decay", "Table 1", "c2i_ratio", wd_arms,
              test="trend", direction="less", x=tuple(sorted(setting.decays))),
        Claim("e", "BABW > BWBA", "Table 4", "accuracy", ("babw", "bwba")),
        Claim("f", "two-step 5e-6/0 > one-step 5e-6", "Table 1", "accuracy",
              ("babw", one_step_f)),
        Claim("g", "|w| > 1 share: Adam > SGD", "Fig. 7", "latent_abs_gt1", adam_sgd),
    ]


CLAIM_KEYS = tuple(c.key for c in claims(DEFAULT))


# ----------------------------------------------------------------------------- measuring


def _last_record(step_dir: Path, kind: str) -> Optional[Dict[str, Any]]:
    from larq_adam import analysis

    folder = step_dir / "records"
    if not folder.is_dir():
        return None
    found = analysis.load_records(str(folder)).get(kind, {})
    return found[max(found)] if found else None


def _record_metrics(step_dir: Path) -> Dict[str, float]:
    """Fig. 3-5's numbers for the first binary conv from the last epoch's records."""
    out: Dict[str, float] = {}
    cam = _last_record(step_dir, "cam")
    if cam is not None:
        first = np.asarray(cam["cam"][0], dtype=np.float64)
        out["cam_min_first"], out["sdam_first"] = float(first.min()), float(first.std())
        update = np.asarray(cam["update_cam"][0], dtype=np.float64)
        if update.size == first.size:
            low = first <= np.quantile(first, LOW_CAM_QUANTILE)
            out["update_cam_low"] = float(update[low].mean())
    sat = _last_record(step_dir, "saturation")
    if sat is not None:
        out["saturation_first"] = float(sat["saturated"][0]) / float(sat["total"][0])
    return out


def measure(result: Any) -> Dict[str, float]:
    """Every metric of :data:`METRICS` a finished run (a ``RunResult``) has, from its last
    step: the result record, the last ``history.csv`` row and the analysis records."""
    step = result.steps[-1]
    out = {"accuracy": float(step.test_accuracy)}
    for key in ("ff_ratio", "c2i_ratio"):
        if getattr(step, key) is not None:
            out[key] = float(getattr(step, key))
    last = step.history[-1] if step.history else {}
    value = last.get("latent_abs_gt1")
    if value is not None and math.isfinite(float(value)):
        out["latent_abs_gt1"] = float(value)
    out.update(_record_metrics(Path(step.dir)))
    return out


# ----------------------------------------------------------------------------- records


@dataclasses.dataclass
class ArmRecord:
    """An arm's runs: per seed its run folder, training seconds (all steps, every process
    that worked on them) and :func:`measure`'s metrics."""

    key: str
    label: str
    scheme: str
    options: Dict[str, Any]
    seeds: List[int] = dataclasses.field(default_factory=list)
    run_dirs: List[str] = dataclasses.field(default_factory=list)
    seconds: List[float] = dataclasses.field(default_factory=list)
    metrics: List[Dict[str, float]] = dataclasses.field(default_factory=list)

    def values(self, metric: str) -> List[float]:
        """The metric per seed (NaN where a run lacks it)."""
        return [float(m.get(metric, math.nan)) for m in self.metrics]

    def to_json(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "ArmRecord":
        return cls(**{f.name: record[f.name] for f in dataclasses.fields(cls)})


@dataclasses.dataclass
class ClaimResult:
    """One scoreboard row: the claim, its arms' values per seed and the test's result."""

    key: str
    claimed: str
    source: str
    metric: str
    arms: List[str]
    labels: List[str]
    values: List[List[float]]
    x: List[float]
    test: stats.TestResult

    @property
    def means(self) -> List[float]:
        return [float(np.mean(v)) for v in self.values]

    @property
    def stds(self) -> List[float]:
        return [float(np.std(v, ddof=1)) if len(v) > 1 else math.nan for v in self.values]

    def to_json(self) -> Dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["test"] = self.test.to_json()
        return out

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "ClaimResult":
        fields = {f.name: record[f.name] for f in dataclasses.fields(cls)}
        fields["test"] = stats.TestResult.from_json(record["test"])
        return cls(**fields)


@dataclasses.dataclass
class Scoreboard:
    """The setting, the arms' runs, one :class:`ClaimResult` per claim, and the wall time
    of the call that made it (training of runs read back is not in it)."""

    setting: Setting
    seeds: List[int]
    arms: Dict[str, ArmRecord]
    claims: List[ClaimResult]
    wall_seconds: float

    def claim(self, key: str) -> ClaimResult:
        for c in self.claims:
            if c.key == key:
                return c
        raise UnknownKeyError(f"no claim {key!r}; the scoreboard has {[c.key for c in self.claims]}")

    def to_json(self) -> Dict[str, Any]:
        return {"setting": self.setting.to_json(), "seeds": list(self.seeds),
                "arms": {k: a.to_json() for k, a in self.arms.items()},
                "claims": [c.to_json() for c in self.claims],
                "wall_seconds": self.wall_seconds}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "Scoreboard":
        return cls(setting=Setting.from_json(record["setting"]), seeds=list(record["seeds"]),
                   arms={k: ArmRecord.from_json(a) for k, a in record["arms"].items()},
                   claims=[ClaimResult.from_json(c) for c in record["claims"]],
                   wall_seconds=float(record["wall_seconds"]))

    @classmethod
    def load(cls, path: PathLike) -> "Scoreboard":
        """Read ``scoreboard.json`` (or the folder holding it)."""
        return run_files.read_record(
            path, cls.from_json, name="scoreboard.json", what="a scoreboard",
            fix="delete it and run the scoreboard again with resume (the runs are read back, "
                "not trained again)")

    def markdown(self, figures: Optional[Mapping[str, str]] = None) -> str:
        """The scoreboard as markdown: setting, claims table (``figures``: claim key ->
        figure path relative to the markdown file), per-arm time."""
        return "\n\n".join([_setting_markdown(self), _claims_table(self, figures or {}),
                             _time_table(self)]) + "\n"


# ----------------------------------------------------------------------------- scoring


def _test(claim: Claim, values: List[List[float]]) -> stats.TestResult:
    if claim.test == "welch":
        return stats.welch(values[0], values[1], direction=claim.direction)
    if claim.test == "contrast":
        return stats.welch_contrast(values, (1, -1, -1, 1), direction=claim.direction)
    x = [xv for xv, v in zip(claim.x, values) for _ in v]
    return stats.trend(x, [y for v in values for y in v], direction=claim.direction)


def score(setting: Setting, records: Mapping[str, ArmRecord], *,
          only: Optional[Sequence[str]] = None) -> List[ClaimResult]:
    """Test every claim (or those in ``only``) on the arms' measured values; a claim whose
    arms lack the metric (NaN) in some run raises ``ValueError`` naming the runs."""
    rows = []
    for claim in claims(setting):
        if only is not None and claim.key not in only:
            continue
        values = [records[a].values(claim.metric) for a in claim.arms]
        bad = [records[a].run_dirs[i] for a, v in zip(claim.arms, values)
               for i, y in enumerate(v) if not math.isfinite(y)]
        if bad:
            raise UserInputError(f"claim {claim.key}: {claim.metric} is missing in {bad}; those "
                             "runs were trained without the analysis callbacks or their "
                             "records are gone: delete the folders and run again")
        rows.append(ClaimResult(
            key=claim.key, claimed=claim.claimed, source=claim.source, metric=claim.metric,
            arms=list(claim.arms), labels=[records[a].label for a in claim.arms],
            values=values, x=list(claim.x), test=_test(claim, values)))
    return rows


# ----------------------------------------------------------------------------- markdown


def _fmt(value: Optional[float], spec: str = ".4g") -> str:
    return "-" if value is None or not math.isfinite(value) else format(value, spec)


def _cell(text: str) -> str:
    """Text for a markdown table cell (a literal ``|``, as in ``|a| > 1``, escaped)."""
    return text.replace("|", "\\|")


def _setting_markdown(board: Scoreboard) -> str:
    s = board.setting
    scaled = ", ".join(f"{d:g} -> {s.decay(d):.3g}" for d in sorted(s.decays) if d)
    return (f"# The paper's claims: scoreboard\n\n"
            f"{s.model} x{s.width:g} on {s.data}, batch {s.batch_size}, {s.epochs} epoch(s) of "
            f"{s.max_steps_per_epoch} batches ({s.iterations} iterations per step), Adam "
            f"{s.adam_lr:g}, SGD (momentum 0.9) {s.sgd_lr:g}, linear LR decay, no teacher; "
            f"seeds {', '.join(map(str, board.seeds))}. Weight decay scaled by "
            f"lr*wd*T = the paper's (1.25e-3 x 256 ImageNet epochs of 5,005 iterations): "
            f"{scaled}. Verdict: reproduced if p < {stats.ALPHA} in the claimed direction, "
            f"contradicted if p < {stats.ALPHA} against it, else inconclusive at this budget.")


def _arm_cell(claim: ClaimResult) -> str:
    parts = []
    for label, mean, std, v in zip(claim.labels, claim.means, claim.stds, claim.values):
        parts.append(f"{label}: {_fmt(mean)} +- {_fmt(std, '.2g')} (n={len(v)})")
    return "<br>".join(parts)


def _claims_table(board: Scoreboard, figures: Mapping[str, str]) -> str:
    head = ("| claim | source | metric | arms: mean +- std | effect [95% CI] | Cohen's d | "
            "test | p | p (opposite) | verdict |\n|" + "---|" * 10)
    rows = []
    for c in board.claims:
        t = c.test
        name = f"[{c.key}]({figures[c.key]})" if c.key in figures else c.key
        rows.append(
            f"| {name}: {_cell(c.claimed)} | {c.source} | {_cell(METRICS[c.metric])} | "
            f"{_arm_cell(c)} | "
            f"{t.effect_name} {_fmt(t.effect)} [{_fmt(t.ci_low)}, {_fmt(t.ci_high)}] | "
            f"{_fmt(t.cohen_d, '.3g')} | {t.test} | {_fmt(t.p_value, '.3g')} | "
            f"{_fmt(t.p_opposite, '.3g')} | **{t.verdict}** |")
    return "## Claims\n\n" + "\n".join([head, *rows])


def _time_table(board: Scoreboard) -> str:
    rows = ["| arm | runs | training s per run (mean) | training s (total) |",
            "|---|---|---|---|"]
    for arm in board.arms.values():
        total = float(sum(arm.seconds))
        rows.append(f"| {arm.label} (`{arm.key}`) | {len(arm.seconds)} | "
                    f"{_fmt(total / max(len(arm.seconds), 1), '.0f')} | {total:.0f} |")
    trained = sum(sum(a.seconds) for a in board.arms.values())
    return (f"## Time\n\nTraining time recorded in the runs: {trained:.0f} s; wall time of "
            f"the call that wrote this file: {board.wall_seconds:.0f} s.\n\n"
            + "\n".join(rows))


# ----------------------------------------------------------------------------- running


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
               resume: bool, verbose: int) -> Dict[str, ArmRecord]:
    """Every arm and seed (seed by seed, so a stopped scoreboard has all arms of the
    first seeds); returns the arms' records."""
    spec = arms(setting)
    records = {k: ArmRecord(k, spec[k].label, spec[k].scheme, dict(spec[k].options))
               for k in keys}
    for seed in seeds:
        for key in keys:
            run_dir = out / "runs" / key / f"seed{seed}"
            result = _train(spec[key], setting, seed, run_dir, resume=resume, verbose=verbose)
            rec = records[key]
            rec.seeds.append(seed)
            rec.run_dirs.append(str(run_dir))
            rec.seconds.append(float(sum(s.seconds for s in result.steps)))
            rec.metrics.append(measure(result))
            if verbose:
                print(f"[claims] {key} seed {seed}: top-1 {rec.metrics[-1]['accuracy']:.4f} "
                      f"({rec.seconds[-1]:.0f} s of training)", flush=True)
    return records


def _write(board: Scoreboard, out: Path) -> List[Path]:
    """``scoreboard.json``, ``scoreboard.md`` and ``figures/claim_KEY.png``."""
    from larq_adam.atomic import atomic_write_json, atomic_write_text
    from larq_adam.experiments import claim_figures

    figures = claim_figures.write_figures(board, out / "figures")
    relative = {k: str(p.relative_to(out)) for k, p in figures.items()}
    paths = [atomic_write_json(out / "scoreboard.json", board.to_json()),
             atomic_write_text(out / "scoreboard.md", board.markdown(relative))]
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
    records = _train_all(out, setting, keys, seed_list, resume=resume, verbose=verbose)
    rows = score(setting, records, only=only)
    board = Scoreboard(setting, seed_list, records, rows, wall_seconds=0.0)
    board.wall_seconds = round(time.time() - start, 1)
    paths = _write(board, out)
    if verbose:
        print(_time_table(board))
        print(f"[claims] wall time {board.wall_seconds:.0f} s; wrote {paths[1]}", flush=True)
    return board
