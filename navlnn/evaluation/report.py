"""Evaluation report: the metrics of the flown episodes and the files of the evaluation output.

:func:`measure` turns flights into one row per episode and one summary row per model x scene x
task (with bootstrap intervals); :func:`write_report` writes ``episodes.csv``/``.json``,
``summary.json``/``.csv``/``.md``, ``success.png``, ``trajectories/*.png`` and ``eval.json``,
each written whole or not at all (a temporary file renamed into place).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from navlnn.data.format import atomic_write_bytes
from navlnn.evaluation.metrics import aggregate, episode_metrics, path_length
from navlnn.evaluation.plan import Plan, scene_label, task_name
from navlnn.rollout.flight import Flight
from navlnn.rollout.seeds import EVAL_SEED_SCHEME

SUMMARY_KEYS = ("model", "scene", "task")  # one summary row per model x scene x task


@dataclass
class Result:
    """What an evaluation produced."""

    plan: Plan
    rows: list[dict]
    summary: list[dict]
    episodes: list[Flight]
    references: dict  # (scene, task, seed) -> the expert's Flight


def measure(plan_: Plan, flown: Sequence[Flight], level: float = 0.95, resamples: int = 2000,
            bootstrap_seed: int = 0) -> Result:
    """The rows (one per policy episode, with the expert's path on the same seed for the path ratio)
    and the summary (intervals at ``level`` from ``resamples`` bootstrap resamples) of ``flown``."""
    references = {(e.tags["scene"], e.tags["task"], e.seed): e for e in flown if e.tags["kind"] == "expert"}
    episodes = [e for e in flown if e.tags["kind"] == "policy"]
    rows = []
    for ep in episodes:
        ref = references.get((ep.tags["scene"], ep.tags["task"], ep.seed))
        expert_path = path_length(ref.pos_world) if ref is not None and ref.success else None
        rows.append({"model": ep.tags["model"], "scene": ep.tags["scene"], "task": ep.tags["task"],
                     "stress": plan_.stress, "episode": ep.tags["episode"], "seed": ep.seed,
                     "checkpoint": ep.tags["checkpoint"], **episode_metrics(ep, expert_path),
                     "expert_outcome": ref.outcome if ref is not None else ""})
    summary = aggregate(rows, SUMMARY_KEYS, level, resamples, bootstrap_seed)
    for s in summary:
        s["stress"] = plan_.stress
    return Result(plan_, rows, summary, episodes, references)


def _clean(value: Any) -> Any:
    """NaN and inf -> None (strict JSON); numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _csv_value(value: Any) -> Any:
    value = _clean(value)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_text(path: Path, text: str) -> Path:
    """``text`` into ``path``, whole or not at all."""
    atomic_write_bytes(Path(path), lambda f: f.write(text.encode()))
    return Path(path)


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows as CSV (lists as JSON text, NaN as empty)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO(newline="")
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return write_text(path, buffer.getvalue())


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.0f}"


