"""The claims scoreboard's definitions (:mod:`.claims`): the scale (:class:`Setting`), the
arms (training settings) and the claims (Figs. 2-5, 7, Tables 1 and 4) with their metric and
test."""
import dataclasses
from typing import Any, Dict, List, Mapping, Tuple

from larq_adam.errors import UserInputError



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
