"""The claims scoreboard: its statistics on made-up samples whose verdict is known, the
scoreboard's table, JSON and figures from made-up measurements, and the quick scoreboard
trained end to end, then read back without training: its two BNN arms in the fast suite,
every arm (``slow``).
"""
import json
import math

import numpy as np
import pytest

from larq_adam.errors import UserInputError
from larq_adam.experiments import claims, stats

PNG = b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- statistics


def test_welch_reproduces_a_clear_difference_in_the_claimed_direction():
    res = stats.welch([0.91, 0.92, 0.90], [0.80, 0.82, 0.81], direction="greater")
    assert res.verdict == "reproduced" and res.p_value < 0.01 < 0.99 < res.p_opposite
    assert res.effect == pytest.approx(0.1)
    assert res.ci_low <= 0.1 <= res.ci_high and res.ci_low > 0
    assert res.cohen_d == pytest.approx(10.0)


def test_welch_contradicts_a_clear_difference_against_the_claim():
    res = stats.welch([0.91, 0.92, 0.90], [0.80, 0.82, 0.81], direction="less")
    assert res.verdict == "contradicted" and res.p_opposite < 0.01


def test_welch_is_inconclusive_on_overlapping_or_constant_samples():
    assert stats.welch([0.5, 0.7, 0.6], [0.55, 0.65, 0.6]).verdict == stats.INCONCLUSIVE
    res = stats.welch([1.0, 1.0], [1.0, 1.0])
    assert math.isnan(res.p_value) and res.verdict == stats.INCONCLUSIVE


def test_welch_p_value_is_scipys_one_sided_welch_test():
    from scipy import stats as sp

    a, b = [3.1, 2.7, 3.3, 2.9], [2.5, 2.9, 2.2]
    res = stats.welch(a, b, direction="greater")
    ref = sp.ttest_ind(a, b, equal_var=False, alternative="greater")
    assert res.p_value == pytest.approx(ref.pvalue) and res.statistic == pytest.approx(
        ref.statistic)


def test_contrast_finds_an_interaction_the_arms_alone_do_not_show():
    # Adam - SGD: +0.10 on the BNN, -0.02 on FP: the contrast is 0.12
    bnn_adam, bnn_sgd = [0.60, 0.61, 0.62], [0.50, 0.51, 0.52]
    fp_adam, fp_sgd = [0.80, 0.81, 0.82], [0.82, 0.83, 0.84]
    res = stats.welch_contrast([bnn_adam, bnn_sgd, fp_adam, fp_sgd], (1, -1, -1, 1))
    assert res.effect == pytest.approx(0.12) and res.verdict == "reproduced"
    flipped = stats.welch_contrast([bnn_sgd, bnn_adam, fp_sgd, fp_adam], (1, -1, -1, 1))
    assert flipped.verdict == "contradicted"


def test_trend_reads_the_sign_of_a_monotone_relation_over_decay_and_seed():
    x = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    rising = [1.0, 1.2, 1.1, 2.0, 2.2, 2.1, 3.0, 3.3, 3.1]
    up = stats.trend(x, rising, direction="greater")
    assert up.verdict == "reproduced" and up.effect > 0.9
    assert stats.trend(x, rising, direction="less").verdict == "contradicted"
    flat = stats.trend(x, [1, 2, 3, 2, 3, 1, 3, 1, 2], direction="greater")
    assert flat.verdict == stats.INCONCLUSIVE


def test_tests_are_deterministic_and_survive_json():
    a, b = [0.3, 0.5, 0.4], [0.2, 0.35, 0.1]
    first, second = stats.welch(a, b), stats.welch(a, b)
    assert first == second
    nan = stats.welch([1.0, 1.0], [1.0, 1.0])
    restored = stats.TestResult.from_json(json.loads(json.dumps(nan.to_json())))
    assert math.isnan(restored.p_value) and restored.verdict == nan.verdict


def test_too_few_values_are_refused_with_the_fix():
    with pytest.raises(ValueError, match="at least 2"):
        stats.welch([0.5], [0.4, 0.3])


