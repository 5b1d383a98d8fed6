"""Tests and effect sizes for the claims scoreboard (:mod:`larq_adam.experiments.claims`).

Every test asks one directional question (the paper's claim) and returns a
:class:`TestResult` with the one-sided p-value in the claimed direction, the one-sided
p-value in the opposite direction, an effect size with a bootstrap confidence interval and
a verdict (:func:`verdict`):

* ``"reproduced"``: p < ``alpha`` in the claimed direction;
* ``"contradicted"``: p < ``alpha`` in the opposite direction;
* ``"inconclusive at this budget"``: neither (too few seeds, too small an effect, or no
  variance to test at all: a NaN p-value).

Tests: :func:`welch` (two arms, Welch's unequal-variance t-test, one-sided; effect: the
difference of means with a bootstrap CI and Cohen's d), :func:`welch_contrast` (a linear
contrast of several arms with the Welch-Satterthwaite degrees of freedom, for an
interaction such as Fig. 2's "Adam's advantage is larger on the BNN than on its real twin")
and :func:`trend` (Spearman's rank correlation over (x, y) pairs, e.g. weight decay x seed,
with a permutation p-value; effect: rho with a bootstrap CI). Pure numpy / scipy; every
resampling is seeded, so the same samples give the same numbers.
"""
import dataclasses
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from larq_adam.errors import UserInputError

__all__ = ["ALPHA", "VERDICTS", "TestResult", "verdict", "cohens_d", "bootstrap_ci",
           "welch", "welch_contrast", "trend"]

ALPHA = 0.05
REPRODUCED, CONTRADICTED, INCONCLUSIVE = ("reproduced", "contradicted",
                                          "inconclusive at this budget")
VERDICTS = (REPRODUCED, CONTRADICTED, INCONCLUSIVE)
DIRECTIONS = ("greater", "less")
RESAMPLES = 10_000


@dataclasses.dataclass
class TestResult:
    """One directional test: its name, statistic, one-sided p-values (claimed and
    opposite direction), effect (``effect_name``) with a ``level`` bootstrap CI, Cohen's d
    where it applies, and the verdict."""

    test: str
    statistic: float
    p_value: float
    p_opposite: float
    effect_name: str
    effect: float
    ci_low: float
    ci_high: float
    level: float
    cohen_d: Optional[float]
    verdict: str

    def to_json(self) -> Dict[str, Any]:
        return {k: _json_number(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> "TestResult":
        return cls(**{f.name: _from_json_number(record[f.name])
                      for f in dataclasses.fields(cls)})


def _json_number(value: Any) -> Any:
    """JSON has no NaN / infinity: they are stored as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _from_json_number(value: Any) -> Any:
    if value in ("nan", "inf", "-inf"):
        return float(value)
    return value


def verdict(p_value: float, p_opposite: float, *, alpha: float = ALPHA) -> str:
    """``reproduced`` if ``p_value < alpha``, ``contradicted`` if ``p_opposite < alpha``,
    else ``inconclusive at this budget`` (a NaN p-value is never significant)."""
    if math.isfinite(p_value) and p_value < alpha:
        return REPRODUCED
    if math.isfinite(p_opposite) and p_opposite < alpha:
        return CONTRADICTED
    return INCONCLUSIVE


def _sample(values: Sequence[float], what: str) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size < 2 or not np.all(np.isfinite(a)):
        raise UserInputError(f"{what} needs at least 2 finite values, got {list(a)}; run more "
                         "seeds or check the runs' records")
    return a


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise UserInputError(f"direction must be one of {DIRECTIONS}, got {direction!r}")


def cohens_d(a: Sequence[float], b: Sequence[float]) -> float:
    """Cohen's d of ``mean(a) - mean(b)`` with the pooled standard deviation (ddof 1);
    NaN when both samples are constant."""
    a, b = _sample(a, "cohens_d"), _sample(b, "cohens_d")
    pooled = ((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) \
        / (a.size + b.size - 2)
    diff = a.mean() - b.mean()
    return float(diff / math.sqrt(pooled)) if pooled > 0 else float("nan")


def bootstrap_ci(groups: Sequence[Sequence[float]], statistic, *, level: float = 0.95,
                 resamples: int = RESAMPLES, seed: int = 0) -> List[float]:
    """Percentile bootstrap CI of ``statistic(*groups)``, each group resampled with
    replacement within itself (stratified); NaN statistics of a resample are skipped."""
    rng = np.random.default_rng(seed)
    arrays = [np.asarray(g, dtype=np.float64) for g in groups]
    draws = [g[rng.integers(0, g.size, size=(resamples, g.size))] for g in arrays]
    stats = np.asarray(statistic(*draws), dtype=np.float64)
    stats = stats[np.isfinite(stats)]
    if not stats.size:
        return [float("nan"), float("nan")]
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(stats, [tail, 100 - tail])
    return [float(low), float(high)]


def _t_p_values(t: float, df: float, direction: str) -> List[float]:
    from scipy import stats

    if not (math.isfinite(t) and math.isfinite(df) and df > 0):
        return [float("nan"), float("nan")]
    upper, lower = float(stats.t.sf(t, df)), float(stats.t.cdf(t, df))
    return [upper, lower] if direction == "greater" else [lower, upper]


def welch(a: Sequence[float], b: Sequence[float], *, direction: str = "greater",
          alpha: float = ALPHA, level: float = 0.95, seed: int = 0) -> TestResult:
    """Welch's t-test of the claim ``mean(a) > mean(b)`` (``direction="greater"``) or
    ``<`` (``"less"``), one-sided; effect: ``mean(a) - mean(b)`` with a bootstrap CI."""
    _check_direction(direction)
    a, b = _sample(a, "welch"), _sample(b, "welch")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se2 = va + vb
    diff = float(a.mean() - b.mean())
    if se2 > 0:
        t = diff / math.sqrt(se2)
        df = se2 ** 2 / (va ** 2 / (a.size - 1) + vb ** 2 / (b.size - 1))
    else:
        t = df = float("nan")
    p, p_opp = _t_p_values(t, df, direction)
    low, high = bootstrap_ci([a, b], lambda x, y: x.mean(axis=1) - y.mean(axis=1),
                             level=level, seed=seed)
    return TestResult(test=f"Welch t, one-sided ({direction})", statistic=float(t),
                      p_value=p, p_opposite=p_opp, effect_name="difference of means",
                      effect=diff, ci_low=low, ci_high=high, level=level,
                      cohen_d=cohens_d(a, b), verdict=verdict(p, p_opp, alpha=alpha))


def welch_contrast(groups: Sequence[Sequence[float]], weights: Sequence[float], *,
                   direction: str = "greater", alpha: float = ALPHA, level: float = 0.95,
                   seed: int = 0) -> TestResult:
    """Welch's t-test of a linear contrast ``sum_i weights_i * mean(groups_i)`` against 0,
    one-sided, with the Welch-Satterthwaite degrees of freedom (e.g. weights
    ``(1, -1, -1, 1)`` for (BNN Adam, BNN SGD, FP Adam, FP SGD): does Adam gain more over
    SGD on the BNN than on its real twin?). Effect: the contrast with a bootstrap CI."""
    _check_direction(direction)
    if len(groups) != len(weights) or len(groups) < 2:
        raise UserInputError("welch_contrast needs one weight per group and at least 2 groups")
    arrays = [_sample(g, "welch_contrast") for g in groups]
    w = np.asarray(weights, dtype=np.float64)
    parts = np.array([wi ** 2 * g.var(ddof=1) / g.size for wi, g in zip(w, arrays)])
    contrast = float(sum(wi * g.mean() for wi, g in zip(w, arrays)))
    se2 = float(parts.sum())
    if se2 > 0:
        t = contrast / math.sqrt(se2)
        df = se2 ** 2 / float(sum(p ** 2 / (g.size - 1) for p, g in zip(parts, arrays)))
    else:
        t = df = float("nan")
    p, p_opp = _t_p_values(t, df, direction)
    low, high = bootstrap_ci(arrays, lambda *xs: sum(wi * x.mean(axis=1)
                                                    for wi, x in zip(w, xs)),
                             level=level, seed=seed)
    return TestResult(test=f"Welch contrast t, one-sided ({direction})", statistic=float(t),
                      p_value=p, p_opposite=p_opp, effect_name="contrast of means",
                      effect=contrast, ci_low=low, ci_high=high, level=level, cohen_d=None,
                      verdict=verdict(p, p_opp, alpha=alpha))


def _spearman(x: np.ndarray, y: np.ndarray) -> float:
    from scipy import stats

    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def _rho_rows(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Spearman's rho of every row pair (rows of ranks), NaN for a constant row."""
    from scipy import stats

    rx, ry = stats.rankdata(xs, axis=1), stats.rankdata(ys, axis=1)
    rx, ry = rx - rx.mean(axis=1, keepdims=True), ry - ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx ** 2).sum(axis=1) * (ry ** 2).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (rx * ry).sum(axis=1) / den, np.nan)


