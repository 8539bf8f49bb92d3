"""Tables and charts of the out-of-distribution study from its run folder.

    python experiments/ood_seasons/summarize.py outputs/ood_seasons experiments/ood_seasons/results

Reads ``<run>/eval/episodes.csv`` (one row per flown episode; ``--eval`` names another folder)
and the training checkpoints, and writes into the results folder:

- ``table.md``: success per model (rows) and scene (columns), the three seeds pooled, with
  95% Wilson intervals and each seed's own rate; collisions; the full metric table of the
  evaluation; best validation loss per run.
- ``fall_colours.csv`` and ``fall_colours.png`` when the fall colour ablation ran.
- ``summary.csv`` (model x scene, pooled), ``per_seed.csv`` (checkpoint x scene) and
  ``differences.csv`` (``ncp_cfc`` minus each other head per scene, paired by layout; its
  ``seeds_layouts_*`` columns: the interval over training seeds and layouts of ``navlnn.analysis``).
- ``success.png``: bars with the pooled interval and a dot per seed; ``success_grid.png``: the
  same rates as a grid.
- ``layouts.csv``: per model, scene and layout (the environment seed), the success averaged over
  the model's seeds: what a later run is compared with, layout by layout.
- with ``--before RESULTS``, a previous run's results folder flown on the same layouts (another
  recipe, say): ``before_after.csv`` (each cell's rate before and after, and the change paired by
  layout with a 95% bootstrap interval over layouts), ``before_after.png`` and a table in
  ``table.md``.
- ``meta.json``: the machine, the versions and the evaluation settings.
- ``attention.csv`` and ``attention.png`` when the evaluation measured attention
  (``eval.attention=true``): per model and scene, the mean ``target_attention`` (saliency on the
  target over chance) and ``saliency_ssim`` with 95% bootstrap intervals over episodes, seeds
  pooled; their tables go into ``table.md`` beside the success table.
- with ``--tasks FOLDER``, an evaluation of other tasks (the MIT suite's ``occlusion``,
  ``rotation``, ``hike``, ``loop``), each cell a task in a scene (``hike/fall``): its success and
  attention tables in ``table.md``, ``tasks.csv``, ``tasks_grid.png`` and, with attention,
  ``tasks_attention.csv`` and ``tasks_attention.png``.
- ``trajectories-<scene>.png`` (top views of the first seeds, every model's seed-0 policy) and
  ``poster-<run>.png`` (a frame of each video), copied from the run folder; ``fall-frame.png``,
  a frame of the ``ncp_cfc`` fall video with its saliency.

The seeds of a model fly the same evaluation layouts (episode i is the same start and forest
for every checkpoint), so the pooled interval treats 3 x N episodes as independent although
the layouts repeat; the per-seed rates show how far the seeds disagree.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import shutil
import textwrap
from collections import defaultdict
from importlib.metadata import version
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from navlnn.analysis import differences, wilson_interval
from navlnn.evaluation.metrics import bootstrap_interval
from navlnn.evaluation.report import write_csv

LEVEL = 0.95
ABLATION_RUNS = ("eval_fall_green_ground", "eval_fall_green_crowns")   # run.sh's fall_colours stage
REFERENCE_MODEL = "ncp_cfc"   # the head the others are compared with, layout by layout
FALL_FRAME = 245   # of the ncp_cfc fall video: episode 1, 4 s in, drifting from the sign toward orange crowns
TRAJECTORY_SCENES = ("summer", "fall", "winter", "urban")   # top views copied next to the tables


def read_rows(path: Path) -> list[dict]:
    """The per-episode rows of an evaluation (``episodes.csv``)."""
    if not path.is_file():
        raise SystemExit(f"no evaluation found: {path} is missing. Run the evaluation stage of the study's "
                         "run.sh first (or name the folder with --eval / --tasks).")
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def truthy(value: str) -> bool:
    """A CSV boolean."""
    return str(value).strip().lower() in ("true", "1", "1.0")


def seed_of(checkpoint: str) -> str:
    """The training seed from a checkpoint path ``.../<model>-seed<k>/checkpoints/best.pt``."""
    run = Path(checkpoint).parent.parent.name
    return run.rsplit("-seed", 1)[-1] if "-seed" in run else run


def pooled(rows: list[dict], models: list[str], scenes: list[str]) -> list[dict]:
    """Success and collision rates per model and scene, seeds pooled, with Wilson intervals."""
    out = []
    for m in models:
        for s in scenes:
            cell = [r for r in rows if r["model"] == m and r["scene"] == s]
            n = len(cell)
            if n == 0:
                continue
            wins = sum(truthy(r["success"]) for r in cell)
            crashes = sum(truthy(r["collision"]) for r in cell)
            lo, hi = wilson_interval(wins, n, LEVEL)
            seeds = defaultdict(list)
            for r in cell:
                seeds[seed_of(r["checkpoint"])].append(truthy(r["success"]))
            per_seed = {k: float(np.mean(v)) for k, v in sorted(seeds.items())}
            out.append({"model": m, "scene": s, "episodes": n, "success_rate": wins / n, "ci_low": lo, "ci_high": hi,
                        "collision_rate": crashes / n, "seed_rates": per_seed,
                        "seed_mean": float(np.mean(list(per_seed.values()))),
                        "seed_std": float(np.std(list(per_seed.values()), ddof=1)) if len(per_seed) > 1 else 0.0})
    return out


def per_seed_rows(rows: list[dict]) -> list[dict]:
    """Success rate per checkpoint and scene."""
    groups = defaultdict(list)
    for r in rows:
        groups[(r["model"], seed_of(r["checkpoint"]), r["scene"])].append(r)
    out = []
    for (m, seed, s), cell in groups.items():
        wins = sum(truthy(r["success"]) for r in cell)
        lo, hi = wilson_interval(wins, len(cell), LEVEL)
        out.append({"model": m, "seed": seed, "scene": s, "episodes": len(cell), "success_rate": wins / len(cell),
                    "ci_low": lo, "ci_high": hi,
                    "collision_rate": sum(truthy(r["collision"]) for r in cell) / len(cell)})
    return out


def paired_differences(rows: list[dict], reference: str, models: list[str], scenes: list[str],
                       resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Success of ``reference`` minus each other model, per scene, paired by layout.

    Every checkpoint flies the same episode seeds, so episode ``i`` is one layout, start and
    target for all of them. A layout's score is its success averaged over a model's training
    seeds; the difference is averaged over layouts, and its interval comes from resampling
    layouts (percentile bootstrap), which respects that the seeds of a model share layouts but
    leaves the training seeds' own spread out. ``seeds_layouts_low``/``_high`` is the interval that
    accounts for both (:func:`seed_aware_interval`).
    """
    out = []
    for s in scenes:
        score: dict[str, dict[str, list[bool]]] = defaultdict(lambda: defaultdict(list))
        for r in rows:
            if r["scene"] == s:
                score[r["model"]][r["episode"]].append(truthy(r["success"]))
        if reference not in score:
            continue
        for m in models:
            if m == reference or m not in score:
                continue
            layouts = sorted(set(score[reference]) & set(score[m]), key=int)
            if not layouts:
                continue
            diff = np.array([np.mean(score[reference][k]) - np.mean(score[m][k]) for k in layouts])
            lo, hi = bootstrap_interval(diff, LEVEL, resamples, seed)
            low, high = seed_aware_interval(rows, reference, m, s)
            out.append({"scene": s, "model": m, "reference": reference, "layouts": len(layouts),
                        "difference": float(diff.mean()), "ci_low": float(lo), "ci_high": float(hi),
                        "seeds_layouts_low": low, "seeds_layouts_high": high})
    return out


