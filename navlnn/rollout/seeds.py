"""The seed scheme: how every episode's seed and random numbers are derived.

* Collection episode ``i`` of a dataset with ``seed`` draws everything from
  ``default_rng([seed, i])``, its env seed first: ``integers(2^SEED_BITS)``, so below ``2^31``.
* Evaluation episode ``i`` of an evaluation with ``seed`` flies env seed
  ``2^31 + default_rng([seed, i]).integers(2^31)`` (:func:`eval_seeds`): never a layout or start
  a policy was trained on, and the same seeds for every checkpoint and scene (paired comparisons).
* Inside a flight, the env is seeded by the episode's seed alone; the actor's own random numbers
  (image noise, dropped frames, the expert's share of control) come from
  ``default_rng([seed, RUNNER_STREAM])`` and the attention probe's from
  ``default_rng([seed, ATTENTION_STREAM])``, so that none of them shifts another.
"""

from __future__ import annotations

import numpy as np

SEED_BITS = 31  # collection env seeds are below 2**SEED_BITS; evaluation seeds at or above it
EVAL_SEED_OFFSET = 2**SEED_BITS
RUNNER_STREAM = 1  # spawn key of a flight's actor random numbers (apart from the env's own)
ATTENTION_STREAM = 2  # spawn key of the random numbers of the attention probe's own perturbation
EVAL_SEED_SCHEME = "2^31 + default_rng([seed, i]).integers(2^31)"  # as eval.json states it


def collection_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of collection episode ``index``: its env seed is the first draw (:func:`collection_env_seed`)."""
    return np.random.default_rng([int(seed), int(index)])


def collection_env_seed(rng: np.random.Generator) -> int:
    """The env seed of a collection episode: the first draw of its generator, below ``2^SEED_BITS``."""
    return int(rng.integers(2**SEED_BITS))


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of an evaluation: all ``>= 2^31``, disjoint from collection seeds."""
    return [EVAL_SEED_OFFSET + int(np.random.default_rng([int(seed), i]).integers(2**SEED_BITS))
            for i in range(int(episodes))]


def runner_rng(seed: int) -> np.random.Generator:
    """The actor's random numbers of the flight from ``seed``."""
    return np.random.default_rng([int(seed), RUNNER_STREAM])


def attention_rng(seed: int) -> np.random.Generator:
    """The attention probe's random numbers of the flight from ``seed``."""
    return np.random.default_rng([int(seed), ATTENTION_STREAM])
