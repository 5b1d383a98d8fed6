"""Why a step's test top-1 can collapse at one epoch while its training top-1 rises.

For every checkpoint a step kept (``RUN/STEP/checkpoints``), the test top-1 of the same
weights under four sets of BN statistics:

- ``moving``: the moving statistics the step trained (what ``fit`` validates with);
- ``batch``: every test batch normalised with its own statistics (training-mode BN);
- ``recal-all``: statistics re-estimated over the whole training split
  (:func:`larq_adam.training.bn_stats.recalibrate_bn`);
- ``recal-last``: re-estimated over only the last ``--last`` batches of that epoch, as
  many as the moving averages (momentum 0.1) effectively span, but with the final weights.

``recal-last`` separates the two explanations: if it scores as ``recal-all``, a handful
of batches is enough and the moving statistics are wrong because they were averaged over
*earlier weights* (lag); if it scores as ``moving``, the statistics of a few batches are
too noisy. The largest relative change of a moving mean/variance is printed too.

    python bench/bn_collapse.py runs/two_step --step step1

A finished step keeps only its newest checkpoint; the earlier epochs are there while the
step trains (the last two), or in a copy made by a callback (``extra_callbacks`` of
``la.training.train``). DESIGN.md's numbers come from a run folder of a version that kept
the last two after the step finished.
"""
import argparse
import json
from pathlib import Path

import numpy as np


def _evaluate(model, data, *, batch_stats: bool = False) -> float:
    """Test top-1 with the moving statistics, or with each batch's own."""
    import tensorflow as tf

    from larq_adam.training import bn_stats

    if not batch_stats:
        return bn_stats.top1_accuracy(model, data.test().take(data.test_steps))
    saved = bn_stats.moving_statistics(model)
    correct = total = 0
    for images, labels in data.test().take(data.test_steps):
        logits = model(images, training=True)
        correct += int(tf.reduce_sum(tf.cast(tf.argmax(logits, -1, output_type=tf.int32)
                                             == tf.cast(labels, tf.int32), tf.int32)))
        total += int(labels.shape[0])
    bn_stats.set_moving_statistics(model, saved)  # training mode updated them
    return correct / total


def _epoch_batches(data, epoch: int, first: int):
    return data.train(epoch).take(data.steps_per_epoch).skip(first)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="a run folder (runs/two_step)")
    parser.add_argument("--step", default="step1")
    parser.add_argument("--last", type=int, default=10,
                        help="batches of recal-last (momentum 0.1 spans about 10)")
    args = parser.parse_args()

    import larq_adam as la  # first: selects Keras 2
    import tensorflow as tf
    from larq_adam.config import RunConfig
    from larq_adam.training.bn_stats import moving_statistics, recalibrate_bn
    from larq_adam.training.data_feed import load_run_feeds
    from larq_adam.training.step import Step

    step_dir = Path(args.run) / args.step
    record = json.loads((step_dir / "config.json").read_text())
    step = Step(**{k: v for k, v in record.items() if k in Step.__dataclass_fields__})
    data = load_run_feeds(RunConfig.from_json(record["run"], where=str(step_dir)))
    model = la.models.build_model(**step.build_kwargs(data.info))
    checkpoints = tf.train.get_checkpoint_state(str(step_dir / "checkpoints"))
    print(f"{'checkpoint':>10} {'moving':>7} {'batch':>7} {'recal-all':>9} "
          f"{'recal-last':>10}  max rel. change of mean / variance")
    for path in checkpoints.all_model_checkpoint_paths:
        tf.train.Checkpoint(model=model).read(path).expect_partial()
        epoch = int(path.rsplit("-", 1)[1]) - 1
        moving = moving_statistics(model)
        row = [_evaluate(model, data), _evaluate(model, data, batch_stats=True)]
        recalibrate_bn(model, _epoch_batches(data, epoch, data.steps_per_epoch - args.last))
        last = _evaluate(model, data)
        change = recalibrate_bn(model, data.train(epoch).take(data.steps_per_epoch))
        row += [_evaluate(model, data), last]
        shift = {n: float(np.max(np.abs(model.get_layer(n).moving_mean.numpy() - m)
                                 / np.sqrt(model.get_layer(n).moving_variance.numpy() + 1e-5)))
                 for n, (m, _) in moving.items()}
        worst = max(shift, key=shift.get)
        print(f"{Path(path).name:>10} {row[0]:7.1%} {row[1]:7.1%} {row[2]:9.1%} "
              f"{row[3]:10.1%}  {change.max_mean_change:.2f} / "
              f"{change.max_variance_change:.2f} (largest mean shift: {worst}, "
              f"{shift[worst]:.1f} std)")


if __name__ == "__main__":
    main()