def seed_aware_interval(rows: list[dict], reference: str, model: str, scene: str) -> tuple[float, float]:
    """95% interval of ``reference`` minus ``model`` in ``scene`` over training seeds and layouts
    (``navlnn.analysis.differences``: paired by seed and layout, docs/analysis.md)."""
    flights = pd.DataFrame([{"head": r["model"], "seed": seed_of(r["checkpoint"]), "layout": r["episode"],
                             "scene": scene, "success": truthy(r["success"])}
                            for r in rows if r["scene"] == scene and r["model"] in (reference, model)])
    row = differences(flights, reference=model, level=LEVEL).iloc[0]
    return float(row.ci_low), float(row.ci_high)


def layout_rows(rows: list[dict]) -> list[dict]:
    """Success per model, scene and layout (environment seed), averaged over the training seeds."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for r in rows:
        groups[(r["model"], r["scene"], r["seed"])].append(r)
    return [{"model": m, "scene": s, "episode": cell[0]["episode"], "seed": seed, "seeds": len(cell),
             "success": float(np.mean([truthy(r["success"]) for r in cell]))}
            for (m, s, seed), cell in groups.items()]


def read_before(folder: Path) -> tuple[list[dict], list[dict]]:
    """A previous run's ``summary.csv`` and ``layouts.csv`` (its results folder)."""
    files = [folder / "summary.csv", folder / "layouts.csv"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise SystemExit(f"--before {folder}: {', '.join(missing)} missing. Name a results folder written by this "
                         "script (rerun it on the previous run's folder to add layouts.csv).")
    with open(files[0], newline="") as f:
        cells = list(csv.DictReader(f))
    with open(files[1], newline="") as f:
        layouts = list(csv.DictReader(f))
    return cells, layouts


def before_after(before_cells: list[dict], before_layouts: list[dict], cells: list[dict], layouts: list[dict],
                 resamples: int = 2000, seed: int = 0) -> list[dict]:
    """Each cell's success before and after, and the change paired by layout.

    Both runs flew the same environment seeds, so a layout's change is its success after
    (averaged over the new seeds) minus before (over the old ones); the interval resamples
    layouts. Cells or layouts only one run flew are left out.
    """
    old = {(c["model"], c["scene"]): c for c in before_cells}
    old_layouts = {(r["model"], r["scene"], r["seed"]): float(r["success"]) for r in before_layouts}
    new_layouts = {(r["model"], r["scene"], r["seed"]): float(r["success"]) for r in layouts}
    out = []
    for c in cells:
        key = (c["model"], c["scene"])
        if key not in old:
            continue
        diff = np.array([v - old_layouts[k] for k, v in new_layouts.items() if k[:2] == key and k in old_layouts])
        if diff.size == 0:
            continue
        lo, hi = bootstrap_interval(diff, LEVEL, resamples, seed)
        b = old[key]
        out.append({"model": c["model"], "scene": c["scene"], "before": float(b["success_rate"]),
                    "before_low": float(b["ci_low"]), "before_high": float(b["ci_high"]),
                    "before_episodes": int(b["episodes"]), "after": c["success_rate"], "after_low": c["ci_low"],
                    "after_high": c["ci_high"], "after_episodes": c["episodes"], "layouts": int(diff.size),
                    "change": float(diff.mean()), "change_low": float(lo), "change_high": float(hi)})
    return out


def before_after_table(changes: list[dict], models: list[str], scenes: list[str]) -> str:
    """Markdown: before -> after (%), and the paired change in points with its interval."""
    head = "| model | " + " | ".join(scenes) + " |\n|---|" + "---:|" * len(scenes) + "\n"
    lines = []
    for m in models:
        out = [m]
        for s in scenes:
            c = next((c for c in changes if c["model"] == m and c["scene"] == s), None)
            out.append("-" if c is None else
                       f"{pct(c['before'])} → **{pct(c['after'])}**<br>{round(100 * c['change']):+d} "
                       f"[{round(100 * c['change_low']):+d}, {round(100 * c['change_high']):+d}]")
        if any(v != "-" for v in out[1:]):
            lines.append("| " + " | ".join(out) + " |")
    return head + "\n".join(lines) + "\n"


def before_after_chart(path: Path, changes: list[dict], models: list[str], scenes: list[str],
                       labels: tuple[str, str]) -> None:
    """Per scene and head, an arrow from the success before to the success after (with its interval)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(models)
    colors = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * len(scenes)), 4.2), constrained_layout=True)
    for i, m in enumerate(models):
        for j, s in enumerate(scenes):
            c = next((c for c in changes if c["model"] == m and c["scene"] == s), None)
            if c is None:
                continue
            x = j + (i - (len(models) - 1) / 2) * width
            y0, y1 = 100 * c["before"], 100 * c["after"]
            ax.plot([x, x], [y0, y1], color=colors(i), lw=1.6, zorder=2)
            ax.scatter([x], [y0], s=16, facecolors="white", edgecolors=colors(i), linewidths=1.0, zorder=3,
)
            ax.errorbar([x], [y1], yerr=[[y1 - 100 * c["after_low"]], [100 * c["after_high"] - y1]], fmt="o",
                        ms=4, color=colors(i), elinewidth=0.7, capsize=1.5, zorder=4, label=m if j == 0 else None)
    ax.set_xticks(range(len(scenes)))
    ax.set_xticklabels(scenes)
    ax.set_ylim(-3, 105)
    ax.set_ylabel("success (%)")
    ax.axvline(0.5, color="0.6", lw=0.8, ls="--")
    note = (f"success by scene: open circle {labels[0]}, filled circle {labels[1]} "
            f"(seeds pooled, 95% Wilson interval of {labels[1]}; same layouts)")
    ax.set_title(textwrap.fill(note, width=int(14 * fig.get_size_inches()[0])), fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(models), loc="upper center", bbox_to_anchor=(0.5, -0.09), frameon=False)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def difference_table(diffs: list[dict], models: list[str], scenes: list[str], interval: str = "ci") -> str:
    """Markdown: reference minus model, in percentage points with the paired interval (``interval``:
    ``ci``, over layouts, or ``seeds_layouts``, over training seeds and layouts)."""
    head = "| vs | " + " | ".join(scenes) + " |\n|---|" + "---:|" * len(scenes) + "\n"
    low, high = f"{interval}_low", f"{interval}_high"
    lines = []
    for m in models:
        cells = [next((f"{round(100 * d['difference']):+d} [{round(100 * d[low]):+d}, {round(100 * d[high]):+d}]"
                       for d in diffs if d["model"] == m and d["scene"] == s), "-") for s in scenes]
        if any(c != "-" for c in cells):
            lines.append("| " + " | ".join([m, *cells]) + " |")
    return head + "\n".join(lines) + "\n"


def pct(x: float) -> str:
    return f"{100 * x:.0f}"


def success_table(cells: list[dict], models: list[str], scenes: list[str]) -> str:
    """Markdown: pooled success % [interval] and the seeds' rates, per model and scene."""
    head = "| model | " + " | ".join(scenes) + " |\n|---|" + "---:|" * len(scenes) + "\n"
    lines = []
    for m in models:
        out = [m]
        for s in scenes:
            c = next((c for c in cells if c["model"] == m and c["scene"] == s), None)
            if c is None:
                out.append("-")
                continue
            seeds = "/".join(pct(v) for v in c["seed_rates"].values())
            out.append(f"**{pct(c['success_rate'])}** [{pct(c['ci_low'])}, {pct(c['ci_high'])}]<br>{seeds}")
        lines.append("| " + " | ".join(out) + " |")
    return head + "\n".join(lines) + "\n"


def rate_table(cells: list[dict], models: list[str], scenes: list[str], key: str) -> str:
    """Markdown: one rate (in %) per model and scene."""
    head = "| model | " + " | ".join(scenes) + " |\n|---|" + "---:|" * len(scenes) + "\n"
    lines = []
    for m in models:
        vals = [next((pct(c[key]) for c in cells if c["model"] == m and c["scene"] == s), "-") for s in scenes]
        lines.append("| " + " | ".join([m, *vals]) + " |")
    return head + "\n".join(lines) + "\n"


ATTENTION = ("target_attention", "saliency_ssim")  # the evaluation's attention columns


def _number(value: str) -> float:
    """A CSV number (an empty cell: NaN)."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def has_attention(rows: list[dict]) -> bool:
    """Whether the evaluation measured attention (a finite ``target_attention`` in some row)."""
    return any(math.isfinite(_number(r.get("target_attention"))) for r in rows)


def attention_cells(rows: list[dict], models: list[str], scenes: list[str], resamples: int = 2000,
                    seed: int = 0) -> list[dict]:
    """Mean ``target_attention`` and ``saliency_ssim`` per model and scene (seeds pooled), with
    percentile bootstrap intervals over the episodes that have them."""
    out = []
    for m in models:
        for s in scenes:
            cell = [r for r in rows if r["model"] == m and r["scene"] == s]
            if not cell:
                continue
            row: dict = {"model": m, "scene": s, "episodes": len(cell)}
            for name in ATTENTION:
                values = [v for v in (_number(r.get(name)) for r in cell) if math.isfinite(v)]
                lo, hi = bootstrap_interval(values, LEVEL, resamples, seed)
                row.update({name: float(np.mean(values)) if values else math.nan, f"{name}_low": lo,
                            f"{name}_high": hi, f"{name}_episodes": len(values)})
            out.append(row)
    return out


def attention_table(cells: list[dict], models: list[str], scenes: list[str], key: str, fmt: str = ".1f") -> str:
    """Markdown: one attention figure (mean [interval]) per model and scene."""
    head = "| model | " + " | ".join(scenes) + " |\n|---|" + "---:|" * len(scenes) + "\n"
    lines = []
    for m in models:
        vals = []
        for s in scenes:
            c = next((c for c in cells if c["model"] == m and c["scene"] == s), None)
            if c is None or not math.isfinite(c[key]):
                vals.append("-")
                continue
            vals.append(f"{format(c[key], fmt)} [{format(c[key + '_low'], fmt)}, {format(c[key + '_high'], fmt)}]")
        lines.append("| " + " | ".join([m, *vals]) + " |")
    return head + "\n".join(lines) + "\n"


def attention_chart(path: Path, cells: list[dict], models: list[str], scenes: list[str]) -> None:
    """Two panels of grouped bars (mean, 95% bootstrap interval): target attention (log scale,
    chance marked) and saliency SSIM."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(models)
    colors = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 1.7 * len(scenes)), 6.4), constrained_layout=True)
    for ax, key, label in ((axes[0], "target_attention", "target attention (x chance)"),
                           (axes[1], "saliency_ssim", "saliency SSIM")):
        for i, m in enumerate(models):
            for j, s in enumerate(scenes):
                c = next((c for c in cells if c["model"] == m and c["scene"] == s), None)
                if c is None or not math.isfinite(c[key]):
                    continue
                x = j + (i - (len(models) - 1) / 2) * width
                ax.bar(x, c[key], width * 0.9, color=colors(i), label=m if j == 0 else None,
                       yerr=[[c[key] - c[key + "_low"]], [c[key + "_high"] - c[key]]], capsize=2,
                       error_kw={"elinewidth": 0.8, "ecolor": "0.25"})
        ax.set_xticks(range(len(scenes)))
        ax.set_xticklabels(scenes)
        ax.set_ylabel(label)
        ax.grid(axis="y", alpha=0.3)
        if key == "target_attention":
            ax.set_yscale("log")
            ax.axhline(1.0, color="0.3", lw=0.9, ls="--")
            ax.set_title("where the policy looks: VisualBackProp saliency on the sign over chance (dashed: 1 = chance), "
                         "and its SSIM under the evaluation's perturbation; 95% bootstrap intervals over episodes",
                         fontsize=8.5, wrap=True)
    axes[1].set_ylim(0, 1.02)
    axes[1].legend(fontsize=8, ncol=len(models), loc="upper center", bbox_to_anchor=(0.5, -0.12), frameon=False)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def training_rows(run: Path, models: list[str]) -> list[dict]:
    """Best validation loss and epochs of every training run found under ``run/train``."""
    from navlnn.policies.checkpoint import read_checkpoint

    out = []
    for m in models:
        for ckpt in sorted((run / "train").glob(f"{m}-seed*/checkpoints/last.pt")):
            payload = read_checkpoint(ckpt)
            history = payload.get("history") or []
            out.append({"model": m, "seed": ckpt.parent.parent.name.rsplit("-seed", 1)[-1],
                        "epochs": len(history), "best_val_loss": float(payload.get("best_val_loss", math.nan)),
                        "final_train_loss": float(history[-1]["train_loss"]) if history else math.nan})
    return out


