"""``larq-adam``: the paper's training, export, report and experiments from one command.

    larq-adam train                     # the main job: two-step BABW on mnist5k, export, report
    larq-adam train --preset imagenet --data-dir /data/tfds --teacher resnet34.h5
    larq-adam export runs/two_step      # LCE file, op list, verification, model.json
    larq-adam report runs/two_step      # report.md and figures
    larq-adam import model_best.pth.tar --stage bnn --lce
    larq-adam experiment table1         # the paper's comparisons (table1/4/5, fig2/6/8, claims)
    larq-adam pick-decay --candidates 1e-5 5e-6 1e-6 0

``python -m larq_adam`` is the same command. TensorFlow is imported only when a command
runs, so ``--help`` answers at once.
"""
import argparse
import importlib
import sys
from typing import List, Optional, Sequence

from larq_adam.cli import common

#: command -> (module, one-line help)
COMMANDS = {
    "train": ("larq_adam.cli.train", "train a BNN (two-step BABW by default), export, report"),
    "export": ("larq_adam.cli.export_run", "convert a run's model to LCE and prove it"),
    "report": ("larq_adam.cli.report_run", "write a run's report.md and figures"),
    "import": ("larq_adam.cli.import_weights", "PyTorch checkpoint -> Keras model (+ LCE)"),
    "experiment": ("larq_adam.cli.experiment", "the paper's comparisons and claims"),
    "pick-decay": ("larq_adam.cli.pick_decay", "pick a weight decay by the FF/C2I rule"),
}


def build_parser() -> argparse.ArgumentParser:
    """The command's parser; every subcommand module adds its own options."""
    from larq_adam import __version__

    parser = common.ArgumentParser(prog="larq-adam", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"larq-adam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                parser_class=common.ArgumentParser)
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(name, help=help_text, description=module.__doc__,
                           formatter_class=common.HelpFormatter)
        module.add_arguments(p)
        if not p.has_option("--debug"):
            common.add_debug(p)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse ``argv`` (default: the process's arguments) and run the command."""
    args_list: List[str] = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(args_list)
    module = importlib.import_module(COMMANDS[args.command][0])
    prog = f"larq-adam {args.command}"
    return common.run_command(module.run, args, prog=prog,
                              precheck=getattr(module, "precheck", None),
                              run_folder=getattr(module, "run_folder", None), argv=args_list)


def console() -> None:
    """The ``larq-adam`` console script."""
    sys.exit(main())
