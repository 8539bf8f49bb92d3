"""Evaluation figures: success by scene and model with interval bars, top-down trajectories."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from navlnn.rollout.flight import Flight

CHARS_PER_COLUMN = 60  # title characters per line per panel column (8 pt)
PANEL_TITLE_CHARS = 50  # characters per line of a panel's own title (7 pt)
OUTCOME_MARKERS = {"success": ("o", "tab:green"), "collision": ("X", "tab:red"),
                   "out_of_bounds": ("s", "tab:purple"), "timeout": ("D", "tab:orange")}


def box_corners(x: float, y: float, half_x: float, half_y: float, yaw: float) -> np.ndarray:
    """The 4 corners ``(4, 2)`` of a box footprint (centre, half extents, yaw about z)."""
    c, s = math.cos(yaw), math.sin(yaw)
    local = np.array([[-half_x, -half_y], [half_x, -half_y], [half_x, half_y], [-half_x, half_y]])
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def round_obstacles(episode: Flight) -> np.ndarray:
    """The footprints ``(N, 3)`` of the round obstacles (the boxes are drawn as boxes)."""
    return episode.obstacles[: len(episode.obstacles) - len(episode.obstacle_boxes)]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def success_chart(path: Path, summary: Sequence[Mapping], ci_key: str = "success_ci95", dpi: int = 120) -> Path:
    """Grouped bars: success rate per scene (x), one bar per model, Wilson intervals as error bars; one panel per task."""
    plt = _plt()
    tasks = list(dict.fromkeys(r["task"] for r in summary))
    scenes = list(dict.fromkeys(r["scene"] for r in summary))
    models = list(dict.fromkeys(r["model"] for r in summary))
    width = 0.8 / max(1, len(models))
    fig, axes = plt.subplots(1, len(tasks), figsize=(max(4.5, 1.1 * len(scenes) * max(1, len(models)) ** 0.5 + 2) * len(tasks), 3.8),
                             squeeze=False, constrained_layout=True)
    colors = plt.get_cmap("tab10")
    for ax, task in zip(axes[0], tasks):
        for m, model in enumerate(models):
            xs, ys, lo, hi, ns = [], [], [], [], []
            for s, scene in enumerate(scenes):
                row = next((r for r in summary if r["task"] == task and r["scene"] == scene and r["model"] == model), None)
                if row is None:
                    continue
                xs.append(s + (m - (len(models) - 1) / 2) * width)
                ys.append(100 * row["success_rate"])
                lo.append(100 * (row["success_rate"] - row[ci_key][0]))
                hi.append(100 * (row[ci_key][1] - row["success_rate"]))
                ns.append(row["episodes"])
            ax.bar(xs, ys, width * 0.92, yerr=[lo, hi], capsize=3, color=colors(m % 10), label=model,
                   error_kw={"elinewidth": 1, "ecolor": "0.2"})
        ax.set_xticks(range(len(scenes)))
        ax.set_xticklabels(scenes, rotation=20 if len(scenes) > 4 else 0)
        ax.set_ylim(0, 105)
        ax.set_ylabel("success (%)")
        n = sorted({r["episodes"] for r in summary if r["task"] == task})
        ax.set_title(f"{task}: success by scene (95% Wilson intervals; n = {', '.join(map(str, n))} per bar)",
                     fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="lower left", framealpha=0.8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def trajectory_panel(ax, episodes: Mapping[str, Flight], reference: Flight | None, margin: float = 3.0) -> None:
    """One seed seen from above: obstacles, target and approach zone, the expert's path (dashed), each model's path."""
    import matplotlib.patches as mpatches

    paths = [e.pos_world[:, :2] for e in episodes.values()] + ([reference.pos_world[:, :2]] if reference else [])
    first = next(iter(episodes.values())) if episodes else reference
    points = np.concatenate(paths + [first.target_pos_world[:, :2]])
    lo, hi = points.min(0) - margin, points.max(0) + margin
    side = float(max(hi - lo))
    centre = (lo + hi) / 2
    lo, hi = centre - side / 2, centre + side / 2
    for x, y, r in round_obstacles(first):
        if lo[0] - r <= x <= hi[0] + r and lo[1] - r <= y <= hi[1] + r:
            ax.add_patch(mpatches.Circle((x, y), r, color="0.55", alpha=0.35, lw=0))
    for box in first.obstacle_boxes:
        ax.add_patch(mpatches.Polygon(box_corners(*box), closed=True, color="0.45", alpha=0.5, lw=0))
    tx, ty = first.target_pos_world[-1, :2]
    yaw = float(first.target_yaw[-1])
    ax.plot([tx - 0.5 * math.sin(yaw), tx + 0.5 * math.sin(yaw)], [ty + 0.5 * math.cos(yaw), ty - 0.5 * math.cos(yaw)],
            color="red", lw=3, solid_capstyle="butt")
    ax.add_patch(mpatches.Circle(first.approach_world[-1, :2], 0.6, fill=False, ls=":", color="red", lw=1))
    if reference is not None:
        ax.plot(*reference.pos_world[:, :2].T, ls="--", color="black", lw=1.2, label="expert")
    colors = _plt().get_cmap("tab10")
    for i, (name, ep) in enumerate(episodes.items()):
        ax.plot(*ep.pos_world[:, :2].T, color=colors(i % 10), lw=1.6, label=name)
        marker, color = OUTCOME_MARKERS[ep.outcome]
        ax.plot(*ep.pos_world[-1, :2], marker=marker, color=color, ms=7, mec="black", mew=0.6)
    start = first.pos_world[0, :2]
    ax.plot(*start, marker="^", color="tab:blue", ms=7, mec="black", mew=0.6)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)


def trajectory_grid(path: Path, seeds: Sequence[int], episodes: Mapping[int, Mapping[str, Flight]],
                    references: Mapping[int, Flight], title: str, columns: int = 3, dpi: int = 110) -> Path:
    """Top-down trajectory panels, one per seed, every model's path on it (and the expert's, dashed)."""
    plt = _plt()
    rows = max(1, math.ceil(len(seeds) / columns))
    cols = min(columns, max(1, len(seeds)))
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.4 * rows + 0.5), squeeze=False, constrained_layout=True)
    for ax in axes.flat[len(seeds):]:
        ax.axis("off")
    for ax, seed in zip(axes.flat, seeds):
        eps = episodes.get(seed, {})
        trajectory_panel(ax, eps, references.get(seed))
        outcomes = textwrap.fill(", ".join(f"{m}: {e.outcome}" for m, e in eps.items()), width=PANEL_TITLE_CHARS)
        ax.set_title(f"seed {seed}\n{outcomes}", fontsize=7)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(6, len(handles)), fontsize=8)
    note = (f"{title} (top view; start ^, sign red, approach zone dotted; end: o success, X collision, "
            f"D time-out, s out of bounds)")
    fig.suptitle(textwrap.fill(note, width=int(CHARS_PER_COLUMN * cols)), fontsize=8)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path
