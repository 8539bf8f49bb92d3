"""Tables and charts of the robust-recipe ablation from its run folder.

    python experiments/ood_recipe/summarize.py outputs/ood_recipe experiments/ood_recipe/results --arms baseline,robust

Reads ``<run>/ood/<arm>/episodes.csv`` (the test flights of each arm's validated checkpoints),
``<run>/validation/<arm>/episodes.csv``, ``<results>/choice.json`` and
``<run>/ood/choice_used.json``, and writes into the results folder:

- ``table.md``: the protocol (validation and test seeds, when the choice was written and when the
  test began), per head the success of every arm in every condition with 95% Wilson intervals,
  every arm minus baseline paired by layout (bootstrap over layouts, and the interval over training
  seeds and layouts of `navlnn.analysis`), and the summer validation;
- ``summary.csv`` (head x arm x condition), ``differences.csv``, ``validation.csv``;
- ``success-<head>.png`` (bars with intervals, arms side by side per condition) and
  ``grid-<head>.png`` (arm x condition);
- ``selection.csv`` and ``selection.png``: did the summer validation rank the arms as the test
  did? Per head and arm, the validation's success and targets reached against the test's mean and
  worst over the shifted conditions, with Spearman's rank correlation, and the choice's margin: the
  chosen arm's validation success minus each arm's, paired by validation layout (a margin whose
  interval holds 0 is a choice the validation could not make).

Reuses the out-of-distribution study's helpers (``experiments/ood_seasons/summarize.py``) with
the arm in the place of the model.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from scipy import stats

from navlnn.evaluation.metrics import bootstrap_interval
from navlnn.evaluation.report import write_csv

HERE = Path(__file__).resolve().parent
REFERENCE_ARM = "baseline"
TRAINING_SCENE = "summer"  # the test's other conditions are the shifted ones


def _module(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


study = _module("ood_seasons_summarize", HERE.parent / "ood_seasons" / "summarize.py")
protocol = _module("ood_recipe_protocol", HERE / "protocol.py")


def labelled(rows: list[dict]) -> list[dict]:
    """Episode rows with ``arm`` and ``head`` from the checkpoint path, and ``model`` set to the arm."""
    out = []
    for r in rows:
        arm, head, _ = protocol.run_of(r["checkpoint"])
        out.append({**r, "arm": arm, "head": head, "model": arm})
    return out


def ordered(values, preferred: list[str]) -> list[str]:
    """The distinct values, those in ``preferred`` first in its order."""
    seen = list(dict.fromkeys(values))
    return [v for v in preferred if v in seen] + [v for v in seen if v not in preferred]


def protocol_lines(choice: dict | None, used: dict | None) -> tuple[list[str], bool]:
    """Markdown lines on the choice and its timing, and whether the order held (choice before test)."""
    if choice is None:
        return ["**No choice.json: these results were not chosen before the test.**", ""], False
    tasks = choice["validation"].get("tasks") or ["fly_to_target"]
    lines = [f"- Validation: summer {', '.join(f'`{t}`' for t in tasks)}, `navlnn eval seed={choice['validation']['seed']}`, "
             f"{choice['validation']['episodes']} episodes per checkpoint and task; test: `seed={choice['test']['seed']}`. "
             f"No validation layout is a test layout or a training layout "
             f"({choice.get('training_episodes_checked', 0)} training episodes checked).",
             f"- Choice written {choice['written_at']}: " + "; ".join(
                 f"{h}: **{c['arm']}** ({c['checkpoint']}, summer validation {100 * c['success_rate']:.0f}% of "
                 f"{c['episodes']})" for h, c in choice["per_head"].items())]
    if choice.get("secondary"):
        lines.append(f"- Secondary rule ({choice['secondary']['rule']}): " + "; ".join(
            f"{h}: **{c['arm']}** ({c['checkpoint']}, {100 * c['progress']:.0f}% of the validation targets reached)"
            for h, c in choice["secondary"]["per_head"].items()))
    ok = used is not None and used["choice"].get("written_at") == choice["written_at"] and \
        choice["written_at"] <= used["started_at"]
    lines.append(f"- Out-of-distribution evaluation began {used['started_at'] if used else '(not run)'}: "
                 + ("after the choice, under the same choice." if ok else "**NOT after this choice.**"))
    return lines + [""], ok


def rank_correlation(x: list[float], y: list[float]) -> float:
    """Spearman's rank correlation (``scipy.stats.spearmanr``: ties share their mean rank); nan for
    fewer than 3 pairs or when a side has no spread."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.all(x == x[0]) or np.all(y == y[0]):
        return float("nan")
    return float(stats.spearmanr(x, y).statistic)