def trend(x: Sequence[float], y: Sequence[float], *, direction: str = "greater",
          alpha: float = ALPHA, level: float = 0.95, resamples: int = RESAMPLES,
          seed: int = 0) -> TestResult:
    """Spearman's rank correlation of ``y`` on ``x`` (ties get mid-ranks), claimed
    positive (``"greater"``) or negative (``"less"``); one-sided permutation p-values
    (``y`` shuffled against ``x``, exact when ``len(x)! <= resamples``). Effect: rho
    with a bootstrap CI over the (x, y) pairs."""
    from scipy import stats

    _check_direction(direction)
    x, y = _sample(x, "trend"), _sample(y, "trend")
    if x.size != y.size:
        raise UserInputError(f"trend needs as many x as y values, got {x.size} and {y.size}")
    rho = _spearman(x, y)
    if math.isfinite(rho):
        def statistic(v, axis=-1):
            v = np.moveaxis(np.asarray(v, dtype=np.float64), axis, -1)
            flat = v.reshape(-1, v.shape[-1])
            return _rho_rows(np.broadcast_to(x, flat.shape), flat).reshape(v.shape[:-1])

        p, p_opp = (float(stats.permutation_test(
            (y,), statistic, permutation_type="pairings", vectorized=True,
            n_resamples=resamples, alternative=alt, random_state=seed).pvalue)
            for alt in (direction, "less" if direction == "greater" else "greater"))
    else:
        p = p_opp = float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, x.size, size=(resamples, x.size))
    boots = _rho_rows(x[idx], y[idx])
    boots = boots[np.isfinite(boots)]
    tail = (1 - level) / 2 * 100
    low, high = (np.percentile(boots, [tail, 100 - tail]) if boots.size
                 else (float("nan"), float("nan")))
    return TestResult(test=f"Spearman rho, permutation, one-sided ({direction})",
                      statistic=rho, p_value=p, p_opposite=p_opp, effect_name="Spearman rho",
                      effect=rho, ci_low=float(low), ci_high=float(high), level=level,
                      cohen_d=None, verdict=verdict(p, p_opp, alpha=alpha))