def _num(x: Optional[float], fmt: str = ".2f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def markdown_table(summary: Sequence[Mapping[str, Any]], ci: str = "ci95") -> str:
    """The summary as a markdown table (rates in %, with their intervals)."""
    head = ["model", "scene", "task", "episodes", f"success % [{ci}]", "collision %", "time-out %", "out of bounds %",
            "time to target s", "path / expert", "min clearance m", "command roughness"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in summary:
        lo, hi = r[f"success_{ci}"]
        lines.append("| " + " | ".join([
            str(r["model"]), str(r["scene"]), str(r["task"]), str(r["episodes"]),
            f"{_pct(r['success_rate'])} [{_pct(lo)}, {_pct(hi)}]", _pct(r["collision_rate"]), _pct(r["timeout_rate"]),
            _pct(r["out_of_bounds_rate"]), _num(r["time_to_target_s"], ".1f"), _num(r["path_ratio"]),
            _num(r["min_clearance_m"]), _num(r["command_roughness"])]) + " |")
    return "\n".join(lines) + "\n"


def attention_table(summary: Sequence[Mapping[str, Any]], ci: str = "ci95") -> str:
    """The attention figures of the summary as a markdown table ("" where none were measured)."""
    if not any("target_attention" in r for r in summary):
        return ""
    head = ["model", "scene", "task", "episodes", f"target attention [{ci}]", "episodes target seen",
            f"saliency SSIM [{ci}]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in summary:
        def cell(name: str) -> str:
            lo, hi = r.get(f"{name}_{ci}", (math.nan, math.nan))
            return f"{_num(r.get(name, math.nan))} [{_num(lo)}, {_num(hi)}]"

        lines.append("| " + " | ".join([str(r["model"]), str(r["scene"]), str(r["task"]), str(r["episodes"]),
                                         cell("target_attention"), str(r.get("target_attention_episodes", 0)),
                                         cell("saliency_ssim")]) + " |")
    return "\n".join(lines) + "\n"


def summary_markdown(result: Result, ci: str) -> str:
    """``summary.md``: a title naming the episodes and the stress, the table, and the attention table if measured."""
    p = result.plan
    title = (f"Closed-loop evaluation: {len(p.seeds)} episodes per checkpoint, scene and task (checkpoints of one "
             f"model pooled in its row), stress: {p.stress}\n\n")
    attention = attention_table(result.summary, ci)
    if attention:
        probe = p.attention_perturb.describe() if p.attention_perturb is not None else ""
        attention = ("\nWhere the policy looks (VisualBackProp saliency): target attention is the share of "
                     "the saliency on the target's pixels over the share of the image they cover (1: chance), "
                     "the mean over the frames the target was seen in, per episode, then over the episodes "
                     "that saw it; saliency SSIM compares each frame's saliency with that of the frame "
                     + (f"perturbed by {probe}" if probe else "as the policy saw it (stress: "
                        f"{p.perturb.describe() or 'none, so 1'})") + ".\n\n" + attention)
    return title + markdown_table(result.summary, ci) + attention


def _trajectories(result: Result, folder: Path, plot_episodes: int, plot_columns: int, dpi: int) -> list[Path]:
    """One grid of the first ``plot_episodes`` seeds' trajectories per scene x task (the flown ones)."""
    from navlnn.evaluation.plots import trajectory_grid

    p, written = result.plan, []
    seeds = p.seeds[:max(0, int(plot_episodes))]
    for scene in (scene_label(s) for s in p.scenes):
        for task in (task_name(t) for t in p.tasks):
            if not seeds:
                break
            by_seed: dict[int, dict[str, Flight]] = {}
            for ep in result.episodes:
                if ep.tags["scene"] == scene and ep.tags["task"] == task and ep.seed in seeds:
                    by_seed.setdefault(ep.seed, {}).setdefault(ep.tags["model"], ep)
            refs = {s: result.references[(scene, task, s)] for s in seeds if (scene, task, s) in result.references}
            flown = [s for s in seeds if s in by_seed]  # a shard flies some of the seeds
            if not flown:
                continue
            name = f"{task}-{scene}".replace("+", "_")
            written.append(trajectory_grid(folder / "trajectories" / f"{name}.png", flown, by_seed, refs,
                                           f"{task} in {scene}", plot_columns, dpi))
    return written


def write_report(result: Result, folder: Path, level: float = 0.95, plot_episodes: int = 6, plot_columns: int = 3,
                 dpi: int = 120, settings: Optional[Mapping] = None) -> list[Path]:
    """Write episodes.csv/.json, summary.json/.csv/.md, success.png, trajectories/*.png and eval.json into ``folder``."""
    from navlnn.evaluation.plots import success_chart

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ci = f"ci{round(level * 100)}"
    p = result.plan
    written = [write_csv(folder / "episodes.csv", result.rows),
               write_text(folder / "episodes.json", json.dumps(_clean(result.rows), indent=1) + "\n"),
               write_text(folder / "summary.json", json.dumps(_clean(result.summary), indent=2) + "\n"),
               write_csv(folder / "summary.csv", result.summary),
               write_text(folder / "summary.md", summary_markdown(result, ci)),
               success_chart(folder / "success.png", result.summary, f"success_{ci}", dpi)]
    written += _trajectories(result, folder, plot_episodes, plot_columns, dpi)
    meta = {"seeds": p.seeds, "seed_scheme": EVAL_SEED_SCHEME, "stress": p.stress,
            "models": [m.__dict__ for m in p.models], "scenes": [scene_label(s) for s in p.scenes],
            "tasks": [task_name(t) for t in p.tasks], "level": level, "settings": dict(settings or {})}
    written.append(write_text(folder / "eval.json", json.dumps(_clean(meta), indent=2, default=str) + "\n"))
    return written
