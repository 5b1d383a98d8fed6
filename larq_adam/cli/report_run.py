"""``larq-adam report RUN``: the run's ``report.md`` with its tables and figures.

Reads what training wrote (each step's ``result.json`` and ``history.csv``, the analysis
records) and, when present, the export's ``export.json`` and the final model (its summary
and the paper's OPs, Table 3); writes ``RUN/report.md`` and ``RUN/figures/``.
"""
import argparse
from pathlib import Path
from typing import Optional

from larq_adam.cli import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", help="a run folder written by larq-adam train")
    common.add_trust_model(parser)
    common.add_debug(parser)


def run_folder(args: argparse.Namespace) -> Optional[str]:
    """The run folder, locked while the report is written (None when it does not exist:
    the command says so)."""
    return args.run_dir if Path(args.run_dir).is_dir() else None


def run(args: argparse.Namespace) -> int:
    import larq_adam as la

    report = la.report.make_report(args.run_dir, trust_model=args.trust_model)
    print(f"written: {report}")
    return 0