def choice_margins(validation: list[dict], choice: dict, head: str, resamples: int = 2000,
                   seed: int = 0) -> dict[str, dict]:
    """Per arm, the chosen arm's summer validation success minus this arm's, each at the checkpoint the
    primary rule picked, paired by validation layout (task and episode seed; a layout's score is its
    success averaged over the training seeds), with a percentile bootstrap interval over layouts.

    The validation flies every checkpoint on the same layouts, so pairing removes the layouts'
    difficulty from the comparison; an interval that holds 0 means the choice between the two arms
    was not one the validation could make.
    """
    picked = {arm: heads[head]["checkpoint"] for arm, heads in choice.get("per_arm", {}).items() if head in heads}
    chosen = choice.get("per_head", {}).get(head, {}).get("arm")
    if chosen not in picked:
        return {}
    score: dict[str, dict[tuple[str, str], list[bool]]] = {}
    for r in validation:
        arm, row_head, _ = protocol.run_of(r["checkpoint"])
        if row_head == head and picked.get(arm) == Path(r["checkpoint"]).name:
            score.setdefault(arm, {}).setdefault((r["task"], str(r.get("seed") or r["episode"])), []).append(study.truthy(r["success"]))
    out = {}
    for arm, layouts in score.items():
        shared = sorted(set(layouts) & set(score.get(chosen, {})))
        if arm == chosen or not shared:
            continue
        diff = np.array([np.mean(score[chosen][k]) - np.mean(layouts[k]) for k in shared])
        lo, hi = bootstrap_interval(diff, study.LEVEL, resamples, seed)
        out[arm] = {"margin": float(diff.mean()), "margin_low": float(lo), "margin_high": float(hi),
                    "layouts": len(shared)}
    return out


def selection_rows(choice: dict, summary: list[dict], head: str, arms: list[str],
                   validation: list[dict] | None = None) -> list[dict]:
    """Per arm, what the validation saw of the checkpoint the test flew, beside the test's figures;
    with ``validation`` (its episode rows) the choice's margin over the arm (``choice_margins``)."""
    margins = choice_margins(validation, choice, head) if validation else {}
    out = []
    for arm in arms:
        seen = choice.get("per_arm", {}).get(arm, {}).get(head)
        cells = {c["scene"]: c for c in summary if c["head"] == head and c["arm"] == arm}
        shifted = {s: c["success_rate"] for s, c in cells.items() if s != TRAINING_SCENE}
        if seen is None or not shifted:
            continue
        worst = min(shifted, key=shifted.get)
        out.append({"head": head, "arm": arm, "checkpoint": seen["checkpoint"],
                    "validation_success": seen["success_rate"], "validation_progress": seen.get("progress"),
                    "test_summer": cells[TRAINING_SCENE]["success_rate"] if TRAINING_SCENE in cells else None,
                    "test_shifted_mean": float(np.mean(list(shifted.values()))),
                    "test_shifted_worst": shifted[worst], "worst_condition": worst,
                    **({k: margins[arm][k] for k in ("margin", "margin_low", "margin_high")} if arm in margins
                       else {"margin": None, "margin_low": None, "margin_high": None})})
    return out


def _margin(r: dict) -> str:
    if r.get("margin") is None:
        return "chosen" if r.get("chosen") else ""
    return f"{100 * r['margin']:+.0f} [{100 * r['margin_low']:+.0f}, {100 * r['margin_high']:+.0f}]"


