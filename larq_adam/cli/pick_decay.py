"""Pick a weight decay from short trials by the paper's FF / C2I rule (Sec. 3.3, Table 1).

    larq-adam pick-decay                                    # 1e-5 5e-6 1e-6 0, 3 epochs
    larq-adam pick-decay --candidates 1e-5 5e-6 0 --epochs 5 --width 0.25
    larq-adam pick-decay --decay-scale 2500                 # short trials of long-run decays

One one-step BNN trial per candidate, all from the same initial weights (one seed); a
candidate must keep enough sign flips against the initialisation (C2I) and few enough
flip-flops (FF) relative to decay 0; the largest such decay is picked. Writes
RUN_DIR/pick.md, pick.json and figures/pick_ff_c2i.png.
"""
import argparse

from larq_adam.cli import common


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run-dir", default="runs/pick_decay",
                        help="folder of the trials and the pick")
    parser.add_argument("--candidates", type=common.finite_float, nargs="+",
                        default=[1e-5, 5e-6, 1e-6, 0.0],
                        help="weight decays to try (include 0: the reference)")
    parser.add_argument("--epochs", type=common.ranged("epochs"), default=3,
                        help="epochs of each trial (the paper reads the early epochs)")
    parser.add_argument("--width", type=common.ranged("width"), default=0.125,
                        help="channel multiplier of the network")
    parser.add_argument("--model", default="reactnet_a", help="reactnet_a or strong_baseline")
    parser.add_argument("--data", "--dataset", default="mnist5k",
                        help="dataset name (see larq-adam train)")
    parser.add_argument("--seed", type=common.ranged("seed"), default=0,
                        help="one seed for every trial: the same initial weights")
    parser.add_argument("--batch-size", type=common.ranged("batch_size"), default=64)
    parser.add_argument("--max-steps-per-epoch", type=common.ranged("max_steps_per_epoch"),
                        default=16,
                        help="batches per epoch (and of the evaluation)")
    parser.add_argument("--lr", "--learning-rate", type=common.ranged("learning_rate"),
                        default=1e-3,
                        help="Adam's initial learning rate")
    parser.add_argument("--decay-scale", type=common.positive_float, default=1.0,
                        help="train each candidate at decay x this (short trials of decays "
                             "meant for a longer training)")
    parser.add_argument("--ff-factor", type=common.positive_float, default=7.0,
                        help="stable: FF ratio <= this x decay 0's")
    parser.add_argument("--bind-factor", type=common.positive_float, default=0.5,
                        help="not bound: flipped share 1 - C2I >= this x decay 0's")
    parser.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                        help="read finished trials back and continue an interrupted one")
    parser.add_argument("--quiet", action="store_true", help="no line per trial")
    common.add_debug(parser)


def precheck(args: argparse.Namespace) -> None:
    """What is checked before TensorFlow loads: the ``--data`` name
    (:func:`larq_adam.dataset_names.parse_name`)."""
    from larq_adam.dataset_names import parse_name

    parse_name(args.data)


def run(args: argparse.Namespace) -> int:
    from larq_adam.experiments import pick_decay

    pick = pick_decay.run(
        args.run_dir, candidates=args.candidates, epochs=args.epochs, model=args.model,
        data=args.data, width=args.width, seed=args.seed, batch_size=args.batch_size,
        max_steps_per_epoch=args.max_steps_per_epoch, learning_rate=args.lr,
        decay_scale=args.decay_scale, ff_factor=args.ff_factor,
        bind_factor=args.bind_factor, resume=args.resume, verbose=0 if args.quiet else 1)
    if args.quiet:
        print(pick.markdown())
    common.print_paths([f"{args.run_dir}/pick.md", f"{args.run_dir}/pick.json",
                        f"{args.run_dir}/figures/pick_ff_c2i.png"])
    return 0
