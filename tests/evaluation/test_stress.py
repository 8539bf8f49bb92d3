"""The camera-roll stress option: its arithmetic, and that navlnn eval's stress settings turn the
frames the policy sees (and only those)."""

from __future__ import annotations

import numpy as np
import pytest
from _tiny import CONF, tiny_policy
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from navlnn.evaluation.plan import plan
from navlnn.rollout.jobs import FlyOptions, fly
from navlnn.rollout.perturbations import ImagePerturbation, roll

IMAGE = np.random.default_rng(1).integers(0, 256, (36, 64, 3)).astype(np.uint8)


def test_roll_zero_is_the_identity_and_off():
    rng = np.random.default_rng(0)
    assert not ImagePerturbation(roll_deg=0.0).active
    assert ImagePerturbation(roll_deg=0.0)(IMAGE, rng) is IMAGE
    np.testing.assert_array_equal(roll(IMAGE, 0.0), IMAGE)
    assert ImagePerturbation.from_config({"roll_deg": 0}) == ImagePerturbation()


def test_roll_180_twice_is_the_identity():
    rng = np.random.default_rng(0)
    half = ImagePerturbation(roll_deg=180.0)
    once = half(IMAGE, rng)
    np.testing.assert_array_equal(once, IMAGE[::-1, ::-1])  # upside down, pixel for pixel
    twice = half(once, rng).astype(int)
    assert np.abs(twice - IMAGE).max() <= 1  # to rounding (exact here)
    assert ImagePerturbation(roll_deg=-30.0).describe() == "roll_deg=-30"


def test_roll_turns_counter_clockwise_about_the_centre():
    square = IMAGE[:, :36]
    np.testing.assert_array_equal(roll(square, 90.0), np.rot90(square))
    # a small roll moves pixels away from the centre but keeps the centre's neighbourhood
    tilted = roll(IMAGE, 20.0).astype(int)
    assert tilted.shape == IMAGE.shape and np.abs(tilted - IMAGE).mean() > 10
    mark = np.zeros((37, 65, 3), np.uint8)
    mark[18, 32] = 255  # the centre pixel stays put
    assert roll(mark, 37.0)[18, 32, 0] > 100


def test_roll_from_evals_stress_settings_reaches_the_policys_frames(env, checkpoint):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("eval", overrides=[f"checkpoint={checkpoint}", "eval.stress.image.roll_deg=180"])
    config = OmegaConf.to_container(cfg, resolve=True)
    assert config["eval"]["stress"]["image"]["roll_deg"] == 180
    the_plan = plan(config["checkpoint"], ["summer"], ["fly_to_target"], 1, 0, config["drone"], config.get("expert"),
                    stress=config["eval"]["stress"])
    assert the_plan.perturb == ImagePerturbation(roll_deg=180.0)
    assert "roll_deg=180" in the_plan.stress
    policy = tiny_policy()
    clean = fly(policy, env, 6, FlyOptions(record_images=True))
    rolled = fly(policy, env, 6, FlyOptions(record_images=True, perturb=the_plan.perturb))
    # the first frame is the same render, turned upside down for the policy
    np.testing.assert_array_equal(rolled.images[0], clean.images[0][::-1, ::-1])
    assert not np.array_equal(rolled.images[0], clean.images[0])


def test_default_eval_config_has_roll_off():
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("eval", overrides=["checkpoint=unused.pt"])
    image = OmegaConf.to_container(cfg.eval.stress.image)
    assert image["roll_deg"] == 0.0
    assert not ImagePerturbation.from_config(image).active


@pytest.mark.parametrize("bad", [{"roll": 10}, {"roll_degrees": 10}])
def test_misnamed_roll_keys_are_named(bad):
    with pytest.raises(ValueError, match="unknown keys"):
        ImagePerturbation.from_config(bad)
