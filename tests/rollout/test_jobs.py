"""Flying jobs: recorded arrays, expert labels and the DAgger mixture, frame timing, workers."""

from __future__ import annotations

import numpy as np
import pytest

from _tiny import HW, tiny_policy

from envs.expert import Expert
from navlnn.rollout.jobs import CheckpointPolicy, FlyOptions, fly, run
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation


def test_expert_alone_flies_to_the_target_and_arrays_line_up(env):
    ep = fly(None, env, 3, expert=Expert(env))
    t = ep.steps
    assert t > 5 and ep.pos_world.shape == (t + 1, 3) and ep.time_s.shape == (t + 1,)
    assert ep.action.shape == ep.expert_label.shape == (t, 4)
    np.testing.assert_array_equal(ep.action, ep.expert_label)
    assert ep.expert_executed.all() and np.isnan(ep.policy_action).all()
    assert ep.time_s[-1] == pytest.approx(t * env.unwrapped.dt)
    assert ep.distance_to_approach[-1] < ep.distance_to_approach[0]
    assert ep.obstacles.shape[1] == 3 and len(ep.obstacles) > 0


def test_policy_steps_with_state_and_records_expert_labels(env):
    policy = tiny_policy()
    expert = Expert(env)
    ep = fly(policy, env, 4, FlyOptions(beta=0.0, record_images=True, record_state=True), expert)
    t = ep.steps
    np.testing.assert_array_equal(ep.action, ep.policy_action)  # beta 0: the policy flies
    assert ep.expert_label.shape == (t, 4) and not ep.expert_executed.any()
    assert ep.images.shape == (t, *HW, 3) and ep.images.dtype == np.uint8
    assert ep.policy_state.shape == (t, policy.state_size)
    assert np.abs(ep.policy_state[-1]).sum() > 0  # the state is carried, not reset
    np.testing.assert_allclose(ep.dt, env.unwrapped.dt)
    # the same seed again: the same episode (the policy's state was reset)
    again = fly(policy, env, 4, FlyOptions(beta=0.0), expert)
    np.testing.assert_array_equal(again.action, ep.action)
    # beta 1: the expert flies, the policy is still stepped and its commands recorded
    mixed = fly(policy, env, 4, FlyOptions(beta=1.0), expert)
    np.testing.assert_array_equal(mixed.action, mixed.expert_label)
    assert mixed.expert_executed.all() and np.isfinite(mixed.policy_action).all()
    half = fly(policy, env, 4, FlyOptions(beta=0.5), expert)
    assert 0 < half.expert_executed.sum() < half.steps


def test_dropped_frames_hold_the_command_and_lengthen_dt(env):
    policy = tiny_policy()
    ep = fly(policy, env, 5, FlyOptions(timing=FrameTiming(drop=0.5)))
    used = ep.frame_used
    assert used[0] and 0 < (~used).sum() < len(used) - 1
    dt = env.unwrapped.dt
    last_used = np.flatnonzero(used)[-1]
    assert ep.dt[used].sum() == pytest.approx((last_used + 1) * dt)  # elapsed time, all accounted for
    assert (ep.dt[~used] == 0).all() and ep.dt[used].max() >= 2 * dt - 1e-9
    for i in np.flatnonzero(~used):
        np.testing.assert_array_equal(ep.policy_action[i], ep.policy_action[i - 1])
    jittered = fly(policy, env, 5, FlyOptions(timing=FrameTiming(jitter=0.3)))
    assert not np.allclose(jittered.dt, dt) and np.all(np.abs(jittered.dt / dt - 1) <= 0.3 + 1e-9)


def test_perturbed_frames_are_what_the_policy_sees(env):
    policy = tiny_policy()
    clean = fly(policy, env, 6, FlyOptions(record_images=True))
    bright = fly(policy, env, 6, FlyOptions(record_images=True, perturb=ImagePerturbation(brightness=0.3)))
    assert bright.images[0].mean() > clean.images[0].mean() + 40


def test_results_do_not_depend_on_the_number_of_workers(env_factory, checkpoint):
    seeds = [11, 12]
    options = FlyOptions(perturb=ImagePerturbation(noise=0.05))
    one = run(CheckpointPolicy(str(checkpoint)), env_factory, seeds, workers=1, options=options)
    two = run(CheckpointPolicy(str(checkpoint)), env_factory, seeds, workers=2, options=options)
    assert [e.seed for e in two] == seeds
    for a, b in zip(one, two):
        assert a.outcome == b.outcome
        np.testing.assert_array_equal(a.action, b.action)
        np.testing.assert_array_equal(a.pos_world, b.pos_world)


def test_image_perturbations():
    rng = np.random.default_rng(0)
    image = np.random.default_rng(1).integers(40, 200, (36, 64, 3)).astype(np.uint8)
    assert ImagePerturbation()(image, rng) is image
    grey = ImagePerturbation(saturation=0.0)(image, rng).astype(int)
    assert np.abs(grey[..., 0] - grey[..., 1]).max() <= 1 and np.abs(grey[..., 1] - grey[..., 2]).max() <= 1
    flat = ImagePerturbation(contrast=0.0)(image, rng)
    assert flat.std() < 1.0
    blurred = ImagePerturbation(blur=2.0)(image, rng)
    assert blurred.std() < 0.5 * image.std()
    noisy = ImagePerturbation(noise=0.1)(image, rng).astype(float)
    assert 15 < (noisy - image).std() < 35  # 0.1 of 255
    assert ImagePerturbation(brightness=0.2, noise=0.05).describe() == "brightness=0.2,noise=0.05"
    with pytest.raises(ValueError, match="unknown keys gamma"):
        ImagePerturbation.from_config({"gamma": 2})
    with pytest.raises(ValueError, match="drop must be in"):
        FrameTiming.from_config({"drop": 1.5})


def test_bundles_spread_few_scene_groups_over_the_workers():
    from navlnn.rollout.jobs import GROUPS_PER_SLOT, bundle_size

    assert bundle_size(24, 2, 4) == 4  # 6 hand-outs for 2 workers, not 16 + 8
    assert bundle_size(80, 2, 4) == 10
    assert bundle_size(1000, 2, 4) == 4 * GROUPS_PER_SLOT  # many groups: the largest hand-out
    assert bundle_size(3, 2, 4) == 4  # never below the batch: the slots stay filled
    assert bundle_size(50, 1, 4) == 4 and bundle_size(50, 1, 0) == 1
