"""The spec checks: unknown keys, names, seeds, stages, and the packaged ood_seasons spec."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _specs import CONF, HEADS, RECIPES, tiny  # noqa: E402

from navlnn.study import SpecError, check_recipes, check_spec  # noqa: E402
from navlnn.training.recipe import load_recipe  # noqa: E402


def check(raw: dict):
    return check_spec(raw, recipes=RECIPES, heads=HEADS)


def test_a_valid_spec_loads_with_its_values():
    spec = check(tiny())
    assert spec.arms == ["baseline", "photometric"] and spec.heads == ["ncp_cfc", "cnn"]
    assert spec.validation.seeds == [1] and spec.test.layouts == 2 and spec.test.scenes == ["summer", "winter"]
    assert spec.overrides["train"][0] == "model.trunk.channels=[8,8,8,8,8]"


def test_an_unknown_top_level_key_is_refused_with_the_valid_keys():
    with pytest.raises(SpecError, match=r"unknown key 'epochs'; valid keys of a spec: name, .*arms"):
        check(tiny(epochs=3))


def test_an_unknown_nested_key_names_its_section_and_the_valid_keys():
    raw = tiny()
    raw["training"]["epoch"] = 3
    with pytest.raises(SpecError, match=r"unknown key 'training.epoch'; valid keys of training: epochs, stride"):
        check(raw)


def test_validation_and_test_seeds_must_be_disjoint():
    raw = tiny()
    raw["validation"]["seeds"] = [0, 7]
    with pytest.raises(SpecError, match=r"validation.seeds and test.seeds share \[0\]"):
        check(raw)


@pytest.mark.parametrize("key, value, message", [
    ("arms", ["baseline", "no_such_recipe"], r"'arms': unknown recipe\(s\) \['no_such_recipe'\]; valid: .*baseline"),
    ("heads", ["ncp_cfc", "transformer"], r"'heads': unknown head\(s\) \['transformer'\]; valid: .*ncp_cfc"),
    ("stages", ["collect", "video"], r"'stages': unknown stage\(s\) \['video'\]"),
    ("stages", ["train", "collect"], r"'stages' must keep the order"),
    ("seeds", [0, 0], r"'seeds' lists a seed twice"),
    ("heads", [], r"'heads' is empty"),
])
def test_bad_names_and_lists_are_refused_naming_the_key(key, value, message):
    with pytest.raises(SpecError, match=message):
        check(tiny(**{key: value}))


def test_a_missing_key_and_a_bad_choice_are_named():
    raw = tiny()
    del raw["test"]["layouts"]
    with pytest.raises(SpecError, match=r"'test.layouts' is missing"):
        check(raw)
    with pytest.raises(SpecError, match=r"'selection.per': unknown value 'arm'; valid: study, head"):
        check(tiny(selection={"per": "arm", "metric": "success"}))
    with pytest.raises(SpecError, match=r"'analysis.reference': 'lstm' is not one of the heads"):
        check(tiny(analysis={"reference": "lstm"}))


def test_a_recipe_with_dagger_rounds_is_refused():
    spec = check(tiny(arms=["baseline", "dagger"]))
    with pytest.raises(SpecError, match=r"recipe 'dagger' has DAgger rounds"):
        check_recipes(spec, {"baseline": load_recipe("baseline"), "dagger": load_recipe("dagger")})


def test_the_packaged_ood_seasons_spec_is_valid_and_matches_the_study():
    raw = yaml.safe_load((CONF / "study" / "ood_seasons.yaml").read_text())
    spec = check(raw)
    assert spec.arms == ["data_photometric_erasing_norm"]
    assert spec.heads == ["ncp_cfc", "ncp_ltc", "cfc", "lstm", "gru", "cnn"]
    assert spec.seeds == [0, 1, 2, 3, 4]
    assert len(spec.test.scenes) == 8 and spec.test.layouts == 17 and spec.test.seeds == [0]
    assert spec.epochs == 8 and spec.stride == 16 and spec.checkpoints == ["best"]