def seed_count(cells: list[dict]) -> int:
    """The most training seeds found in one cell."""
    return max((len(c["seed_rates"]) for c in cells), default=0)


def bar_chart(path: Path, cells: list[dict], models: list[str], scenes: list[str], episodes,
              title: str = "fly_to_target, trained in summer: success by scene") -> None:
    """Grouped bars (pooled rate, Wilson interval) with one dot per seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    width = 0.8 / len(models)
    colors = plt.get_cmap("tab10" if len(models) <= 10 else "tab20")
    fig, ax = plt.subplots(figsize=(max(6.0, 1.7 * len(scenes)), 4.2), constrained_layout=True)
    for i, m in enumerate(models):
        for j, s in enumerate(scenes):
            c = next((c for c in cells if c["model"] == m and c["scene"] == s), None)
            if c is None:
                continue
            x = j + (i - (len(models) - 1) / 2) * width
            y = 100 * c["success_rate"]
            ax.bar(x, y, width * 0.9, color=colors(i), label=m if j == 0 else None,
                   yerr=[[y - 100 * c["ci_low"]], [100 * c["ci_high"] - y]], capsize=2,
                   error_kw={"elinewidth": 0.8, "ecolor": "0.25"})
            seeds = [100 * v for v in c["seed_rates"].values()]
            ax.scatter([x] * len(seeds), seeds, s=7, color="black", zorder=3, linewidths=0)
    ax.set_xticks(range(len(scenes)))
    ax.set_xticklabels(scenes)
    ax.set_ylim(0, 105)
    ax.set_ylabel("success (%)")
    ax.axvline(0.5, color="0.6", lw=0.8, ls="--")
    note = (f"{title} (bars: {seed_count(cells)} seeds pooled, {episodes} episodes, "
            f"95% Wilson interval; dots: each seed)")
    ax.set_title(textwrap.fill(note, width=int(14 * fig.get_size_inches()[0])), fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncol=len(models), loc="upper center", bbox_to_anchor=(0.5, -0.09), frameon=False)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def grid_chart(path: Path, cells: list[dict], models: list[str], scenes: list[str]) -> None:
    """Success rates as a model x scene grid, annotated with the rate and the interval."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.full((len(models), len(scenes)), np.nan)
    for c in cells:
        grid[models.index(c["model"]), scenes.index(c["scene"])] = 100 * c["success_rate"]
    fig, ax = plt.subplots(figsize=(1.15 * len(scenes) + 2, 0.55 * len(models) + 1.4), constrained_layout=True)
    ax.imshow(grid, cmap="RdYlGn", vmin=0, vmax=100, aspect="auto")
    for c in cells:
        i, j = models.index(c["model"]), scenes.index(c["scene"])
        ax.text(j, i, f"{pct(c['success_rate'])}\n[{pct(c['ci_low'])}-{pct(c['ci_high'])}]", ha="center",
                va="center", fontsize=7.5)
    ax.set_xticks(range(len(scenes)), scenes)
    ax.set_yticks(range(len(models)), models)
    ax.xaxis.tick_top()
    ax.set_title(f"success % [95% Wilson], {seed_count(cells)} seeds pooled; trained in summer", fontsize=9, pad=22)
    fig.savefig(path, dpi=130)
    plt.close(fig)


