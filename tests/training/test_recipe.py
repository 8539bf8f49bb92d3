"""Recipes (conf/recipe/): one file sets the data, training and DAgger levers; the pipeline passes them on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from navlnn.commands.pipeline import final_checkpoint, stage_commands
from navlnn.training.augment import ImageAugment
from navlnn.training.loop import TrainConfig
from navlnn.training.recipe import RecipeError, data_tag, flatten, load_recipe, stage_overrides

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
RECIPES = sorted(p.stem for p in (CONF / "recipe").glob("*.yaml"))


def _compose(name: str, overrides: list[str]):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name=name, overrides=overrides)


def test_flatten_writes_hydra_overrides():
    assert flatten("train", {"seq_len": 64, "augment": {"hue_deg": 30.0, "erase_area": [0.1, 0.2]},
                             "patience": None, "standardize_actions": True}) == [
        "train.seq_len=64", "train.augment.hue_deg=30.0", "train.augment.erase_area=[0.1,0.2]",
        "train.patience=null", "train.standardize_actions=true"]


@pytest.mark.parametrize("name", RECIPES)
def test_every_recipe_composes_into_valid_commands(name):
    recipe = load_recipe(name)
    train = _compose("train", ["data=x", *stage_overrides(recipe, "train")])
    TrainConfig(**{k: v for k, v in OmegaConf.to_container(train.train).items() if k in TrainConfig.__dataclass_fields__})
    ImageAugment(**train.train.augment)  # every augmentation setting is accepted
    _compose("dagger", ["data=x", *stage_overrides(recipe, "dagger")])
    collect = _compose("collect", stage_overrides(recipe, "collect"))
    assert collect.scene.name == "summer" and list(collect.modifiers) == []  # summer images only


def test_baseline_is_today(tmp_path):
    recipe = load_recipe("baseline")
    assert stage_overrides(recipe, "collect") == [] and stage_overrides(recipe, "train") == ["train=default"]
    assert data_tag(recipe) == "default"
    cfg = _compose("pipeline", ["recipe=baseline"])
    cmds = stage_commands(cfg, tmp_path)
    assert cmds["train"][0] == "train" and "train.epochs=8" in cmds["train"] and "episodes=60" in cmds["collect"]
    assert final_checkpoint(cfg, tmp_path) == tmp_path / "train" / "checkpoints" / "best.pt"


def test_the_demo_flies_the_recipe_chosen_on_summer_validation(tmp_path):
    choice = json.loads((ROOT / "experiments" / "ood_recipe" / "results-round4" / "choice.json").read_text())
    assert choice["study"]["head"] == "ncp_cfc" and _compose("pipeline", []).model.name == "ncp_cfc"
    cfg = _compose("pipeline", [])
    chosen = load_recipe(choice["study"]["recipe"])
    assert OmegaConf.to_container(cfg.recipe, resolve=True) == chosen  # make demo follows the committed choice
    cmds = stage_commands(cfg, tmp_path)
    assert cmds["train"][0] == "train" and "episodes=300" in cmds["collect"]
    assert final_checkpoint(cfg, tmp_path).name == choice["study"]["checkpoint"]


def test_a_recipe_with_a_key_the_model_lacks_is_refused_before_any_stage(tmp_path):
    cfg = _compose("pipeline", ["recipe=data_photometric_erasing_norm"])
    assert "model.head.input_norm=true" in stage_commands(cfg, tmp_path)["train"]  # ncp_cfc has the key
    with pytest.raises(ValueError, match="sets model.head.input_norm, which model 'gru_ode' does not have"):
        stage_commands(_compose("pipeline", ["recipe=data_photometric_erasing_norm", "model=gru_ode"]), tmp_path)
    assert not any(tmp_path.iterdir())  # nothing ran


def test_robust_pipeline_runs_dagger_with_every_lever(tmp_path):
    cfg = _compose("pipeline", ["recipe=robust"])
    cmds = stage_commands(cfg, tmp_path)
    assert "episodes=300" in cmds["collect"] and "start.fraction=0.5" in cmds["collect"]
    assert cmds["train"][0] == "dagger" and "rounds=2" in cmds["train"] and "train.epochs=40" in cmds["train"]
    assert "train.augment.hue_deg=30.0" in cmds["train"] and "model.trunk.dropout=0.1" in cmds["train"]
    assert final_checkpoint(cfg, tmp_path) == tmp_path / "train" / "round2" / "checkpoints" / "best.pt"
    assert f"checkpoint={tmp_path / 'train' / 'round2' / 'checkpoints' / 'best.pt'}" in cmds["eval"]
    mine = stage_commands(_compose("pipeline", ["recipe=robust", "episodes=20", "epochs=2"]), tmp_path)
    assert "episodes=20" in mine["collect"] and mine["collect"].index("episodes=20") > mine["collect"].index(
        "episodes=300")  # the user's value comes last and wins
    assert "train.epochs=2" in mine["train"]


def test_train_preset_robust_agrees_with_the_robust_recipe():
    preset = OmegaConf.to_container(_compose("train", ["data=x", "train=robust"]).train)
    from_recipe = OmegaConf.to_container(_compose("train", ["data=x", *stage_overrides(load_recipe("robust"),
                                                                                         "train")]).train)
    assert preset == from_recipe


def test_recipes_that_are_not_summer_only_are_refused():
    with pytest.raises(RecipeError, match=r"recipe.collect: \['modifiers', 'scene'\]"):
        stage_overrides({"collect": {"scene": "fall", "modifiers": ["fog"]}}, "collect")
    with pytest.raises(RecipeError, match="unknown section"):
        stage_overrides({"trian": {}}, "train")
    with pytest.raises(RecipeError, match="recipe 'nope'"):
        load_recipe("nope")
    assert data_tag(load_recipe("data")) == data_tag(load_recipe("robust")) != "default"
