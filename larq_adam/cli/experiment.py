"""``larq-adam experiment NAME``: the paper's comparisons, each a set of runs and a report.

    larq-adam experiment table1     # weight decay: FF, C2I, top-1 (Table 1)
    larq-adam experiment table4     # binarization order BABW vs BWBA (Table 4)
    larq-adam experiment table5     # adaptive optimizers (Table 5)
    larq-adam experiment fig2       # Adam vs SGD on a BNN (and --real, its FP twin) (Fig. 2)
    larq-adam experiment fig8       # top-1 against the initial learning rate (Fig. 8)
    larq-adam experiment fig6       # the two-sign-node toy landscape (Fig. 6, numpy)
    larq-adam experiment claims     # every directional claim with seeds and verdicts

Every training experiment takes the same options as ``larq-adam train`` for data, model
and run folder; ``--resume`` continues a killed experiment where it stopped.
"""
import argparse
import importlib
from typing import Any, Callable, Dict

from larq_adam.cli import common, config_options
from larq_adam.config import RunConfig

#: name -> (function in larq_adam.experiments.paper, report kind, title, model, epochs)
PAPER = {
    "table1": ("table1_weight_decay", "weight_decay", "Table 1: weight decay, FF and C2I",
               "reactnet_a", 2),
    "table4": ("table4_order", "order", "Table 4: binarization order", "strong_baseline", 2),
    "table5": ("table5_optimizers", "optimizer", "Table 5: adaptive optimizers",
               "strong_baseline", 2),
    "fig2": ("fig2_adam_vs_sgd", "curves", "Fig. 2: Adam vs SGD", "strong_baseline", 3),
    "fig8": ("fig8_lr_sweep", "lr_sweep", "Fig. 8: accuracy vs initial LR",
             "strong_baseline", 2),
}
#: experiments whose options and run live in their own command module
OWN_MODULES = {"claims": "larq_adam.cli.claims"}


def add_arguments(parser: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
    sub = parser.add_subparsers(dest="experiment", metavar="NAME", required=True,
                                parser_class=common.ArgumentParser)
    parsers = {}
    for name, (function, _, title, model, epochs) in PAPER.items():
        p = sub.add_parser(name, help=title, description=title,
                           formatter_class=common.HelpFormatter)
        base = RunConfig(kind="one_step", model=model, width=0.25, epochs=epochs,
                         learning_rate=1e-3)  # the learning rate where the arm sets none
        config_options.add_config_options(p, base, fields=config_options.SHARED_FIELDS)
        common.add_run_options(p, run_dir=f"runs/{function}")
        _add_specific(name, p)
        parsers[name] = p
    p = sub.add_parser("fig6", help="Fig. 6: the two-sign-node toy landscape (numpy)",
                       formatter_class=common.HelpFormatter)
    p.add_argument("--run-dir", default="runs/fig6_toy_landscape")
    p.add_argument("--steps", type=common.positive_int, default=80)
    p.add_argument("--sgd-lr", type=common.positive_float, default=0.05)
    p.add_argument("--adam-lr", type=common.positive_float, default=0.05)
    p.add_argument("--grid", type=common.positive_int, default=81)
    common.add_debug(p)
    for name, module in OWN_MODULES.items():
        own = importlib.import_module(module)
        p = sub.add_parser(name, help=common.plain_text((own.__doc__ or name).strip()
                                                        .splitlines()[0]),
                           description=own.__doc__, formatter_class=common.HelpFormatter)
        own.add_arguments(p)
        if not p.has_option("--debug"):
            common.add_debug(p)
    return parsers


def precheck(args: argparse.Namespace) -> None:
    """What is checked before TensorFlow loads: a training experiment's ``--dataset`` name
    (:func:`larq_adam.dataset_names.parse_name`)."""
    from larq_adam.dataset_names import parse_name

    if args.experiment in PAPER:
        parse_name(config_options.config_from(args).data)


def _add_specific(name: str, p: argparse.ArgumentParser) -> None:
    if name == "table5":
        from larq_adam.experiments.paper import TABLE5_OPTIMIZERS

        p.add_argument("--optimizers", nargs="+", default=list(TABLE5_OPTIMIZERS),
                       choices=TABLE5_OPTIMIZERS, help="which optimizers to compare")
    elif name == "fig2":
        p.add_argument("--real", action="store_true",
                       help="also train the real-valued (FP-stage) twin with both (Fig. 2a)")
    elif name == "fig8":
        p.add_argument("--adam-lrs", type=common.positive_float, nargs="+",
                       default=[1e-4, 1e-3, 1e-2], help="initial learning rates of Adam")
        p.add_argument("--sgd-lrs", type=common.positive_float, nargs="+",
                       default=[1e-2, 1e-1, 1.0], help="initial learning rates of SGD")


def _specific_kwargs(name: str, args: argparse.Namespace) -> Dict[str, Any]:
    if name == "table5":
        return {"optimizers": tuple(args.optimizers)}
    if name == "fig8":
        return {"learning_rates": {"adam": tuple(args.adam_lrs), "sgd": tuple(args.sgd_lrs)}}
    return {}


def _run_paper(name: str, args: argparse.Namespace) -> int:
    from larq_adam.experiments import paper

    base = config_options.config_from(args)
    common.check_teacher(base.teacher)
    common.check_run_dir(args)
    function, kind, title, _, _ = PAPER[name]
    experiment: Callable[..., Any] = getattr(paper, function)
    verbose = common.verbosity(args)
    stages = ("bnn", "fp") if name == "fig2" and args.real else ("bnn",)
    for stage in stages:
        extra = {"stage": stage} if name == "fig2" else _specific_kwargs(name, args)
        out = args.run_dir if stage == "bnn" else f"{args.run_dir}/real_valued"
        runs = experiment(out, base, resume=args.resume, verbose=verbose,
                          progress=common.print_run, **extra)
        md = paper.compare(runs, out, kind=kind, title=f"{title} ({stage.upper()})"
                           if name == "fig2" else title)
        print(md.read_text())
        common.print_paths([md])
    return 0


def run(args: argparse.Namespace) -> int:
    if args.experiment in PAPER:
        return _run_paper(args.experiment, args)
    if args.experiment == "fig6":
        from larq_adam.experiments import toy

        md = toy.run(args.run_dir, steps=args.steps, sgd_lr=args.sgd_lr,
                     adam_lr=args.adam_lr, grid=args.grid)
        print(md.read_text())
        return 0
    return int(importlib.import_module(OWN_MODULES[args.experiment]).run(args) or 0)
