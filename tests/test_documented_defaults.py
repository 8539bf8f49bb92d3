"""The defaults the README states for the main job (`make demo`) are the ones the code runs: the
number of demonstrations, the model, the recipe, the scenes flown, the evaluation episodes and
the output folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SCENE_WORDS = {"summer": "summer", "fall": "fall", "winter": "winter", "the city": "urban", "urban": "urban"}


@pytest.fixture(scope="module")
def pipeline():
    with initialize_config_dir(config_dir=str(ROOT / "conf"), version_base="1.3"):
        cfg = compose(config_name="pipeline", return_hydra_config=True)
    return cfg


def _stated(pattern: str) -> re.Match:
    found = re.search(pattern, README)
    assert found, f"the README no longer states {pattern!r}; update this test with the README"
    return found


def _scenes(text: str) -> list[str]:
    return [SCENE_WORDS[word.strip()] for word in re.split(r",\s*|\s+and\s+", text)]


def test_the_demos_demonstrations_model_and_recipe(pipeline):
    stated = _stated(r"`make demo` collects (\d+) expert demonstrations in the (\w+) forest and trains an "
                     r"`(\w+)` policy with the recipe [^(]*\(`(\w+)`")
    assert int(stated[1]) == pipeline.episodes
    assert stated[2] == pipeline.scene.name
    assert stated[3] == pipeline.model.name
    assert stated[4] == pipeline.hydra.runtime.choices.recipe


def test_the_demos_scenes_and_evaluation_episodes(pipeline):
    flown = _stated(r"flies it in closed loop in ([a-z, ]+?), writes a video")
    assert _scenes(flown[1]) == list(pipeline.eval.scenes)
    table_row = _stated(r"evaluate it in closed loop in ([a-z, ]+?), write the video")
    assert _scenes(table_row[1]) == list(pipeline.eval.scenes)
    episodes = _stated(r"reached the target in \d+ of (\d+) evaluation episodes")
    assert int(episodes[1]) == pipeline.eval.episodes


def test_the_demos_output_folder():
    makefile = (ROOT / "Makefile").read_text()
    demo = re.search(r"^demo:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert demo, "the Makefile has no demo target"
    folder = re.search(r"hydra\.run\.dir=(\S+)", demo[1])[1]
    stated = re.findall(r"`(outputs/[^`]+)`", README.split("## Results")[0])
    assert stated, "the README names no output of make demo"
    assert all(path == folder or path.startswith(folder + "/") for path in stated), (folder, stated)
    eval_outputs = [p for p in stated if p.startswith(f"{folder}/eval/")]
    assert {Path(p).name for p in eval_outputs} >= {"summary.md", "success.png"}
