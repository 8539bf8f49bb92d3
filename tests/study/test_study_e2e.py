"""navlnn study on a tiny spec, end to end (collect, train, validate, choose, test, analyse), then
again: the second run resumes with nothing redone."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from _specs import tiny  # noqa: E402


def _study(tmp_path: Path, conf: Path, run: Path) -> subprocess.CompletedProcess:
    args = ["study", "study=tiny", f"hydra.searchpath=[file://{conf}]", "workers=1", "logger_mode=disabled",
            f"hydra.run.dir={run}"]
    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600)


@pytest.mark.e2e
def test_a_tiny_study_runs_every_stage_then_resumes_with_nothing_redone(tmp_path):
    conf = tmp_path / "conf"
    (conf / "study").mkdir(parents=True)
    (conf / "study" / "tiny.yaml").write_text(yaml.safe_dump(tiny()))
    run = tmp_path / "run"
    first = _study(tmp_path, conf, run)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    for stage in tiny()["stages"]:
        assert f"[study tiny] {stage}: finished" in first.stdout
        assert (run / stage / "done.json").is_file()
    assert len(list((run / "train").glob("*/*/checkpoints/best.pt"))) == 2 * 2 * 2
    choice = json.loads((run / "choose" / "choice.json").read_text())
    assert set(choice["choice"]) == {"ncp_cfc", "cnn"} and len({c["arm"] for c in choice["choice"].values()}) == 1
    episodes = (run / "test" / "seed0" / "episodes.csv").read_text().splitlines()
    assert len(episodes) == 1 + 2 * 2 * 2 * 2  # heads x seeds x scenes x layouts
    assert all(f"/train/{choice['choice']['cnn']['arm']}/" in line for line in episodes[1:])
    results = (run / "analyse" / "RESULTS.md").read_text()
    assert "## Success rates" in results and "Code revision: " in results and "name: tiny" in results
    assert (run / "analyse" / "rates.csv").is_file() and (run / "analyse" / "resolution.csv").is_file()
    # every file the stages wrote (the study's own Hydra files and log are rewritten by Hydra on each run)
    stamps = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file() and p.parent != run
              and ".hydra" not in p.parts}
    assert len(stamps) > 50

    again = _study(tmp_path, conf, run)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert again.stdout.count("skipped") == len(tiny()["stages"]) and "started" not in again.stdout
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