def selection_lines(rows: list[dict], heads: list[str]) -> list[str]:
    """Markdown: the validation's ranking of the arms against the test's, per head."""
    lines = ["## Did the summer validation rank the arms as the test did?", "",
             "Per head, each arm's checkpoint as the primary rule picked it: the summer validation's success "
             "and share of targets reached, and the test's summer, mean over the shifted conditions and worst "
             "shifted condition (%). Margin: the chosen arm's validation success minus this arm's (percentage "
             "points), paired by validation layout, 95 % bootstrap interval over layouts; an interval that holds "
             "0 is a choice the validation could not make. ρ: Spearman's rank correlation over the arms (1: the "
             "validation orders the arms as the test does; 0: no relation).", ""]
    for head in heads:
        mine = [r for r in rows if r["head"] == head]
        if not mine:
            continue
        lines += [f"**{head}**", "", "| arm | validation success | margin of the choice | targets reached | "
                  "test summer | shifted mean | worst (condition) |", "|---|---:|---:|---:|---:|---:|---|"]
        lines += [f"| {r['arm']} | {100 * r['validation_success']:.0f} | {_margin(r)} | "
                  + (f"{100 * r['validation_progress']:.0f}" if r["validation_progress"] is not None else "") + " | "
                  + (f"{100 * r['test_summer']:.0f}" if r["test_summer"] is not None else "")
                  + f" | {100 * r['test_shifted_mean']:.0f} | {100 * r['test_shifted_worst']:.0f} "
                  f"({r['worst_condition']}) |" for r in mine]
        pairs = [("validation_success", "test_shifted_mean"), ("validation_success", "test_shifted_worst")]
        if all(r["validation_progress"] is not None for r in mine):
            pairs += [("validation_progress", "test_shifted_mean"), ("validation_progress", "test_shifted_worst")]
        lines += ["", "; ".join(
            f"ρ({a.replace('_', ' ')}, {b.replace('_', ' ')}) = "
            f"{rank_correlation([r[a] for r in mine], [r[b] for r in mine]):+.2f}" for a, b in pairs)
            + f" ({len(mine)} arms)", ""]
    return lines


