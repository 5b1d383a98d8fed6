"""The weight-decay picker: the paper's rule on Table 1's numbers and on made-up edge
cases, and (``slow``) tiny trials that start from the same weights for one seed and from
other weights for another.
"""
import math

import numpy as np
import pytest

from larq_adam.errors import UserInputError
from larq_adam.experiments import pick_decay

PNG = b"\x89PNG\r\n\x1a\n"


def test_rule_picks_the_papers_decay_from_table1():
    picked, ref, decisions = pick_decay.apply_rule(pick_decay.TABLE1)
    assert (picked, ref) == (5e-6, 0.0)
    assert decisions[1e-5][2] is False          # FF 8.1x decay 0's: unstable
    assert decisions[5e-6][2:] == (True, True)  # FF 5.7x: stable, not bound
    assert decisions[-1e-4][3] is False         # keeps 97% of the initial signs: bound


def test_rule_factors_move_the_pick():
    assert pick_decay.apply_rule(pick_decay.TABLE1, ff_factor=9.0)[0] == 1e-5
    assert pick_decay.apply_rule(pick_decay.TABLE1, ff_factor=5.0)[0] == 0.0
    # no bind check (0): -1e-4 passes but is not the largest
    assert pick_decay.apply_rule(pick_decay.TABLE1, bind_factor=0.0)[0] == 5e-6


def test_reference_is_the_smallest_non_negative_candidate():
    early = {1e-5: (3e-3, 0.45), 1e-6: (1e-3, 0.48), -1e-4: (1e-7, 0.97)}
    picked, ref, _ = pick_decay.apply_rule(early)
    assert ref == 1e-6 and picked == 1e-5
    with pytest.raises(UserInputError, match="add 0"):
        pick_decay.apply_rule({-1e-4: (1e-7, 0.97)})


def test_a_reference_without_flip_flops_rejects_every_flipping_candidate():
    picked, _, decisions = pick_decay.apply_rule({0.0: (0.0, 1.0), 1e-5: (1e-4, 0.9)})
    assert picked == 0.0 and math.isinf(decisions[1e-5][0])


def test_bad_candidates_are_refused_with_the_fix(tmp_path):
    with pytest.raises(UserInputError, match="distinct"):
        pick_decay.run(tmp_path, candidates=(0.0, 0.0))
    with pytest.raises(UserInputError, match="add 0"):
        pick_decay.run(tmp_path, candidates=(-1e-5,))
    with pytest.raises(UserInputError, match="decay_scale"):
        pick_decay.run(tmp_path, candidates=(0.0,), decay_scale=0.0)
    assert not any(tmp_path.iterdir())


def test_pick_survives_json():
    trial = pick_decay.Trial(decay=0.0, trial_decay=0.0, run_dir="x", ff_by_epoch=[1e-3],
                             c2i_by_epoch=[0.9], ff_early=1e-3, c2i_early=0.9, seconds=1.0,
                             ff_vs_reference=math.inf, flipped_vs_reference=1.0)
    pick = pick_decay.Pick(picked=0.0, reference=0.0, ff_factor=7.0, bind_factor=0.5,
                           epochs=1, iterations=2, seed=0, trials=[trial])
    again = pick_decay.Pick.from_json(pick.to_json())
    assert math.isinf(again.trials[0].ff_vs_reference)
    assert again.to_json() == pick.to_json()


@pytest.mark.slow
def test_tiny_trials_start_from_one_initialisation_per_seed(tmp_path):
    """Two candidates at seed 0 (the same initial signs, checked by the picker too) and
    decay 0 at seed 1 (other signs); ~2 minutes on 2 shared cores."""
    tiny = dict(epochs=2, width=0.125, batch_size=16, max_steps_per_epoch=2, verbose=0)
    pick = pick_decay.run(tmp_path / "s0", candidates=(1e-5, 0.0), decay_scale=1e3, **tiny)
    assert pick.reference == 0.0 and pick.picked in (1e-5, 0.0)
    assert pick.iterations == 4
    assert all(len(t.ff_by_epoch) == 2 and len(t.c2i_by_epoch) == 2 for t in pick.trials)
    assert (tmp_path / "s0" / "figures" / "pick_ff_c2i.png").read_bytes()[:8] == PNG
    assert "# Weight decay pick" in (tmp_path / "s0" / "pick.md").read_text()
    assert pick_decay.Pick.load(tmp_path / "s0").to_json() == pick.to_json()
    a = pick_decay.initial_signs(tmp_path / "s0" / "wd1e-05")
    b = pick_decay.initial_signs(tmp_path / "s0" / "wd0")
    assert len(a) == len(b) > 1 and all(np.array_equal(x, y) for x, y in zip(a, b))
    pick_decay.run(tmp_path / "s1", candidates=(0.0,), seed=1, **tiny)
    c = pick_decay.initial_signs(tmp_path / "s1" / "wd0")
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))