def write_png(out: Path, bgr: np.ndarray, width: int = 960) -> None:
    """``bgr`` scaled to ``width`` pixels as a PNG (committed copies stay small)."""
    height = round(bgr.shape[0] * width / bgr.shape[1])
    cv2.imwrite(str(out), cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA))


def video_frame(video: Path, index: int, out: Path) -> None:
    """Frame ``index`` of an MP4 as a PNG."""
    import av

    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                write_png(out, frame.to_ndarray(format="bgr24"))
                return
    raise SystemExit(f"{video} has fewer than {index + 1} frames")


def task_sections(task_rows: list[dict], models: list[str], results: Path) -> list[str]:
    """table.md's sections on other tasks (each cell a task in a scene, ``hike/fall``), and their
    files: ``tasks.csv``, ``tasks_grid.png``; with attention ``tasks_attention.csv`` and ``.png``."""
    task_rows = [{**r, "scene": f"{r['task']}/{r['scene']}"} for r in task_rows]
    conditions = list(dict.fromkeys(r["scene"] for r in task_rows))
    models = [m for m in models if any(r["model"] == m for r in task_rows)]
    cells = pooled(task_rows, models, conditions)
    write_csv(results / "tasks.csv", cells)
    grid_chart(results / "tasks_grid.png", cells, models, conditions)
    episodes = "/".join(str(n) for n in sorted({c["episodes"] for c in cells}))
    text = [f"The other tasks (task/scene): success (%), {episodes} episodes per cell ({seed_count(cells)} training "
            "seeds pooled), 95% Wilson interval; below it, each seed's own rate:", "",
            success_table(cells, models, conditions), "Collisions (% of episodes):", "",
            rate_table(cells, models, conditions, "collision_rate")]
    if has_attention(task_rows):
        target, ssim = attention_files(task_rows, models, conditions, results, "tasks_attention")
        text += ["Target attention on the other tasks (x chance; the current sign's pixels), 95% bootstrap "
                 "interval over episodes:", "", target, "Saliency SSIM on the other tasks:", "", ssim]
    return text