def selection_chart(path: Path, rows: list[dict], heads: list[str]) -> None:
    """Validation success (x) against the test's shifted mean and worst (y), one panel per head."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(heads), figsize=(5.2 * len(heads), 4.4), constrained_layout=True,
                             squeeze=False)
    for ax, head in zip(axes[0], heads):
        mine = [r for r in rows if r["head"] == head]
        x = [100 * r["validation_success"] for r in mine]
        mean = [100 * r["test_shifted_mean"] for r in mine]
        worst = [100 * r["test_shifted_worst"] for r in mine]
        ax.vlines(x, worst, mean, color="0.75", lw=0.8)
        ax.scatter(x, mean, color="tab:blue", label="test: mean over the shifted conditions", zorder=3)
        ax.scatter(x, worst, facecolors="none", edgecolors="tab:red", label="test: worst shifted condition",
                   zorder=3)
        for r, xi, yi in zip(mine, x, mean):
            ax.annotate(r["arm"], (xi, yi), textcoords="offset points", xytext=(4, 3), fontsize=7)
        rho = rank_correlation(x, mean)
        ax.set_title(f"{head}: Spearman ρ(validation, shifted mean) = {rho:+.2f}", fontsize=9)
        ax.set_xlabel("summer validation success (%), what the choice saw")
        ax.set_ylabel("test success (%)")
        ax.set_ylim(-3, 103)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="the ablation's run folder (OUT of run.sh)")
    parser.add_argument("results", type=Path, help="where the tables and charts go (holds choice.json)")
    parser.add_argument("--arms", default="", help="comma-separated arms in table order")
    args = parser.parse_args(argv)
    preferred = [a for a in args.arms.split(",") if a]
    files = sorted((args.run / "ood").glob("*/episodes.csv"))
    if not files:
        raise SystemExit(f"no out-of-distribution evaluation under {args.run / 'ood'}: run the ood stage of "
                         "experiments/ood_recipe/run.sh first")
    rows = labelled(protocol.read_rows(files))
    choice_path = args.results / "choice.json"
    choice = json.loads(choice_path.read_text()) if choice_path.is_file() else None
    used_path = args.run / "ood" / "choice_used.json"
    used = json.loads(used_path.read_text()) if used_path.is_file() else None
    arms = ordered((r["arm"] for r in rows), preferred)
    heads = list(dict.fromkeys(r["head"] for r in rows))
    scenes = list(dict.fromkeys(r["scene"] for r in rows))
    args.results.mkdir(parents=True, exist_ok=True)

    text = ["# Robust summer-only recipe: ablation", "",
            "Every arm is trained on summer images only; success on `fly_to_target` (%), 95 % Wilson interval, "
            "training seeds pooled (each seed's rate below).", ""]
    lines, in_order = protocol_lines(choice, used)
    text += lines
    summary, differences = [], []
    for head in heads:
        mine = [r for r in rows if r["head"] == head]
        cells = study.pooled(mine, arms, scenes)
        chosen = choice["per_head"].get(head, {}).get("arm") if choice else None
        second = ((choice or {}).get("secondary") or {}).get("per_head", {}).get(head, {}).get("arm")
        summary += [{"head": head, "arm": c["model"], **{k: v for k, v in c.items() if k != "model"},
                     "chosen": c["model"] == chosen, **({"secondary": c["model"] == second} if second else {})}
                    for c in cells]
        reference = REFERENCE_ARM if REFERENCE_ARM in arms else arms[0]
        # the study's helper gives reference minus arm; the ablation reads arm minus reference
        diffs = [{**d, "difference": -d["difference"], "ci_low": -d["ci_high"], "ci_high": -d["ci_low"],
                  "seeds_layouts_low": -d["seeds_layouts_high"], "seeds_layouts_high": -d["seeds_layouts_low"]}
                 for d in study.paired_differences(mine, reference, arms, scenes)]
        differences += [{"head": head, "arm": d["model"], **{k: v for k, v in d.items() if k != "model"}}
                        for d in diffs]
        label = [a + (" (chosen)" if a == chosen else "") + (" (secondary)" if a == second else "") for a in arms]
        table = study.success_table(cells, arms, scenes)
        for a, shown in zip(arms, label):
            table = table.replace(f"| {a} |", f"| {shown} |", 1)
        text += [f"## {head}", "", table,
                 f"{head}: each arm minus `{reference}` (percentage points), paired by layout, 95 % bootstrap "
                 f"interval over layouts:", "", study.difference_table(diffs, arms, scenes),
                 f"{head}: the same differences with the 95 % interval over training seeds and layouts "
                 f"(`navlnn.analysis`, paired by seed and layout; docs/analysis.md):", "",
                 study.difference_table(diffs, arms, scenes, "seeds_layouts")]
        episodes = sorted({c["episodes"] for c in cells})
        study.bar_chart(args.results / f"success-{head}.png", cells, arms, scenes,
                        episodes[0] if len(episodes) == 1 else episodes,
                        title=f"{head}, trained in summer: success by condition and recipe arm")
        study.grid_chart(args.results / f"grid-{head}.png", cells, arms, scenes)
    validation_flights = protocol.validation_rows(args.run, arms)
    validation = protocol.validation_cells(validation_flights)
    validation = [{k: v for k, v in c.items() if k != "paths"} for c in validation]
    if validation:
        text += ["## Summer validation (held-out layouts; what the choice saw)", "",
                 "| head | arm | checkpoint | episodes | success | 95 % CI | collisions | targets reached |",
                 "|---|---|---|---:|---:|---|---:|---:|"]
        text += [f"| {c['head']} | {c['arm']} | {c['checkpoint']}{'*' if c.get('same_weights_as_best') else ''} | "
                 f"{c['episodes']} | "
                 f"{100 * c['success_rate']:.0f} | [{100 * c['ci_low']:.0f}, {100 * c['ci_high']:.0f}] | "
                 f"{100 * c['collision_rate']:.0f} | {100 * c['progress']:.0f} |"
                 for c in sorted(validation, key=lambda c: (c["head"], arms.index(c["arm"]) if c["arm"] in arms
                                                            else len(arms), c["checkpoint"]))]
        if any(c.get("same_weights_as_best") for c in validation):
            text += ["", "\\* some or all of its runs' `last.pt` hold the same weights as their `best.pt` (the best "
                     "epoch was the last): those were flown once, and count with both files "
                     "(`same_weights_as_best` in validation.csv: how many episodes)."]
        write_csv(args.results / "validation.csv", validation)
    selection = [{**r, "chosen": r["arm"] == choice["per_head"].get(h, {}).get("arm")}
                 for h in heads for r in selection_rows(choice, summary, h, arms, validation_flights)] if choice else []
    if selection:
        text += [""] + selection_lines(selection, heads)
        write_csv(args.results / "selection.csv", selection)
        selection_chart(args.results / "selection.png", selection, heads)
    write_csv(args.results / "summary.csv", summary)
    if differences:
        write_csv(args.results / "differences.csv", differences)
    (args.results / "table.md").write_text("\n".join(text) + "\n")
    print("\n".join(text))
    print(f"wrote {args.results}/table.md, summary.csv, differences.csv, validation.csv, selection.csv, "
          "selection.png, "
          + ", ".join(f"success-{h}.png, grid-{h}.png" for h in heads))
    if not in_order:
        print("warning: the out-of-distribution results were not run after a written choice", file=sys.stderr)


if __name__ == "__main__":
    main()
