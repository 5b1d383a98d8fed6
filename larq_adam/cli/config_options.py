"""The command line's options for :class:`~larq_adam.config.RunConfig`, one per field.

Each option is named as its field (``--learning-rate`` for ``learning_rate``), with the
shorter names of earlier versions as aliases (``--lr``, ``--dataset``, ``--step2-init``,
``--one-step``). An option that is not given is left out of the parsed namespace
(``argparse.SUPPRESS``), so a command's configuration is its base (a preset,
:mod:`larq_adam.presets`) with exactly the options given on top (:func:`config_from`), and
``--help`` shows the base's value as the default. Plain Python: no TensorFlow.
"""
import argparse
import dataclasses
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from larq_adam import vocabulary as words
from larq_adam.cli import common
from larq_adam.config import RunConfig

__all__ = ["Option", "OPTIONS", "FIELDS", "SHARED_FIELDS", "add_config_options", "given",
           "config_from"]


@dataclasses.dataclass(frozen=True)
class Option:
    """How one RunConfig field reads from the command line."""

    group: str
    help: str
    aliases: Tuple[str, ...] = ()
    type: Optional[Callable[[str], Any]] = None
    choices: Optional[Sequence[str]] = None
    flag: bool = False  # a bool field: --NAME / --no-NAME
    none_means: Optional[str] = None  # what the help calls a default of None


DATA, MODEL, SCHEME, RUN = "data", "model and training", "scheme (Sec. 3.3)", "run"
_R = common.ranged

#: RunConfig field -> its option, in the order ``--help`` lists them
OPTIONS: Dict[str, Option] = {
    "data": Option(DATA, "mnist5k (offline), cifar10, cifar100, imagenette, imagenet2012 "
                   "(needs --data-dir), folder:PATH or tfds:NAME (any tfds image set)",
                   aliases=("--dataset",)),
    "data_dir": Option(DATA, "tensorflow-datasets data dir (ImageNet's tar files go in its "
                       "downloads/manual sub-folder)"),
    "image_size": Option(DATA, "resize images to this side (default: the dataset's own "
                         "size, 224 for ImageNet-like sets)", type=_R("image_size")),
    "batch_size": Option(DATA, "global batch size", type=_R("batch_size")),
    "max_steps_per_epoch": Option(DATA, "cap the batches per epoch and of the evaluation "
                                  "(smoke tests)", type=_R("max_steps_per_epoch")),
    "select_on": Option(DATA, "split the best weights and step 2's start are chosen on: a "
                        "validation split (the dataset's own, else --holdout of train), or "
                        "the test split (the authors' ImageNet protocol; --preset imagenet)",
                        choices=words.SELECT_ON),
    "holdout": Option(DATA, "fraction of each class of train held out as the validation "
                      "split where the dataset has none of its own", type=_R("holdout")),
    "model": Option(MODEL, "student network: reactnet_a, strong_baseline, or a larq-zoo "
                    "network (see la.models.available())"),
    "width": Option(MODEL, "channel multiplier of the student (1.0 = the paper's network)",
                    type=_R("width")),
    "epochs": Option(MODEL, "epochs of every training step (per step in two-step runs)",
                     type=_R("epochs")),
    "teacher": Option(MODEL, "distillation teacher: 'none' (cross-entropy on the labels), "
                      "'auto' (train a real-valued one first) or the path of a saved Keras "
                      "model", none_means="none"),
    "teacher_model": Option(MODEL, "architecture of the 'auto' teacher",
                            choices=words.TEACHERS),
    "teacher_width": Option(MODEL, "channel multiplier of the 'auto' teacher (default: "
                            "--width)", type=_R("teacher_width")),
    "teacher_epochs": Option(MODEL, "epochs of the 'auto' teacher (default: --epochs)",
                             type=_R("teacher_epochs")),
    "pad_values": Option(MODEL, "pad value of the binarized inputs of the 3x3 binary convs: "
                         "0 as the reference code, 1 for LCE's fast path",
                         type=common.finite_float),
    "exact_reference": Option(MODEL, "the released code's linear decay (its scheduler steps "
                              "before each epoch: epoch e at lr * (1 - (e+1)/E)); off: "
                              "lr * (1 - e/E)", flag=True),
    "optimizer": Option(MODEL, ", ".join(words.OPTIMIZERS)),
    "learning_rate": Option(MODEL, "initial learning rate of every step", aliases=("--lr",),
                            type=_R("learning_rate"), none_means="the optimizer's own"),
    "schedule": Option(MODEL, "learning-rate schedule per step (linear to 0 is the paper's)",
                       choices=words.SCHEDULES),
    "kind": Option(SCHEME, "two_step: the paper's two steps (--order, --step1-weight-decay, "
                   "--step2-weight-decay, --init); one_step: one step in --stage with "
                   "--weight-decay (--one-step for short)", choices=words.KINDS),
    "stage": Option(SCHEME, "stage of the one step", choices=words.STAGES),
    "weight_decay": Option(SCHEME, "coupled L2 on the latent weights of the one step",
                           type=common.finite_float),
    "order": Option(SCHEME, "babw: step 1 binarizes activations (the paper's); bwba: weights",
                    choices=tuple(words.ORDERS)),
    "step1_weight_decay": Option(SCHEME, "coupled L2 on the latent weights in step 1 "
                                 "(paper: 5e-6)", type=common.finite_float),
    "step2_weight_decay": Option(SCHEME, "coupled L2 on the latent weights in step 2 "
                                 "(paper: 0)", type=common.finite_float),
    "init": Option(SCHEME, "step 2 starts from step 1's best-validation or final weights",
                   aliases=("--step2-init",), choices=words.INITS),
    "strategy": Option(RUN, "tf.distribute strategy: default, mirrored (all local GPUs), "
                       "multiworker (TF_CONFIG), or tpu / tpu:ADDRESS"),
    "seed": Option(RUN, "random seed of data order, augmentation and initial weights",
                   type=_R("seed")),
    "analysis": Option(RUN, "the paper's measurement callbacks (FF, C2I, CAM, saturation)",
                       flag=True),
    "recalibrate_bn": Option(RUN, "each step's final weights keep BN statistics re-estimated "
                             "over the training split (their top-1 is reported either way)",
                             flag=True),
}
FIELDS = tuple(f.name for f in dataclasses.fields(RunConfig))
#: the fields every training command takes (data, model, run); ``train`` takes them all
SHARED_FIELDS = ("data", "data_dir", "image_size", "batch_size", "max_steps_per_epoch",
                 "model", "width", "epochs", "teacher", "teacher_model", "teacher_width",
                 "teacher_epochs", "pad_values", "exact_reference", "learning_rate",
                 "strategy", "seed")
