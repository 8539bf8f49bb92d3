"""Compare training arms on the recipe protocol's summer validation, paired by training seed and layout.

Reads ``OUT/train/<arm>/ncp_cfc-seed<s>/`` (train_summary.json; the wall time of the command from
its ``wall_seconds`` file, else the summary's ``seconds``) and ``OUT/validation/<arm>/episodes.csv``, and writes to RESULTS:
``table.md`` (per seed and the paired differences), ``summary.json`` and ``comparison.png``.

Intervals of a difference include the spread between training seeds: the arms are paired by
seed (same data split, same validation windows) and by layout (the same validation flights), and
``navlnn.analysis`` computes them (docs/analysis.md):

* ``seeds+layouts t``: the study's interval (``navlnn.analysis.differences``: the seeds x layouts
  t-interval of the paired differences, at least Newcombe's);
* ``seed t``: a t-interval over the per-seed differences of the success rate (or of the loss);
* ``seeds+layouts bootstrap``: a two-stage bootstrap: seeds resampled, then the layouts within each;
* ``layouts only``: the layouts resampled, seeds averaged (leaves the seed spread out; for
  comparison with the study's older intervals).

    python experiments/train_speed/compare.py outputs/train_speed experiments/train_speed/results
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd

from navlnn.analysis import differences, t_interval
from navlnn.analysis.intervals import two_stage_bootstrap_interval

RESAMPLES = 4000


def read_runs(out: Path, arm: str) -> dict[int, dict]:
    """Per training seed: best validation loss, wall seconds, epochs, and the checkpoint path."""
    runs = {}
    for folder in sorted((out / "train" / arm).glob("*-seed*")):
        summary_path = folder / "train_summary.json"
        if not summary_path.is_file():
            continue
        summary = json.loads(summary_path.read_text())
        wall = folder / "wall_seconds"   # the command's wall time, as run.sh measured it
        seconds = float(wall.read_text()) if wall.is_file() else summary.get("seconds")
        seed = int(re.search(r"seed(\d+)$", folder.name).group(1))
        runs[seed] = {"val_loss": float(summary["best_val_loss"]), "seconds": seconds,
                      "epochs": len(summary["history"]), "checkpoint": str(folder / "checkpoints" / "best.pt")}
    return runs


def read_flights(out: Path, arm: str, runs: dict[int, dict]) -> dict[int, dict[tuple, float]]:
    """Per training seed: success (0/1) of each validation layout ``(task, episode)``."""
    seed_of = {Path(run["checkpoint"]).parent.parent.name: seed for seed, run in runs.items()}
    flights: dict[int, dict[tuple, float]] = {seed: {} for seed in runs}
    with open(out / "validation" / arm / "episodes.csv") as f:
        for row in csv.DictReader(f):
            seed = seed_of[Path(row["checkpoint"]).parent.parent.name]
            flights[seed][(row["task"], int(row["episode"]))] = float(row["success"] in ("True", "true", "1", "1.0"))
    return flights


def flights_table(success: dict[str, np.ndarray], seeds: list[int], layouts: list[tuple]) -> pd.DataFrame:
    """The arms' seeds x layouts successes as a ``navlnn.analysis`` flights table (one row per flight)."""
    rows = [{"arm": arm, "seed": seed, "layout": f"{task}/{episode}", "scene": "summer validation",
             "success": float(y[i, j])}
            for arm, y in success.items() for i, seed in enumerate(seeds) for j, (task, episode) in enumerate(layouts)]
    return pd.DataFrame(rows)


