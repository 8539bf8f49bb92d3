"""Every navlnn command turns expected errors into one line on stderr and exit code 1.

Expected errors: a bad config value, a missing, corrupt or foreign file, a camera or action space
that does not fit. Each case runs the real command in a subprocess, so what is checked is what a
user sees (no PyBullet banner, no Hydra hint, no traceback).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.checkpoint import save_checkpoint
from navlnn.policies.policy import build_policy

CONF = Path(__file__).resolve().parents[1] / "conf"


def _tiny_checkpoint(path: Path, hw: tuple[int, int]) -> Path:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["data=unused", "model.trunk.channels=[8,8,8,8,8]"])
    return save_checkpoint(path, build_policy(cfg.model, hw))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("files")
    wide = _tiny_checkpoint(root / "wide.pt", (40, 72))
    foreign = root / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, foreign)
    corrupt = root / "corrupt.pt"
    corrupt.write_bytes(wide.read_bytes()[:200])
    crafted = root / "crafted.pt"
    payload = torch.load(wide, weights_only=True)
    payload["model"]["head"] = {"_target_": "builtins.open", "_args_": [str(root / "written.txt"), "w"]}
    torch.save(payload, crafted)
    a_file = root / "a_file"
    a_file.write_text("not a folder")
    (root / "empty").mkdir()
    return {"wide": wide, "foreign": foreign, "corrupt": corrupt, "crafted": crafted, "file": a_file,
            "empty": root / "empty", "missing": root / "missing", "root": root}


CASES = [
    # command, overrides ({name} is a path from `files`), what the one line says
    ("collect", ["scene=desert"], "Could not find 'scene/desert'; Available options in 'scene': fall, spring"),
    ("collect", ["episodes=0"], "episodes must be at least 1, got 0"),
    ("collect", ["data={file}", "episodes=1"], "is a file, not a dataset folder"),
    ("train", [], "Missing mandatory value: data"),
    ("train", ["data={missing}"], "does not exist; make one with `navlnn collect"),
    ("train", ["data={empty}"], "it is not a navlnn dataset"),
    ("train", ["data={empty}", "model=transformer"], "Could not find 'model/transformer'"),
    ("train", ["data={empty}", "epochs=3"], "Could not override 'epochs'. To append to your config use +epochs=3"),
    ("dagger", ["data={missing}"], "does not exist; make one with `navlnn collect"),
    ("show-data", ["data={missing}"], "does not exist"),
    ("export", ["checkpoint={missing}"], "no such file; pass checkpoint="),
    ("export", ["checkpoint={foreign}"], "format None, expected 'navlnn-policy-v1'"),
    ("export", ["checkpoint={crafted}"], "refused, model.head._target_: unknown head 'builtins.open'"),
    ("export", ["checkpoint={wide}", "format=tflite"], "format: unknown 'tflite'"),
    ("eval", ["checkpoint={corrupt}"], "not a readable navlnn checkpoint"),
    ("eval", ["checkpoint={wide}", "match_camera=false"], "trained for a 72x40 camera, the env gives 128x72"),
    ("eval", ["checkpoint={wide}", "scenes=[summer,mars]"], "unknown scene 'mars'"),
    ("eval", ["checkpoint={crafted}"], "refused"),
    ("video", ["checkpoint={foreign}"], "format None"),
    ("video", ["checkpoint={wide}", "episodes=0"], "episodes must be at least 1, got 0"),
    ("scenes", ["scenes=[desert]"], "unknown scene 'desert'"),
    ("wiring", ["wiring.inter=0"], "inter must be an integer >= 1, got 0"),
    ("pipeline", ["scene=desert"], "Could not find 'scene/desert'"),
    ("eval-merge", ["shards={missing}"], "shards: no folder"),
    ("eval-merge", ["shards={empty}"], "no eval.json in the folders given"),
]


def _navlnn(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "HYDRA_FULL_ERROR": "0", **env})


@pytest.mark.parametrize("command,overrides,message", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_bad_input_ends_with_one_line(files, tmp_path, command, overrides, message):
    args = [command, *(o.format(**files) for o in overrides), f"hydra.run.dir={tmp_path / 'run'}", "progress=false"]
    if command in ("wiring", "scenes", "export", "show-data", "pipeline", "video", "eval-merge"):
        args.remove("progress=false")  # these configs have no progress key
    result = _navlnn(args, tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"navlnn {command}: ") and message in lines[0], lines[0]
    assert not (files["root"] / "written.txt").exists()


def test_full_error_shows_the_traceback(files, tmp_path):
    result = _navlnn(["export", f"checkpoint={files['missing']}", f"hydra.run.dir={tmp_path}"], tmp_path,
                     HYDRA_FULL_ERROR="1")
    assert result.returncode == 1 and "Traceback" in result.stderr and "no such file" in result.stderr


def test_a_pipeline_stage_failure_is_one_line_naming_the_stage(tmp_path):
    result = _navlnn(["pipeline", "episodes=0", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 1 and len(lines) == 1, result.stderr
    assert "stage 'collect' failed (exit 1): navlnn collect: episodes must be at least 1" in lines[0]
    assert "navlnn collect: episodes must be at least 1" in result.stdout  # the stage's own output, shown as it ran


def test_expected_and_genuine_errors_are_told_apart():
    from navlnn.cli import expected_error

    from navlnn.policies.registry import check_model_config

    def raise_in_project():
        check_model_config({"name": "x", "trunk": {}, "head": {}, "extra": 1})

    def raise_in_a_library():
        import json

        json.loads("{")

    for func, expected in ((raise_in_project, "model.extra: unknown key"), (raise_in_a_library, None)):
        try:
            func()
        except ValueError as exc:
            message = expected_error(exc)
            assert message == expected if expected is None else message.startswith(expected)
    assert expected_error(KeyError("a bug")) is None
