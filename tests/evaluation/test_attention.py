"""Attention measured: target attention and saliency SSIM (arithmetic, known values), the target's
pixel mask from the renderer, and the metrics in closed loop (same flights, finite values, summary)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from navlnn.evaluation.metrics import aggregate
from navlnn.evaluation.report import attention_table
from navlnn.evaluation.saliency import saliency_ssim, ssim, target_attention
from navlnn.evaluation.video import TARGET_OUTLINE, outline_mask
from navlnn.rollout.jobs import CheckpointPolicy, EnvFactory, FlyOptions, Job, run_jobs
from navlnn.rollout.perturbations import ImagePerturbation

TRAINED = Path(__file__).resolve().parents[1] / "rollout" / "ncp_cfc_tiny.pt"  # a 64x36 policy, saliency not all zero


# ------------------------------------------------------------------------------ target attention


def _mask(share_rows: int = 3) -> np.ndarray:
    mask = np.zeros((12, 16), bool)
    mask[:share_rows, 4:12] = True  # 24 of 192 pixels: share 1/8
    return mask


def test_uniform_saliency_scores_chance():
    assert target_attention(np.full((12, 16), 0.3), _mask()) == pytest.approx(1.0)


def test_all_saliency_inside_the_mask_scores_one_over_its_share():
    mask = _mask()
    sal = np.where(mask, np.linspace(0.1, 1.0, mask.size).reshape(mask.shape), 0.0)
    assert target_attention(sal, mask) == pytest.approx(mask.size / mask.sum()) == pytest.approx(8.0)


def test_no_saliency_inside_the_mask_scores_zero():
    mask = _mask()
    assert target_attention(np.where(mask, 0.0, 2.0), mask) == 0.0


def test_half_the_saliency_on_an_eighth_of_the_image_scores_four():
    mask = _mask()
    sal = np.where(mask, 1.0 / mask.sum(), 1.0 / (~mask).sum())  # half the mass inside, half outside
    assert target_attention(sal, mask) == pytest.approx(4.0)


def test_target_attention_is_undefined_without_target_or_saliency():
    assert math.isnan(target_attention(np.ones((12, 16)), np.zeros((12, 16), bool)))
    assert math.isnan(target_attention(np.zeros((12, 16)), _mask()))
    with pytest.raises(ValueError, match="non-negative"):
        target_attention(-np.ones((12, 16)), _mask())
    with pytest.raises(ValueError, match="same shape"):
        target_attention(np.ones((12, 15)), _mask())


# ------------------------------------------------------------------------------ SSIM


def _reference_ssim(x: np.ndarray, y: np.ndarray, win: int = 7, data_range: float = 1.0) -> float:
    """The SSIM formula window by window (Wang et al., 2004; sample covariances, interior windows)."""
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    values = []
    for i in range(x.shape[0] - win + 1):
        for j in range(x.shape[1] - win + 1):
            a, b = x[i:i + win, j:j + win].ravel(), y[i:i + win, j:j + win].ravel()
            ma, mb = a.mean(), b.mean()
            va, vb = a.var(ddof=1), b.var(ddof=1)
            cov = ((a - ma) * (b - mb)).sum() / (a.size - 1)
            values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


def test_ssim_of_identical_maps_is_one():
    x = np.random.default_rng(0).random((20, 30))
    assert ssim(x, x) == pytest.approx(1.0, abs=1e-12)


def test_ssim_of_a_constant_shift_is_the_luminance_term():
    a, c = 0.3, 0.2  # constant maps: no contrast, so SSIM is the luminance term alone
    c1 = 0.01**2
    expected = (2 * a * (a + c) + c1) / (a**2 + (a + c) ** 2 + c1)
    assert ssim(np.full((10, 12), a), np.full((10, 12), a + c)) == pytest.approx(expected, rel=1e-9)
    x = np.random.default_rng(1).random((16, 16)) * 0.5
    assert ssim(x, x + 0.3) < 1.0  # structure kept, brightness not


def test_ssim_of_a_map_and_its_negation_is_near_minus_one():
    x = np.random.default_rng(2).random((24, 24))
    assert ssim(x, 1.0 - x) < -0.9  # same local means (0.5 on average), opposite structure


@pytest.mark.parametrize("seed", [3, 4])
def test_ssim_matches_the_formula_window_by_window_on_random_maps(seed):
    rng = np.random.default_rng(seed)
    x = rng.random((15, 19))
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1)
    value = ssim(x, y)
    assert value == pytest.approx(_reference_ssim(x, y), abs=1e-10)
    assert 0.0 < value < 0.95


def test_saliency_ssim_scales_both_maps_by_their_joint_range():
    x = np.random.default_rng(5).random((16, 16))
    assert saliency_ssim(x, x) == pytest.approx(1.0)
    assert saliency_ssim(x, 0.5 * x) < 0.95  # a weaker map with the same shape counts as a change
    assert saliency_ssim(np.zeros((8, 8)), np.zeros((8, 8))) == 1.0
    with pytest.raises(ValueError):
        ssim(np.zeros((5, 5)), np.zeros((5, 5)))  # smaller than the window


# ------------------------------------------------------------------------------ the target's pixel mask


@pytest.fixture(scope="module")
def env():
    env = EnvFactory.of(camera={"width": 64, "height": 36})()
    yield env
    env.close()


def _face_target(env, turn: float = 0.0):
    """Put the drone at sign height 4 m in front of the sign, facing it (plus ``turn`` rad)."""
    base = env.unwrapped
    pose = base._current_target()
    pos = pose.pos_world + pose.facing * 4.0
    base.quad.reset(pos, pose.yaw + math.pi + turn)
    base._target_mask = None  # the frame changed: the mask is rendered again


def test_the_mask_covers_the_target_when_centred_and_is_empty_looking_away(env):
    env.reset(seed=2**31 + 7)
    _face_target(env)
    mask = env.unwrapped.target_mask()
    assert mask.shape == (36, 64) and mask.dtype == bool
    rows, cols = np.nonzero(mask)
    assert 20 < len(rows) < 0.5 * mask.size
    assert abs(cols.mean() - 31.5) < 4 and abs(rows.mean() - 17.5) < 8  # near the centre
    assert mask[int(rows.mean()), int(cols.mean())]
    _face_target(env, math.pi)
    assert not env.unwrapped.target_mask().any()


def test_tracking_the_mask_changes_no_image_and_gives_the_rendered_mask(env):
    base = env.unwrapped
    frames, masks = {}, {}
    for track in (False, True):
        base.track_target_mask = track
        obs, _ = env.reset(seed=2**31 + 8)
        frames[track], masks[track] = [obs], [base.target_mask()]
        for _ in range(6):
            obs, *_ = env.step(np.array([0.5, 0.0, 0.0, 0.6], np.float32))
            frames[track].append(obs)
            masks[track].append(base.target_mask())
    base.track_target_mask = False
    for a, b, ma, mb in zip(frames[False], frames[True], masks[False], masks[True]):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ma, mb)
    assert sum(m.sum() for m in masks[True]) > 0


def test_the_video_outlines_the_mask_where_the_target_is():
    mask = np.zeros((36, 64), bool)
    mask[10:20, 40:50] = True
    panel = np.zeros((180, 320, 3), np.uint8)
    out = outline_mask(panel, mask)
    drawn = np.all(out == TARGET_OUTLINE, axis=-1)
    rows, cols = np.nonzero(drawn)
    assert drawn.sum() > 50
    assert 45 <= rows.min() and rows.max() <= 105 and 195 <= cols.min() and cols.max() <= 255  # 5x: 50..100, 200..250
    assert not drawn[75, 225]  # an outline, not a fill


# ------------------------------------------------------------------------------ in closed loop


@pytest.fixture(scope="module")
def flights():
    """Two seeds of the committed tiny policy, attention off and on, batch 1 and 2, clean and under noise."""
    policy = CheckpointPolicy(str(TRAINED))
    envf = EnvFactory.of(task={"name": "fly_to_target", "time_limit_s": 2.0}, camera={"width": 64, "height": 36})
    noise = ImagePerturbation(noise=0.08)
    options = {"off": FlyOptions(), "on": FlyOptions(attention=True),
               "noise_off": FlyOptions(perturb=noise), "noise_on": FlyOptions(perturb=noise, attention=True),
               "probe": FlyOptions(attention=True, attention_perturb=noise)}
    jobs = [Job(policy, envf, s, o, (("case", name),)) for name, o in options.items() for s in (2**31 + 1, 2**31 + 2)]
    out = {}
    for batch in (1, 2):
        flown = run_jobs(jobs, workers=1, batch=batch)
        for job, f in zip(jobs, flown):
            out.setdefault((dict(job.tags)["case"], batch), []).append(f)
    return out


def test_attention_on_or_off_flies_the_same_episodes(flights):
    for batch in (1, 2):
        for off, on in (("off", "on"), ("noise_off", "noise_on"), ("off", "probe")):
            for a, b in zip(flights[(off, batch)], flights[(on, batch)]):
                assert a.target_attention is None and b.target_attention is not None
                np.testing.assert_array_equal(a.pos_world, b.pos_world)
                np.testing.assert_array_equal(a.policy_action, b.policy_action)
    assert not np.array_equal(flights[("off", 1)][0].pos_world, flights[("noise_off", 1)][0].pos_world)


def test_attention_is_finite_where_the_target_was_seen_and_the_same_for_any_batch(flights):
    for case in ("on", "noise_on", "probe"):
        for a, b in zip(flights[(case, 1)], flights[(case, 2)]):
            assert len(a.target_attention) == a.steps
            seen = np.isfinite(a.target_attention)
            assert seen.sum() > a.steps // 2  # the target starts in view
            assert np.all(a.target_attention[seen] >= 0)
            assert np.all(np.isfinite(a.saliency_ssim)) and np.all(a.saliency_ssim <= 1.0 + 1e-12)
            # flights of two batch sizes differ in float rounding (within 1e-5), so their frames by a hair
            np.testing.assert_allclose(a.target_attention, b.target_attention, rtol=1e-2, atol=1e-3)
    clean = np.concatenate([f.saliency_ssim for f in flights[("on", 1)]])
    assert np.all(clean == 1.0)  # no image stress: the policy saw the clean frames
    for case in ("noise_on", "probe"):
        noisy = np.concatenate([f.saliency_ssim for f in flights[(case, 1)]])
        assert noisy.mean() < 0.999


def test_attention_rows_summarise_with_intervals(flights):
    from navlnn.evaluation.metrics import episode_metrics

    rows = [{"model": "m", "scene": "summer", "task": "fly", **episode_metrics(f)} for f in flights[("noise_on", 1)]]
    rows.append({"model": "m", "scene": "summer", "task": "fly", **episode_metrics(flights[("noise_on", 1)][0]),
                 "target_attention": math.nan, "target_attention_frames": 0})  # an episode that never saw it
    for r in rows:
        assert {"target_attention", "target_attention_frames", "saliency_ssim"} <= set(r)
    (s,) = aggregate(rows, resamples=200)
    values = [r["target_attention"] for r in rows[:2]]
    assert s["target_attention"] == pytest.approx(np.mean(values))
    assert s["target_attention_episodes"] == 2 and s["episodes"] == 3
    lo, hi = s["target_attention_ci95"]
    assert lo <= s["target_attention"] <= hi
    lo, hi = s["saliency_ssim_ci95"]
    assert lo <= s["saliency_ssim"] <= hi <= 1.0
    assert "target attention [ci95]" in attention_table([s])
    (plain,) = aggregate([{k: v for k, v in r.items() if "attention" not in k and "ssim" not in k} for r in rows])
    assert "target_attention" not in plain and attention_table([plain]) == ""


def test_an_evaluation_with_attention_writes_the_columns_and_summary(tmp_path):
    import csv
    import json

    from navlnn.evaluation.plan import plan
    from navlnn.evaluation.report import write_report
    from navlnn.evaluation.run import evaluate

    the_plan = plan(str(TRAINED), ["summer"], [{"name": "fly_to_target", "time_limit_s": 1.0}], 2, 0,
                    {"name": "cf2x"}, None, {}, reference_expert=False, attention=True,
                    attention_stress={"noise": 0.05})
    result = evaluate(the_plan, resamples=200, cache=tmp_path / "episodes", batch=2)
    write_report(result, tmp_path, plot_episodes=0)
    with open(tmp_path / "episodes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for row in rows:
        assert int(row["target_attention_frames"]) > 0
        assert math.isfinite(float(row["target_attention"])) and 0 < float(row["saliency_ssim"]) < 1
    (s,) = json.loads((tmp_path / "summary.json").read_text())
    lo, hi = s["target_attention_ci95"]
    assert lo <= s["target_attention"] <= hi and s["target_attention_episodes"] == 2
    table = (tmp_path / "summary.md").read_text()
    assert "target attention [ci95]" in table and "perturbed by noise=0.05" in table
    with pytest.raises(ValueError, match="attention_stress.noise must be >= 0"):
        plan(str(TRAINED), ["summer"], ["fly_to_target"], 1, 0, {"name": "cf2x"}, None, {}, attention=True,
             attention_stress={"noise": -1})


@pytest.mark.e2e
def test_navlnn_eval_attention_true_writes_the_columns(tmp_path):
    import csv
    import subprocess
    import sys

    run_dir = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "navlnn.cli", "eval", f"checkpoint={TRAINED}", "scenes=[summer]",
                             "task=fly_to_target", "task.time_limit_s=1", "episodes=2", "workers=1", "progress=false",
                             "logger.mode=disabled", "eval.plot_episodes=0", "eval.reference_expert=false",
                             "eval.attention=true", "eval.stress.image.noise=0.05", f"hydra.run.dir={run_dir}"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with open(run_dir / "episodes.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    assert all(math.isfinite(float(r["target_attention"])) and 0 < float(r["saliency_ssim"]) < 1 for r in rows)
    assert "saliency SSIM" in (run_dir / "summary.md").read_text()


def test_job_keys_without_the_later_options_are_those_saved_episodes_carry():
    from navlnn.rollout.keys import job_key, legacy_job_key

    job = Job(CheckpointPolicy("x.pt"), EnvFactory.of(scene="summer"), 5,
              FlyOptions(perturb=ImagePerturbation(noise=0.1), beta=0.3), (("a", 1),))
    assert legacy_job_key(job) == "8277fb8a1d14bb45de8b"  # the key before attention and camera roll existed
    on = Job(job.policy, job.env, job.seed, FlyOptions(perturb=ImagePerturbation(noise=0.1), beta=0.3, attention=True),
             job.tags)
    rolled = Job(job.policy, job.env, job.seed, FlyOptions(perturb=ImagePerturbation(noise=0.1, roll_deg=5.0), beta=0.3),
                 job.tags)
    assert len({job_key(job), job_key(on), job_key(rolled)}) == 3