# ----------------------------------------------------------------------------- the plan


def test_decay_scaling_keeps_lr_times_decay_times_iterations():
    s = claims.DEFAULT
    assert s.iterations == 640
    assert s.decay(5e-6) == pytest.approx(1.25e-2, rel=2e-3)  # 5e-6 x 2502.5
    assert s.decay(5e-6) * s.adam_lr * s.iterations == pytest.approx(
        5e-6 * claims.PAPER_LR * claims.PAPER_ITERATIONS)
    assert claims.QUICK.decay(0.0) == 0.0


def test_every_claim_compares_arms_of_the_plan_and_runs_are_shared():
    for setting in (claims.DEFAULT, claims.QUICK):
        plan = claims.arms(setting)
        rows = claims.claims(setting)
        assert {a for c in rows for a in c.arms} == set(plan)
        assert len(plan) == 8 and len(rows) == 12
    assert claims._needed_arms(claims.DEFAULT, ("g", "c")) == ["bnn_adam", "bnn_sgd"]
    decays = dict(claims.arms(claims.DEFAULT)["bnn_adam_wd1e-05"].options)["weight_decay"]
    assert decays == pytest.approx(claims.DEFAULT.decay(1e-5))


def test_bad_seeds_or_claim_names_are_refused_before_training(tmp_path):
    with pytest.raises(UserInputError, match="seeds must be an int >= 2"):
        claims.run(tmp_path, seeds=1, quick=True)
    with pytest.raises(UserInputError, match="unknown claims"):
        claims.run(tmp_path, seeds=2, quick=True, only=["z"])
    assert not any(tmp_path.iterdir())


# ----------------------------------------------------------------------------- the board


def _made_up_records(setting):
    """Measurements where every claim holds clearly (seeds 0-2)."""
    rng = np.random.default_rng(0)
    base = {"bnn_adam": 0.80, "bnn_sgd": 0.60, "fp_adam": 0.90, "fp_sgd": 0.95,
            "bnn_adam_wd5e-06": 0.81, "bnn_adam_wd1e-05": 0.79, "babw": 0.88, "bwba": 0.70}
    ff = {"bnn_adam": 1e-4, "bnn_adam_wd5e-06": 1e-3, "bnn_adam_wd1e-05": 3e-3}
    c2i = {"bnn_adam": 0.9, "bnn_adam_wd5e-06": 0.7, "bnn_adam_wd1e-05": 0.6}
    adam = lambda key: key.startswith("bnn_adam")  # noqa: E731
    records = {}
    for key, arm in claims.arms(setting).items():
        rec = claims.ArmRuns(key, arm.label, arm.scheme, dict(arm.options))
        for seed in range(3):
            noise = float(rng.normal(0, 0.005))
            rec.seeds.append(seed)
            rec.run_dirs.append(f"runs/{key}/seed{seed}")
            rec.seconds.append(10.0 + seed)
            rec.metrics.append({
                "accuracy": base[key] + noise, "ff_ratio": ff.get(key, 1e-4) * (1 + noise),
                "c2i_ratio": c2i.get(key, 0.9) + noise,
                "cam_min_first": (0.03 if adam(key) else 0.01) + noise / 10,
                "sdam_first": (0.01 if adam(key) else 0.03) + noise / 10,
                "update_cam_low": (1e-3 if adam(key) else 1e-5) * (1 + noise),
                "saturation_first": (0.2 if adam(key) else 0.4) + noise,
                "latent_abs_gt1": (0.1 if adam(key) else 0.0) + abs(noise)})
        records[key] = rec
    return records


