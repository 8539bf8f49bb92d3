"""The training-speed comparison (experiments/train_speed/compare.py): pairing by seed and layout,
and intervals that widen with the spread between training seeds."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "experiments" / "train_speed" / "compare.py"


def _arm(out: Path, arm: str, rates: list[float], seconds: float) -> None:
    """Three seeds whose 40 layouts succeed at ``rates`` (the first layouts succeed)."""
    rows = []
    for seed, rate in enumerate(rates):
        run = out / "train" / arm / f"ncp_cfc-seed{seed}"
        (run / "checkpoints").mkdir(parents=True)
        (run / "train_summary.json").write_text(json.dumps({"best_val_loss": 0.04 + 0.001 * seed,
                                                            "history": [{}] * 8}))
        (run / "wall_seconds").write_text(str(seconds + seed))
        for k in range(40):
            task = "fly_to_target" if k < 20 else "hike"
            rows.append({"checkpoint": str(run / "checkpoints" / "best.pt"), "task": task, "episode": k % 20,
                         "success": str(k < rate * 40)})
    folder = out / "validation" / arm
    folder.mkdir(parents=True)
    with open(folder / "episodes.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _compare(tmp_path: Path, previous: list[float], fast: list[float]) -> dict:
    out, results = tmp_path / "out", tmp_path / "results"
    _arm(out, "previous", previous, 300.0)
    _arm(out, "fast", fast, 100.0)
    done = subprocess.run([sys.executable, str(SCRIPT), str(out), str(results)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (results / "table.md").is_file() and (results / "comparison.png").stat().st_size > 1000
    return json.loads((results / "summary.json").read_text())


def test_paired_difference_wall_ratio_and_seed_aware_intervals(tmp_path):
    summary = _compare(tmp_path, [0.5, 0.5, 0.5], [0.25, 0.5, 0.75])
    assert summary["layouts"] == 40 and summary["seeds"] == [0, 1, 2]
    assert np.isclose(summary["success_difference"]["mean"], 0.0)
    assert np.isclose(summary["wall_ratio"], 101.0 / 301.0)
    seeds_low, seeds_high = summary["success_difference"]["seeds_and_layouts"]
    layouts_low, layouts_high = summary["success_difference"]["layouts_only"]
    t_low, t_high = summary["success_difference"]["seed_t"]
    # seeds that disagree by 25 points widen the seed-aware intervals beyond the layout-only one
    assert t_high - t_low > seeds_high - seeds_low > layouts_high - layouts_low
    assert np.isclose(t_high, 4.303 * 0.25 / np.sqrt(3), atol=1e-3)
    crossed_low, crossed_high = summary["success_difference"]["seeds_and_layouts_t"]
    assert crossed_low < 0.0 < crossed_high and crossed_high - crossed_low > layouts_high - layouts_low
    assert summary["success_difference"]["method"] == "seeds+layouts t, at least Newcombe"


def test_a_real_difference_is_resolved(tmp_path):
    summary = _compare(tmp_path, [0.25, 0.3, 0.25], [0.75, 0.8, 0.75])
    for interval in ("seeds_and_layouts", "seeds_and_layouts_t"):
        low, high = summary["success_difference"][interval]
        assert 0.3 < low <= summary["success_difference"]["mean"] <= high, interval
