"""Seeds by role in the loop: the augmentation seed alone drives the batch order and the draws."""

from __future__ import annotations

import pytest
import torch

from navlnn.commands.train import split_episodes
from navlnn.policies.checkpoint import read_checkpoint
from navlnn.training.loop import ROLE_SEEDS, TrainConfig, _batches, build_augment, fit

from synthetic_windows import Windows, small_policy

AUGMENT = {"brightness": 0.2, "contrast": 0.2, "saturation": 0.2, "noise_std": 3.0}


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(**{"epochs": 2, "batch_size": 4, "lr": 5e-3, "warmup_steps": 2, "seed": 1,
                          "augment": AUGMENT, **kw})


def _weights(result) -> dict[str, torch.Tensor]:
    return read_checkpoint(result.last)["state_dict"]


def test_role_seeds_default_to_the_run_seed_and_take_their_own():
    assert ROLE_SEEDS == ("split_seed", "init_seed", "augment_seed")
    assert TrainConfig(seed=4).role_seeds() == {"split_seed": 4, "init_seed": 4, "augment_seed": 4}
    assert TrainConfig(seed=4, split_seed=0, augment_seed=9).role_seeds() == \
        {"split_seed": 0, "init_seed": 4, "augment_seed": 9}


@pytest.mark.parametrize("key,value", [("augment_seed", -1), ("split_seed", "one"), ("init_seed", True),
                                       ("seed", -3)])
def test_a_bad_role_seed_gives_one_clear_message(key, value, tmp_path):
    with pytest.raises(ValueError, match=f"train.{key}: must be a non-negative integer"):
        TrainConfig(**{key: value}).role_seeds()
    with pytest.raises(ValueError, match=f"train.{key}"):
        fit(small_policy(), Windows(8), Windows(4, seed=1), _cfg(**{key: value}), tmp_path, progress=False)


def test_the_augmentation_seed_sets_the_batch_order_and_the_noise_bank():
    assert build_augment(_cfg(augment_seed=7)).noise_seed == 7
    assert build_augment(_cfg()).noise_seed == 1  # the run's seed
    assert _batches(32, 4, 7, 0) != _batches(32, 4, 1, 0)


def test_fit_depends_on_the_seed_only_through_the_augmentation_seed(tmp_path):
    runs = {}
    for name, kw in {"base": {}, "other_seed": {"seed": 5, "augment_seed": 1},
                     "other_augment": {"augment_seed": 5}, "other_split_init": {"split_seed": 8, "init_seed": 8}}.items():
        runs[name] = _weights(fit(small_policy(seed=0), Windows(16), Windows(4, seed=1), _cfg(**kw), tmp_path / name,
                                  progress=False))
    base = runs["base"]
    for same in ("other_seed", "other_split_init"):  # fit itself neither splits nor initialises
        assert all(torch.equal(base[k], runs[same][k]) for k in base), same
    assert not all(torch.equal(base[k], runs["other_augment"][k]) for k in base)


def test_a_run_is_not_resumed_with_other_seeds(tmp_path):
    fit(small_policy(), Windows(8), Windows(4, seed=1), _cfg(), tmp_path, progress=False, stop_after_epochs=1)
    assert read_checkpoint(tmp_path / "last.pt")["seeds"] == {"split_seed": 1, "init_seed": 1, "augment_seed": 1}
    with pytest.raises(ValueError, match="augment_seed=1 there, 2 here.*another folder"):
        fit(small_policy(), Windows(8), Windows(4, seed=1), _cfg(augment_seed=2), tmp_path, progress=False)
    resumed = fit(small_policy(), Windows(8), Windows(4, seed=1), _cfg(), tmp_path, progress=False)
    assert len(resumed.history) == 2


def test_the_split_depends_on_its_seed_only():
    episodes = list(range(20))
    train, val = split_episodes(episodes, 0.1, 3)
    assert split_episodes(episodes, 0.1, 3) == (train, val) and len(val) == 2
    assert sorted(train + val) == episodes
    assert {tuple(split_episodes(episodes, 0.1, s)[1]) for s in range(6)} != {tuple(val)}