def test_scoreboard_of_clear_measurements_reproduces_every_claim(tmp_path):
    setting = claims.DEFAULT
    records = _made_up_records(setting)
    board = claims.Scoreboard(setting, [0, 1, 2], records, claims.score(setting, records),
                              wall_seconds=1.0)
    assert [c.key for c in board.claims] == list(claims.CLAIM_KEYS)
    assert {c.key: c.test.verdict for c in board.claims} == {
        k: "reproduced" for k in claims.CLAIM_KEYS}
    paths = claims._write(board, tmp_path)
    text = (tmp_path / "scoreboard.md").read_text()
    rows = [line for line in text.splitlines() if line.startswith("| [")]
    assert len(rows) == 12 and all(r.count(" | ") == 9 for r in rows)  # '|' escaped in cells
    assert all("**reproduced**" in r for r in rows)
    for key in claims.CLAIM_KEYS:
        png = tmp_path / "figures" / f"claim_{key}.png"
        assert png in paths and png.read_bytes()[:8] == PNG
    again = claims.Scoreboard.load(tmp_path)
    assert again.to_json() == board.to_json()


def test_a_claim_whose_runs_lack_the_metric_names_them():
    setting = claims.DEFAULT
    records = _made_up_records(setting)
    del records["bnn_sgd"].metrics[1]["sdam_first"]
    with pytest.raises(ValueError, match="runs/bnn_sgd/seed1"):
        claims.score(setting, records, only=["b-sdam"])


# ----------------------------------------------------------------------------- end to end


def _files(root, pattern):
    return {str(p): p.stat().st_mtime_ns for p in sorted(root.glob(pattern))}


@pytest.mark.slow
def test_quick_scoreboard_trains_every_arm_and_resumes_without_training(tmp_path, capsys):
    """1 epoch of 2 batches per run, 2 seeds, 8 arms (~10 minutes on 2 shared cores)."""
    board = claims.run(tmp_path, seeds=2, quick=True, verbose=1)
    assert [c.key for c in board.claims] == list(claims.CLAIM_KEYS)
    assert all(c.test.verdict in stats.VERDICTS for c in board.claims)
    assert all(len(v) == 2 for c in board.claims for v in c.values)
    assert "wall time" in capsys.readouterr().out
    md = (tmp_path / "scoreboard.md").read_text()
    assert md.count("| [") == 12
    assert len(list((tmp_path / "figures").glob("claim_*.png"))) == 12
    results = _files(tmp_path, "runs/*/seed*/*/result.json")
    checkpoints = _files(tmp_path, "runs/*/seed*/*/checkpoints/*")
    assert len(results) == 2 * (6 + 2 * 2)  # 6 one-step and 2 two-step arms, 2 seeds
    again = claims.run(tmp_path, seeds=2, quick=True, verbose=0)
    assert _files(tmp_path, "runs/*/seed*/*/result.json") == results
    assert _files(tmp_path, "runs/*/seed*/*/checkpoints/*") == checkpoints
    first, second = board.to_json(), again.to_json()
    first.pop("wall_seconds"), second.pop("wall_seconds")
    assert first == second


@pytest.mark.slow  # the scoring, verdicts and markdown stay in the fast cases above
def test_quick_scoreboard_of_the_two_bnn_arms_trains_measures_and_resumes(tmp_path):
    """The fast suite's run of ``--quick``: the claims of bnn_adam vs bnn_sgd (2 seeds, 4
    runs of 2 iterations) through training, measuring, testing, the table and figures."""
    only = ["b-cam", "b-sdam", "b-upd", "c", "g"]
    board = claims.run(tmp_path, seeds=2, quick=True, verbose=0, only=only)
    assert [c.key for c in board.claims] == only
    assert sorted(board.arms) == ["bnn_adam", "bnn_sgd"]
    for claim in board.claims:
        assert claim.test.verdict in stats.VERDICTS
        assert [len(v) for v in claim.values] == [2, 2]
        assert all(np.isfinite(v).all() for v in claim.values)
    assert (tmp_path / "scoreboard.md").read_text().count("| [") == len(only)
    assert len(list((tmp_path / "figures").glob("claim_*.png"))) == len(only)
    results = _files(tmp_path, "runs/*/seed*/*/result.json")
    assert len(results) == 4
    again = claims.run(tmp_path, seeds=2, quick=True, verbose=0, only=only)
    assert _files(tmp_path, "runs/*/seed*/*/result.json") == results
    first, second = board.to_json(), again.to_json()
    first.pop("wall_seconds"), second.pop("wall_seconds")
    assert first == second