words.same_names(OPTIONS, FIELDS, what="command-line options of RunConfig's fields")


def _default_text(option: Option, value: Any) -> str:
    """`` (default: X)`` for ``--help`` (nothing where the help says its default)."""
    if "default:" in option.help:
        return ""
    if value is None:
        return f" (default: {option.none_means})" if option.none_means else ""
    shown = ("on" if value else "off") if option.flag else f"{value:g}" \
        if isinstance(value, float) else value
    return f" (default: {shown})".replace("%", "%%")


def add_config_options(parser: argparse.ArgumentParser, base: RunConfig, *,
                       fields: Sequence[str] = FIELDS) -> None:
    """One option per field of ``fields`` (in :data:`OPTIONS` order), grouped as
    :data:`OPTIONS` says, each defaulting to ``base``'s value (shown by ``--help``; the
    value itself comes from :func:`config_from`)."""
    groups: Dict[str, Any] = {}
    for field, option in OPTIONS.items():
        if field not in fields:
            continue
        if option.group not in groups:
            groups[option.group] = parser.add_argument_group(option.group)
        names = ["--" + field.replace("_", "-"), *option.aliases]
        kwargs: Dict[str, Any] = dict(dest=field, default=argparse.SUPPRESS,
                                      help=option.help + _default_text(option,
                                                                       getattr(base, field)))
        if option.flag:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs.update(type=option.type, choices=option.choices)
        groups[option.group].add_argument(*names, **kwargs)
        if field == "kind":
            groups[option.group].add_argument(
                "--one-step", dest="kind", action="store_const", const="one_step",
                default=argparse.SUPPRESS, help="--kind one_step")
    parser.set_defaults(config_base=base)


def given(args: argparse.Namespace) -> Dict[str, Any]:
    """The RunConfig fields given on the command line, as parsed."""
    return {field: getattr(args, field) for field in FIELDS if hasattr(args, field)}


def config_from(args: argparse.Namespace, base: Optional[RunConfig] = None) -> RunConfig:
    """``base`` (default: the one :func:`add_config_options` was given) with the options
    given on top; the checks of :class:`RunConfig` raise one line on a bad value."""
    base = args.config_base if base is None else base
    return base.replace(**given(args))
