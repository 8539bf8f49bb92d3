"""navlnn eval flies a scene of one's own from a config folder on hydra.searchpath, and keeps the
benchmark scenes' names for the packaged scenes."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from envs.config import CONF_DIR

FAST = ["episodes=1", "workers=1", "progress=false", "logger.mode=disabled", "eval.plot_episodes=1",
        "eval.bootstrap_resamples=200", "eval.reference_expert=false", "task=fly_to_target", "task.time_limit_s=1"]


def navlnn(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def my_conf(folder: Path, **scenes: dict) -> Path:
    """A config folder of one's own holding ``scene/<name>.yaml`` for each scene given."""
    (folder / "scene").mkdir(parents=True, exist_ok=True)
    for name, cfg in scenes.items():
        (folder / "scene" / f"{name}.yaml").write_text(yaml.safe_dump(cfg))
    return folder


def desert(name: str = "desert") -> dict:
    """A copy of the packaged fall scene, recoloured, with a name of its own."""
    cfg = yaml.safe_load((CONF_DIR / "scene" / "fall.yaml").read_text())
    cfg["name"] = name
    cfg["ground"]["colors"] = [[222, 196, 140], [206, 178, 122], [232, 210, 160]]
    return cfg


def scenes_flown(run_dir: Path) -> list[str]:
    return [row["scene"] for row in json.loads((run_dir / "summary.json").read_text())]


@pytest.mark.e2e
def test_eval_flies_a_scene_of_ones_own_from_the_search_path(checkpoint, tmp_path):
    conf = my_conf(tmp_path / "my_conf", desert=desert())
    one = navlnn("eval", f"checkpoint={checkpoint}", "scene=desert", "hydra.searchpath=[file://my_conf]", *FAST,
                 f"hydra.run.dir={tmp_path / 'one'}", cwd=tmp_path)
    assert one.returncode == 0, one.stderr[-3000:]
    assert scenes_flown(tmp_path / "one") == ["desert"]
    assert "| desert |" in (tmp_path / "one" / "summary.md").read_text()
    many = navlnn("eval", f"checkpoint={checkpoint}", "scenes=[summer,desert+fog]", f"hydra.searchpath=[file://{conf}]",
                  *FAST, f"hydra.run.dir={tmp_path / 'many'}", cwd=tmp_path)
    assert many.returncode == 0, many.stderr[-3000:]
    assert scenes_flown(tmp_path / "many") == ["summer", "desert+fog"]
    with open(tmp_path / "many" / "episodes.csv") as f:
        assert [r["scene"] for r in csv.DictReader(f)] == ["summer", "desert+fog"]


@pytest.mark.e2e
@pytest.mark.parametrize("scene_args,conf_scenes,message", [
    (["scene=fall"], {"fall": desert("fall")},
     "fall.yaml: 'fall' is a benchmark scene, which stays as packaged"),
    (["scenes=[summer,fall]"], {"fall": desert("fall")},
     "fall.yaml: 'fall' is a benchmark scene, which stays as packaged"),
    (["scene=desert"], {"desert": desert("fall")},  # a renamed copy of fall.yaml, its name: left as it was
     "desert.yaml: says name: fall, but a scene of your own is named after its file; set name: desert"),
    (["scenes=[summer,dune]"], {"desert": desert()},
     "unknown scene 'dune'. Valid scenes: summer, fall, winter, spring, urban; of your own (scene/*.yaml on "
     "hydra.searchpath): desert;"),
    (["scene=desert", "scene.sky.zenith=red"], {"desert": desert()},
     "scene 'desert': sky.zenith must be an RGB colour [r, g, b] with values in [0, 255], got 'red'"),
])
def test_a_benchmark_name_or_a_bad_scene_of_ones_own_stops_with_one_message(scene_args, conf_scenes, message,
                                                                              checkpoint, tmp_path):
    my_conf(tmp_path / "my_conf", **conf_scenes)
    result = navlnn("eval", f"checkpoint={checkpoint}", *scene_args, "hydra.searchpath=[file://my_conf]", *FAST,
                    f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert result.returncode == 1
    assert "navlnn eval: " in result.stderr and message in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 2, result.stderr
    assert not (tmp_path / "run" / "summary.json").exists()


def test_an_unchanged_copy_of_a_benchmark_scene_on_the_search_path_is_that_scene(tmp_path):
    from envs.config import load
    from navlnn.commands.own_scenes import own_config_folders, refuse_shadowing

    folders = own_config_folders([{"provider": "hydra.searchpath in command-line", "schema": "file",
                                   "path": str(my_conf(tmp_path / "my_conf", fall=load("scene", "fall")))},
                                  {"provider": "main", "schema": "pkg", "path": "envs.conf"}])
    assert folders == [tmp_path / "my_conf"]
    refuse_shadowing("fall", folders)  # no error: the same scene
    my_conf(tmp_path / "my_conf", fall=desert("fall"))
    with pytest.raises(ValueError, match="'fall' is a benchmark scene"):
        refuse_shadowing("fall", folders)


def test_a_scene_given_as_a_path_is_labelled_by_its_name(tmp_path):
    from navlnn.evaluation.plan import scene_label

    path = my_conf(tmp_path, desert=desert()) / "scene" / "desert.yaml"
    assert scene_label(str(path)) == "desert" and scene_label(path) == "desert"
    assert scene_label("fall") == "fall" and scene_label({"name": "fall", "label": "red fall"}) == "red fall"