def attention_files(rows: list[dict], models: list[str], scenes: list[str], results: Path,
                    stem: str) -> tuple[str, str]:
    """Attention per model and scene written as ``<stem>.csv`` and ``<stem>.png``; its target
    attention and saliency SSIM tables (markdown)."""
    cells = attention_cells(rows, models, scenes)
    write_csv(results / f"{stem}.csv", cells)
    attention_chart(results / f"{stem}.png", cells, models, scenes)
    return (attention_table(cells, models, scenes, "target_attention"),
            attention_table(cells, models, scenes, "saliency_ssim", ".3f"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the study's run folder (OUT of run.sh)")
    parser.add_argument("results", type=Path, help="where the tables and charts go")
    parser.add_argument("--eval", default="eval", help="the fly_to_target evaluation's folder in RUN (default: eval)")
    parser.add_argument("--tasks", default=None,
                        help="an evaluation of other tasks in RUN: a table of each task in each scene")
    parser.add_argument("--title", default="Out-of-distribution study: trained in summer, flown everywhere",
                        help="the heading of table.md")
    parser.add_argument("--ablations", default=",".join(ABLATION_RUNS),
                        help="comma-separated fall colour ablation folders in RUN ('' for none)")
    parser.add_argument("--videos", default="video", help="the videos' folder in RUN ('' for none)")
    parser.add_argument("--before", type=Path, default=None,
                        help="a previous run's results folder, flown on the same layouts: before/after tables")
    parser.add_argument("--labels", default="before,after",
                        help="the two runs' names in the before/after table and chart (default: before,after)")
    args = parser.parse_args()
    labels = tuple(args.labels.split(","))
    if len(labels) != 2 or not all(labels):
        raise SystemExit(f"--labels {args.labels!r}: give two names separated by a comma, e.g. baseline,data")
    before = read_before(args.before) if args.before else None
    evaluation = args.run / args.eval
    rows = read_rows(evaluation / "episodes.csv")
    models = list(dict.fromkeys(r["model"] for r in rows))
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    args.results.mkdir(parents=True, exist_ok=True)
    cells = pooled(rows, models, scenes)
    per_seed = per_seed_rows(rows)
    episodes = sorted({c["episodes"] for c in cells})
    training = training_rows(args.run, models)
    eval_meta = json.loads((evaluation / "eval.json").read_text())

    reference = REFERENCE_MODEL if REFERENCE_MODEL in models else models[0]
    diffs = paired_differences(rows, reference, models, scenes)
    write_csv(args.results / "differences.csv", diffs)
    ablation_rows = []
    for folder in [f for f in args.ablations.split(",") if f]:
        if (args.run / folder / "episodes.csv").is_file():
            ablation_rows += read_rows(args.run / folder / "episodes.csv")
    flown = {r["episode"] for r in ablation_rows}  # fall itself on the same layouts only
    ablation_rows = [r for r in rows if r["scene"] == "fall" and r["episode"] in flown] + ablation_rows
    ablation_scenes = list(dict.fromkeys(r["scene"] for r in ablation_rows))
    ablation = pooled(ablation_rows, models, ablation_scenes) if len(ablation_scenes) > 1 else []
    if ablation:
        write_csv(args.results / "fall_colours.csv", ablation)
        bar_chart(args.results / "fall_colours.png", ablation, models, ablation_scenes,
                  "/".join(str(n) for n in sorted({c["episodes"] for c in ablation})),
                  title="fall, and fall with one of summer's colours back")
    write_csv(args.results / "summary.csv", cells)
    write_csv(args.results / "per_seed.csv", per_seed)
    layouts = layout_rows(rows)
    write_csv(args.results / "layouts.csv", layouts)
    changes = before_after(*before, cells, layouts) if before else []
    if changes:
        write_csv(args.results / "before_after.csv", changes)
        before_after_chart(args.results / "before_after.png", changes, models, scenes, labels)
    write_csv(args.results / "training.csv", training)
    bar_chart(args.results / "success.png", cells, models, scenes, episodes[0] if len(episodes) == 1 else episodes)
    grid_chart(args.results / "success_grid.png", cells, models, scenes)
    text = [f"# {args.title}", "",
            f"Success on `fly_to_target` (%), {'/'.join(map(str, episodes))} episodes per cell ({seed_count(cells)} "
            f"training seeds pooled), 95% Wilson interval in brackets; below it, each seed's own rate "
            f"(seeds in order).", "",
            success_table(cells, models, scenes), "Collisions (% of episodes):", "",
            rate_table(cells, models, scenes, "collision_rate"),
            f"Success of `{reference}` minus each other head (percentage points), paired by layout: each "
            f"layout's success averaged over a head's seeds, 95% bootstrap interval over layouts:", "",
            difference_table(diffs, models, scenes),
            "The same differences with the 95% interval over training seeds and layouts (`navlnn.analysis`, "
            "paired by seed and layout; docs/analysis.md):", "",
            difference_table(diffs, models, scenes, "seeds_layouts")]
    if changes:
        text += [f"{labels[0]} → {labels[1]} (`{args.before}`): success (%) before and after, seeds pooled; below, "
                 f"the change in percentage points paired by layout over the layouts both runs flew (each layout's "
                 f"success averaged over a run's seeds), 95% bootstrap interval over layouts:", "",
                 before_after_table(changes, models, scenes)]
    if has_attention(rows):
        target, ssim = attention_files(rows, models, scenes, args.results, "attention")
        text += ["Where the policies look (`navlnn eval eval.attention=true`): target attention, the share of the "
                 "VisualBackProp saliency on the sign's pixels over the share of the image they cover (1 = chance), "
                 "mean over the frames the sign is seen in, then over episodes (seeds pooled), 95% bootstrap "
                 "interval over episodes:", "", target,
                 "Saliency SSIM: the structural similarity of each frame's saliency and that of the same frame "
                 f"perturbed (stress: {eval_meta.get('stress')}; "
                 f"attention_stress: {((eval_meta.get('settings') or {}).get('eval') or {}).get('attention_stress')}), "
                 "mean over frames, then episodes:", "", ssim]
    if args.tasks:
        text += task_sections(read_rows(args.run / args.tasks / "episodes.csv"), models, args.results)
    if ablation:
        text += ["Fall colour ablation: success (%) in fall, in fall with summer's green ground, and in fall with "
                 "summer's green crowns and bushes (same layouts, light, sky and trunks), seeds pooled, Wilson 95 %:",
                 "", success_table(ablation, models, ablation_scenes)]
    text += ["Training (best validation loss, standardised "
            "action units; the checkpoint flown is the best one):", "",
            "| model | seed | epochs | best val loss | final train loss |", "|---|---:|---:|---:|---:|"]
    text += [f"| {t['model']} | {t['seed']} | {t['epochs']} | {t['best_val_loss']:.4f} | {t['final_train_loss']:.4f} |"
             for t in training]
    full = evaluation / "summary.md"
    if full.is_file():
        text += ["", "All metrics (from `navlnn eval`, seeds pooled):", "", full.read_text()]
    (args.results / "table.md").write_text("\n".join(text) + "\n")
    videos = args.run / args.videos if args.videos else None
    for poster in sorted(videos.glob("*/poster.png")) if videos else []:
        write_png(args.results / f"poster-{poster.parent.name}.png", cv2.imread(str(poster)))
    fall_video = videos / "ncp_cfc-seed0-fall" / "video.mp4" if videos else None
    if fall_video is not None and fall_video.is_file():
        video_frame(fall_video, FALL_FRAME, args.results / "fall-frame.png")
    for scene in TRAJECTORY_SCENES:
        plot = evaluation / "trajectories" / f"fly_to_target-{scene}.png"
        if plot.is_file():
            shutil.copyfile(plot, args.results / f"trajectories-{scene}.png")
    meta = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                        "python": platform.python_version(), "torch": version("torch"),
                        "pybullet": version("pybullet")},
            "eval": {"scenes": eval_meta.get("scenes"), "tasks": eval_meta.get("tasks"),
                     "episodes_per_checkpoint": len(eval_meta.get("seeds") or []), "stress": eval_meta.get("stress"),
                     "seed_scheme": eval_meta.get("seed_scheme")},
            "models": models, "scenes": scenes}
    meta["machine"]["cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        meta["machine"]["cpu_model"] = names[0] if names else None
    (args.results / "meta.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(success_table(cells, models, scenes))
    print(f"wrote {args.results}/table.md, success.png, success_grid.png, summary.csv, per_seed.csv, layouts.csv, "
          f"differences.csv, training.csv" + (", before_after.csv, before_after.png" if changes else ""))


if __name__ == "__main__":
    main()
