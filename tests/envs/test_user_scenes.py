"""Scenes of one's own: a mapping or a YAML path to DroneNav-v0, checked like the packaged scenes,
and never taken for a benchmark scene."""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import yaml
from gymnasium.utils.env_checker import check_env

import envs  # noqa: F401  (registers DroneNav-v0)
from envs.config import CONF_DIR, deep_update, load
from envs.scene import is_scene_file, load_scene_file, resolve_scene, scene_names

SMALL = {"camera": {"width": 48, "height": 36}}
SAND = [[222, 196, 140], [206, 178, 122], [232, 210, 160]]


def desert() -> dict:
    """The fall scene recoloured as a desert, with a name of its own."""
    cfg = yaml.safe_load((CONF_DIR / "scene" / "fall.yaml").read_text())
    cfg["name"] = "desert"
    cfg["ground"]["colors"] = SAND
    cfg["sky"] = {"zenith": [150, 180, 230], "horizon": [240, 220, 190]}
    return cfg


def write(folder: Path, cfg: dict, name: str | None = None) -> Path:
    path = folder / f"{name or cfg['name']}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def first_frame(scene, seed: int = 0) -> np.ndarray:
    env = gym.make("DroneNav-v0", scene=scene, **SMALL)
    try:
        return env.reset(seed=seed)[0]
    finally:
        env.close()


def test_a_mapping_of_ones_own_is_flown_under_its_name():
    cfg = resolve_scene(desert(), ["fog"])
    assert cfg["full_name"] == "desert+fog" and cfg["name"] == "desert"
    assert cfg["ground"]["colors"] == SAND and cfg["layout"]["kind"] == "forest"
    assert cfg["post"]["fog"]["density"] > 0  # modifiers apply to it as to any scene
    env = gym.make("DroneNav-v0", scene=desert(), **SMALL).unwrapped
    try:
        obs, _ = env.reset(seed=0)
        assert env.scene_cfg["full_name"] == "desert" and obs.shape == (36, 48, 3)
    finally:
        env.close()


def test_a_yaml_path_is_flown_as_str_and_as_pathlike(tmp_path):
    path = write(tmp_path, desert())
    assert is_scene_file(path) and is_scene_file(str(path)) and not is_scene_file("fall")
    by_path = first_frame(path)
    assert np.array_equal(by_path, first_frame(str(path)))
    assert np.array_equal(by_path, first_frame(desert()))  # the same scene as the mapping
    assert not np.array_equal(by_path, first_frame("fall"))  # same layout, another look
    assert resolve_scene(str(path), "dusk")["full_name"] == "desert+dusk"
    (tmp_path / "plain").write_text(path.read_text().replace("name: desert\n", ""))  # no suffix, no name:
    assert resolve_scene(str(tmp_path / "plain"))["name"] == "plain"


@pytest.mark.parametrize("change,message", [
    ({"skyy": {"zenith": [0, 0, 0]}}, "unknown key 'skyy' (valid: buildings, bushes, "),
    ({"sky": {"zenith": "red"}}, "sky.zenith must be an RGB colour [r, g, b] with values in [0, 255], got 'red'"),
    ({"trees": {"leaf_fraction": 1.5}}, "trees.leaf_fraction must be a number in [0, 1], got 1.5"),
    ({"ground": {"tile": 0}}, "ground.tile must be a length > 0 (m), got 0"),
    ({"light": {"shine": 1}}, "unknown key 'light.shine' (valid under light: ambient, color, "),
])
def test_a_bad_key_gives_the_same_message_as_for_a_packaged_scene(change, message, tmp_path):
    with pytest.raises(ValueError) as packaged:
        resolve_scene({"name": "fall", **change})  # the packaged scene with an override
    mine = deep_update(desert(), change)
    with pytest.raises(ValueError) as own:
        resolve_scene(mine)
    with pytest.raises(ValueError) as own_file:
        gym.make("DroneNav-v0", scene=write(tmp_path, mine), **SMALL)
    assert str(packaged.value).startswith(f"scene 'fall': {message}")
    assert str(own.value) == str(packaged.value).replace("scene 'fall'", "scene 'desert'")
    assert str(own_file.value) == f"scene file {tmp_path / 'desert.yaml'}: {own.value}"


