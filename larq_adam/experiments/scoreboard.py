"""The claims scoreboard as data: an arm's runs (:class:`ArmRuns`), one tested claim
(:class:`ClaimResult`) and the whole :class:`Scoreboard`, each to and from JSON."""
import dataclasses
import math
from pathlib import Path
from typing import Any, Dict, List, Mapping, Union

import numpy as np

from larq_adam import run_files
from larq_adam.errors import UnknownKeyError
from larq_adam.experiments import stats
from larq_adam.experiments.claim_definitions import Setting


PathLike = Union[str, Path]


@dataclasses.dataclass
class ArmRuns:
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
    def from_json(cls, data: Mapping[str, Any]) -> "ArmRuns":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})


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
    def from_json(cls, data: Mapping[str, Any]) -> "ClaimResult":
        fields = {f.name: data[f.name] for f in dataclasses.fields(cls)}
        fields["test"] = stats.TestResult.from_json(data["test"])
        return cls(**fields)


@dataclasses.dataclass
class Scoreboard:
    """The setting, the arms' runs, one :class:`ClaimResult` per claim, and the wall time
    of the call that made it (training of runs read back is not in it)."""

    setting: Setting
    seeds: List[int]
    arms: Dict[str, ArmRuns]
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
    def from_json(cls, data: Mapping[str, Any]) -> "Scoreboard":
        return cls(setting=Setting.from_json(data["setting"]), seeds=list(data["seeds"]),
                   arms={k: ArmRuns.from_json(a) for k, a in data["arms"].items()},
                   claims=[ClaimResult.from_json(c) for c in data["claims"]],
                   wall_seconds=float(data["wall_seconds"]))

    @classmethod
    def load(cls, path: PathLike) -> "Scoreboard":
        """Read ``scoreboard.json`` (or the folder holding it)."""
        return run_files.read_typed_json(
            path, cls.from_json, name="scoreboard.json", what="a scoreboard",
            fix="delete it and run the scoreboard again with resume (the runs are read back, "
                "not trained again)")
