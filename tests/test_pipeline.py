"""navlnn pipeline on a tiny configuration: every stage runs and the final files exist."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


@pytest.mark.e2e
def test_tiny_pipeline_produces_table_chart_and_video(tmp_path):
    args = [
        "pipeline", "episodes=4", "epochs=1", "workers=1", "logger_mode=disabled",
        "eval.scenes=[summer]", "eval.episodes=2", "video.scenes=[summer]",
        'overrides.collect=["drone.camera.width=64","drone.camera.height=36","progress=false"]',
        'overrides.train=["model.trunk.channels=[8,8,8,8,8]","train.seq_len=8","train.stride=4",'
        '"train.batch_size=4","progress=false"]',
        'overrides.eval=["progress=false","eval.reference_expert=false"]',
        'overrides.video=["layout.width=640","layout.height=360","chase_camera.width=320","chase_camera.height=180"]',
        f"hydra.run.dir={tmp_path / 'run'}",
    ]
    result = subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=tmp_path, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    run = tmp_path / "run"
    for stage in ("collect", "train", "eval", "video"):
        assert f"=== {stage} done" in result.stdout
    summary = json.loads((run / "eval" / "summary.json").read_text())
    rows = summary["summary"] if isinstance(summary, dict) and "summary" in summary else summary
    assert any(row["scene"] == "summer" and row["episodes"] == 2 for row in rows)
    assert (run / "eval" / "success.png").stat().st_size > 1000
    videos = list((run / "video").glob("*.mp4"))
    assert videos and videos[0].stat().st_size > 10_000
    assert str((run / "eval" / "summary.md").resolve()) in result.stdout


def test_a_stage_gets_the_pipelines_own_config_folders(tmp_path, monkeypatch):
    """A scene or model of one's own (found through hydra.searchpath) reaches every stage."""
    from navlnn.commands import pipeline

    seen = []

    class Finished:
        returncode = 0

        def __init__(self, command, **kwargs):
            seen.append(command)
            self.stdout = type("Out", (), {"read1": lambda self, n: b""})()

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(pipeline.subprocess, "Popen", Finished)
    pipeline._run_stage("eval", ["eval", "scene=desert"], tmp_path, ["file:///conf/mine", "pkg://other"])
    pipeline._run_stage("eval", ["eval"], tmp_path)
    assert "hydra.searchpath=[file:///conf/mine,pkg://other]" in seen[0]
    assert not any(arg.startswith("hydra.searchpath") for arg in seen[1])
