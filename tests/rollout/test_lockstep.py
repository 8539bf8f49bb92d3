"""Several envs stepped together, one batched policy call per step: the same flights as one by one."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tiny import tiny_policy

from navlnn.rollout.actors import PolicyActor, Query
from navlnn.rollout.jobs import CheckpointPolicy, ExpertFactory, FlyOptions, Job, run_jobs
from navlnn.rollout.loop import call_policy
from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation


def test_a_batched_policy_call_gives_each_actor_its_batch_of_one_command():
    policy = tiny_policy()
    rng = np.random.default_rng(0)
    actors = [PolicyActor(policy, rng) for _ in range(3)]
    frames = [rng.integers(0, 255, (36, 64, 3), dtype=np.uint8) for _ in range(3)]
    single = []
    for step in range(3):  # carried states: None at first, then each actor's own
        queries = [Query(f, 0.05 * (i + 1)) for i, f in enumerate(frames)]
        saved = [a.state for a in actors]
        batched = call_policy(policy, list(zip(actors, queries)))
        batched_states = [a.state.clone() for a in actors]
        for actor, state, query, command, new in zip(actors, saved, queries, batched, batched_states):
            actor.state = state
            (alone,) = call_policy(policy, [(actor, query)])
            np.testing.assert_allclose(command, alone, atol=1e-5)
            torch.testing.assert_close(actor.state, new, atol=1e-5, rtol=0)
            single.append(alone)
        frames = frames[1:] + frames[:1]
    assert len({tuple(np.round(c, 6)) for c in single}) > 1  # the commands differ: the check can fail


@pytest.fixture(scope="module")
def jobs(env_factory, checkpoint):
    """An expert reference and a stressed policy (dropped frames: not every env asks each step) on 4 seeds."""
    policy = CheckpointPolicy(str(checkpoint))
    stress = FlyOptions(perturb=ImagePerturbation(noise=0.05), timing=FrameTiming(drop=0.3, jitter=0.2))
    out = []
    for seed in (31, 32, 33, 34):
        out.append(Job(None, env_factory, seed, FlyOptions(expert=ExpertFactory.of()), (("kind", "expert"),)))
        out.append(Job(policy, env_factory, seed, stress, (("kind", "policy"),)))
    return out


@pytest.fixture(scope="module")
def one_by_one(jobs):
    return run_jobs(jobs, workers=1, batch=1)


@pytest.mark.parametrize("workers,batch", [(1, 3), (1, 2), (2, 2)])
def test_flights_are_the_same_for_any_batch_and_workers(jobs, one_by_one, workers, batch, _seen={}):
    flights = run_jobs(jobs, workers=workers, batch=batch)
    assert [f.tags for f in flights] == [dict(j.tags) for j in jobs]
    for a, b in zip(one_by_one, flights):
        assert (a.seed, a.outcome, a.steps) == (b.seed, b.outcome, b.steps)
        np.testing.assert_array_equal(a.frame_used, b.frame_used)
        np.testing.assert_allclose(a.policy_action, b.policy_action, atol=1e-5)
        np.testing.assert_allclose(a.pos_world, b.pos_world, atol=1e-5)
    if batch in _seen:  # one batch size, any workers: bit for bit (policy calls padded to the batch size)
        for a, b in zip(_seen[batch], flights):
            np.testing.assert_array_equal(a.policy_action, b.policy_action)
            np.testing.assert_array_equal(a.pos_world, b.pos_world)
    _seen[batch] = flights
