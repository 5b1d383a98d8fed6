"""Schedules: the paper's per-epoch linear decay (both modes), cosine, warm-up."""
import pytest
import tensorflow as tf

from larq_adam.training.schedules import CosineDecay, LinearDecay, WarmUp


def _at(schedule, steps):
    return [float(schedule(s)) for s in steps]


def test_linear_decay_is_constant_within_an_epoch_and_steps_at_boundaries():
    s = LinearDecay(1.0, epochs=4, steps_per_epoch=3)
    # epoch e = step // 3 trains at 1 - e/4; beyond the last epoch the rate is 0.
    assert _at(s, [0, 2, 3, 5, 6, 9, 11, 12, 100]) == pytest.approx(
        [1.0, 1.0, 0.75, 0.75, 0.5, 0.25, 0.25, 0.0, 0.0]
    )


def test_linear_decay_exact_reference_is_one_epoch_ahead_and_ends_at_zero():
    s = LinearDecay(1.0, epochs=4, steps_per_epoch=3, exact_reference=True)
    assert _at(s, [0, 2, 3, 6, 9, 11]) == pytest.approx([0.75, 0.75, 0.5, 0.25, 0.0, 0.0])


def test_cosine_decay_per_step_and_per_epoch():
    s = CosineDecay(2.0, epochs=2, steps_per_epoch=2)
    assert _at(s, [0, 1, 2, 4, 9]) == pytest.approx([2.0, 1.0 + 2 ** -0.5, 1.0, 0.0, 0.0],
                                                   abs=1e-6)
    e = CosineDecay(2.0, epochs=2, steps_per_epoch=2, per_epoch=True)
    assert _at(e, [0, 1, 2, 3, 4]) == pytest.approx([2.0, 2.0, 1.0, 1.0, 0.0], abs=1e-6)


def test_warmup_ramps_linearly_then_follows_the_wrapped_schedule():
    s = WarmUp(LinearDecay(1.0, epochs=2, steps_per_epoch=4), warmup_steps=4)
    assert _at(s, [0, 1, 3, 4, 7]) == pytest.approx([0.25, 0.5, 1.0, 0.5, 0.5])
    assert _at(WarmUp(0.1, 2), [0, 1, 5]) == pytest.approx([0.05, 0.1, 0.1])
    assert s.initial_learning_rate == 1.0


@pytest.mark.parametrize(
    "schedule",
    [
        LinearDecay(1e-3, 5, 7, exact_reference=True),
        CosineDecay(1e-3, 5, 7, per_epoch=True),
        WarmUp(CosineDecay(1e-3, 5, 7), 3),
    ],
)
def test_schedules_serialise_and_deserialise(schedule):
    clone = tf.keras.optimizers.schedules.deserialize(
        tf.keras.optimizers.schedules.serialize(schedule)
    )
    assert type(clone) is type(schedule)
    assert _at(clone, range(0, 40, 3)) == pytest.approx(_at(schedule, range(0, 40, 3)))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="epochs must be > 0"):
        LinearDecay(1e-3, 0, 10)
    with pytest.raises(ValueError, match="steps_per_epoch must be > 0"):
        CosineDecay(1e-3, 3, -1)
    with pytest.raises(TypeError, match="positive integer"):
        LinearDecay(1e-3, 2.5, 10)
    with pytest.raises(ValueError, match="warmup_steps"):
        WarmUp(LinearDecay(1e-3, 2, 2), 0)
    with pytest.raises(ValueError, match=">= 0"):
        LinearDecay(-1.0, 2, 2)
