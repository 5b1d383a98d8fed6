"""Every directional claim of the paper, measured with seeds, tests and verdicts.

    larq-adam experiment claims                  # the default scale (~80 min on 2 CPU cores)
    larq-adam experiment claims --quick --seeds 2   # 1 epoch of 2 batches: the machinery only
    larq-adam experiment claims --only a-bnn c g    # the claims that need only two arms

Each arm+seed trains in its own folder under RUN_DIR/runs; by default (``--resume``) a
stopped scoreboard continues where it stopped, reading finished runs back. Writes
RUN_DIR/scoreboard.md, scoreboard.json and figures/ (see larq_adam.experiments.claims).
"""
import argparse

from larq_adam.cli import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", default="runs/claims",
                        help="folder of the runs, the scoreboard and its figures")
    parser.add_argument("--seeds", type=common.positive_int, default=3,
                        help="run seeds per arm (0 .. N-1; at least 2)")
    parser.add_argument("--quick", action="store_true",
                        help="1 epoch of 2 batches of 16 per run: checks the machinery only")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="read finished runs back and continue an interrupted one "
                             "(--no-resume refuses a folder that holds runs)")
    parser.add_argument("--only", nargs="+", metavar="CLAIM", default=None,
                        help="claim keys to measure (a-bnn a-fp a b-cam b-sdam b-upd c d-ff "
                             "d-c2i e f g); default: all")
    parser.add_argument("--quiet", action="store_true", help="no line per run")
    common.add_debug(parser)


def run(args: argparse.Namespace) -> int:
    from larq_adam.experiments import claim_tables, claims

    board = claims.run(args.run_dir, seeds=args.seeds, quick=args.quick, resume=args.resume,
                       verbose=0 if args.quiet else 1, only=args.only)
    print(claim_tables.markdown(board))
    common.print_paths([f"{args.run_dir}/scoreboard.md", f"{args.run_dir}/scoreboard.json",
                        f"{args.run_dir}/figures/"])
    return 0