def success_difference(success: dict[str, np.ndarray], seeds: list[int], layouts: list[tuple], reference: str,
                       arm: str) -> dict:
    """``arm`` minus ``reference`` in success, with the four labelled 95 % intervals (module docstring)."""
    row = differences(flights_table(success, seeds, layouts), arm="arm", reference=reference,
                      resamples=RESAMPLES).iloc[0]
    diff = success[arm] - success[reference]
    return {
        "mean": float(diff.mean()),
        "seeds_and_layouts_t": [float(row.ci_low), float(row.ci_high)],
        "seed_t": list(t_interval(diff.mean(axis=1))),
        "seeds_and_layouts": list(two_stage_bootstrap_interval(diff, resamples=RESAMPLES, seed=0)),
        "layouts_only": [float(row.layouts_low), float(row.layouts_high)],
        "method": row.method,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("results")
    parser.add_argument("--arms", default="previous,fast", help="reference arm first")
    args = parser.parse_args()
    out, results = Path(args.out), Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    reference, arm = args.arms.split(",")[:2]
    runs = {a: read_runs(out, a) for a in (reference, arm)}
    flights = {a: read_flights(out, a, runs[a]) for a in (reference, arm)}
    seeds = sorted(set(runs[reference]) & set(runs[arm]))
    layouts = sorted(set.intersection(*(set(flights[a][s]) for a in (reference, arm) for s in seeds)))
    success = {a: np.array([[flights[a][s][lay] for lay in layouts] for s in seeds]) for a in (reference, arm)}
    loss = {a: np.array([runs[a][s]["val_loss"] for s in seeds]) for a in (reference, arm)}
    wall = {a: np.array([runs[a][s]["seconds"] or math.nan for s in seeds], dtype=float) for a in (reference, arm)}
    summary = {
        "arms": [reference, arm], "seeds": seeds, "layouts": len(layouts),
        "tasks": sorted({task for task, _ in layouts}),
        "per_seed": {a: [{"seed": s, "val_loss": runs[a][s]["val_loss"], "seconds": runs[a][s]["seconds"],
                          "success": float(success[a][i].mean())} for i, s in enumerate(seeds)]
                     for a in (reference, arm)},
        "success": {a: float(success[a].mean()) for a in (reference, arm)},
        "success_difference": success_difference(success, seeds, layouts, reference, arm),
        "val_loss_difference": {"mean": float((loss[arm] - loss[reference]).mean()),
                                "seed_t": list(t_interval(loss[arm] - loss[reference]))},
        "wall_seconds_median": {a: float(np.nanmedian(wall[a])) for a in (reference, arm)},
    }
    summary["wall_ratio"] = summary["wall_seconds_median"][arm] / summary["wall_seconds_median"][reference]
    (results / "summary.json").write_text(json.dumps(summary, indent=2))
    write_table(results / "table.md", summary, seeds, reference, arm, success)
    chart(results / "comparison.png", summary, reference, arm)
    print((results / "table.md").read_text())


def pct(x: float) -> str:
    return f"{100 * x:+.0f}" if not math.isnan(x) else "n/a"


def write_table(path: Path, s: dict, seeds: list[int], reference: str, arm: str, success: dict) -> None:
    lines = [f"Summer validation ({', '.join(s['tasks'])}; {s['layouts']} layouts per checkpoint), "
             f"ncp_cfc best.pt, {len(seeds)} training seeds per arm, paired by seed and layout.", "",
             "| arm | seed | best validation loss | wall time (s) | summer validation success |",
             "|---|---:|---:|---:|---:|"]
    for a in (reference, arm):
        for row in s["per_seed"][a]:
            secs = f"{row['seconds']:.0f}" if row["seconds"] else "n/a"
            lines.append(f"| {a} | {row['seed']} | {row['val_loss']:.4f} | {secs} | {100 * row['success']:.0f} % |")
        lines.append(f"| **{a}** | all | | median {s['wall_seconds_median'][a]:.0f} | "
                     f"**{100 * s['success'][a]:.0f} %** |")
    d = s["success_difference"]
    lines += ["", f"{arm} minus {reference}, success (points): **{pct(d['mean'])}**, "
                  f"95 % intervals: seeds+layouts t [{pct(d['seeds_and_layouts_t'][0])}, "
                  f"{pct(d['seeds_and_layouts_t'][1])}] (navlnn.analysis), "
                  f"seeds+layouts bootstrap [{pct(d['seeds_and_layouts'][0])}, "
                  f"{pct(d['seeds_and_layouts'][1])}], t over {len(seeds)} seed-paired differences "
                  f"[{pct(d['seed_t'][0])}, {pct(d['seed_t'][1])}], layouts only "
                  f"[{pct(d['layouts_only'][0])}, {pct(d['layouts_only'][1])}].",
              f"Best validation loss: {s['val_loss_difference']['mean']:+.4f} "
              f"(t over seeds [{s['val_loss_difference']['seed_t'][0]:+.4f}, "
              f"{s['val_loss_difference']['seed_t'][1]:+.4f}]).",
              f"Wall time of a training run: {s['wall_ratio']:.2f}x ({s['wall_seconds_median'][arm]:.0f} s against "
              f"{s['wall_seconds_median'][reference]:.0f} s, medians)."]
    path.write_text("\n".join(lines) + "\n")


def chart(path: Path, s: dict, reference: str, arm: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for i, a in enumerate((reference, arm)):
        rows = s["per_seed"][a]
        axes[0].scatter([i] * len(rows), [100 * r["success"] for r in rows], color="C%d" % i, zorder=3)
        axes[0].hlines(100 * s["success"][a], i - 0.25, i + 0.25, color="C%d" % i)
        axes[1].scatter([i] * len(rows), [r["seconds"] / 60 if r["seconds"] else math.nan for r in rows],
                        color="C%d" % i, zorder=3)
    for ax, label in zip(axes, ("summer validation success (%)", "training wall time (min)")):
        ax.set_xticks([0, 1], [reference, arm])
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_ylim(bottom=0)
    d = s["success_difference"]
    fig.suptitle(f"{arm} - {reference}: {pct(d['mean'])} points [{pct(d['seeds_and_layouts_t'][0])}, "
                 f"{pct(d['seeds_and_layouts_t'][1])}] (seeds+layouts t); time {s['wall_ratio']:.2f}x", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