def test_an_incomplete_scene_names_the_missing_keys():
    with pytest.raises(ValueError, match=r"scene 'dune': missing keys light.direction.*bushes, rocks \(a forest scene"):
        resolve_scene({"name": "dune", "layout": "forest", "sky": {"zenith": [1, 2, 3], "horizon": [4, 5, 6]}})
    with pytest.raises(ValueError, match=r"layout.kind must be one of forest, urban, got 'moon'"):
        resolve_scene({**desert(), "layout": {"kind": "moon"}})


def test_the_packaged_scenes_pass_the_checks_unchanged():
    for name in scene_names():
        for mods in ([], ["fog"], ["dusk", "camera_noise"]):
            cfg = resolve_scene(name, mods)
            assert cfg["full_name"] == "+".join([name, *mods])
        assert resolve_scene(load("scene", name)) == resolve_scene(name)  # as Hydra composes it


@pytest.mark.parametrize("name", ["fall", "summer"])
def test_a_file_of_ones_own_never_takes_a_benchmark_name(name, tmp_path):
    shadow = {**desert(), "name": name}
    with pytest.raises(ValueError, match=rf"'{name}' is a benchmark scene .*, which stays as packaged; give your "
                                         rf"scene a name of its own \(rename the file and its name:, e\.g\. my_{name}"):
        gym.make("DroneNav-v0", scene=write(tmp_path, shadow), **SMALL)
    # an unchanged copy of the packaged file is that benchmark scene
    (tmp_path / "copy").mkdir()
    assert resolve_scene(write(tmp_path / "copy", load("scene", name))) == resolve_scene(name)


def test_a_file_named_otherwise_inside_is_refused(tmp_path):
    path = write(tmp_path, {**desert(), "name": "fall"}, "desert")  # a renamed copy of fall.yaml
    with pytest.raises(ValueError, match=r"desert.yaml: says name: fall, .*named after its file; set name: desert"):
        load_scene_file(path)
    (tmp_path / "broken.yaml").write_text("name: [unclosed\n")
    with pytest.raises(ValueError, match="broken.yaml: not valid YAML"):
        resolve_scene(tmp_path / "broken.yaml")
    with pytest.raises(FileNotFoundError, match="nowhere.yaml: no such file"):
        resolve_scene(tmp_path / "nowhere.yaml")


def test_a_whole_scene_mapping_named_after_a_benchmark_is_refused_unless_labelled():
    shadow = {**desert(), "name": "fall"}
    with pytest.raises(ValueError, match=r"scene 'fall': a whole scene that differs from the benchmark scene 'fall' "
                                         r"\(ground, sky\) but carries its name; .*name: my_fall.*label: fall_variant"):
        resolve_scene(shadow)
    with pytest.raises(ValueError, match="the label 'winter' is a benchmark scene's name"):
        resolve_scene({**shadow, "label": "winter"})
    with pytest.raises(ValueError, match="scene 'desert': the label 'fall' is a benchmark scene's name"):
        resolve_scene({**desert(), "label": "fall"})  # nor does a scene of one's own take one as its label
    labelled = resolve_scene({**shadow, "label": "fall-sand"})
    assert labelled["label"] == "fall-sand" and labelled["ground"]["colors"] == SAND
    # overrides of a benchmark scene (a smaller layout, one colour) keep their documented meaning
    assert resolve_scene({"name": "fall", "layout": {"area_half_size": 12.0}})["full_name"] == "fall"
    assert resolve_scene({**load("scene", "fall")}) == resolve_scene("fall")  # the packaged scene, as Hydra gives it


def test_gymnasium_check_env_passes_on_a_scene_of_ones_own(tmp_path):
    env = gym.make("DroneNav-v0", scene=write(tmp_path, desert()), render_mode="rgb_array",
                   camera={"width": 48, "height": 36},
                   drone={"name": "cf2x", "chase_camera": {"width": 48, "height": 36}}).unwrapped
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            check_env(env)
    finally:
        env.close()
