"""The stages of a study, run in order in one process, each into ``<run>/<stage>/``, each resumable.

A stage that finished wrote ``<run>/<stage>/done.json`` (atomically, last) and is skipped on a
rerun. Inside a stage, a training run with its ``train_summary.json`` and an evaluation with its
``episodes.csv`` are skipped too; an interrupted one resumes through the command's own resume (the
collector keeps the episodes on disk, training resumes from ``last.pt``, evaluation from its flight
cache). The commands themselves run through ``Context.runner`` (``navlnn.commands.study`` gives the
in-process one), so a stage does what ``navlnn collect``/``train``/``eval`` does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import yaml

from navlnn.analysis.tables import write_text
from navlnn.study.protocol import choose, require_choice, validation_cells, validation_files, write_choice
from navlnn.study.results import write_results
from navlnn.study.spec import Spec
from navlnn.training.recipe import data_tag, stage_overrides

DONE = "done.json"
SPEC_FILE = "spec.yaml"
NOT_COMPARED = ("stages", "description")  # spec keys that may change between runs of one folder

Runner = Callable[[str, list[str], Path], None]  # (command, Hydra overrides, run folder of the command)


@dataclass
class Context:
    """What every stage needs: the spec, the run folder, the recipes (name -> plain data), the runner."""

    spec: Spec
    run: Path
    recipes: Mapping[str, dict]
    runner: Runner
    logger_mode: str = "offline"
    workers: int | None = None
    log: Callable[[str], None] = field(default=print)


def _listing(values) -> str:
    return "[" + ",".join(json.dumps(str(v)) for v in values) + "]"


def _workers(ctx: Context) -> list[str]:
    return [] if ctx.workers is None else [f"workers={ctx.workers}"]


def data_folder(ctx: Context, arm: str) -> Path:
    """The dataset an arm trains on (arms whose recipes collect alike share one)."""
    return ctx.run / "collect" / data_tag(ctx.recipes[arm]) / "data"


def train_folder(ctx: Context, arm: str, head: str, seed: int) -> Path:
    """The run folder of one training run: ``train/<arm>/<head>-seed<k>``."""
    return ctx.run / "train" / arm / f"{head}-seed{seed}"


def checkpoint(ctx: Context, arm: str, head: str, seed: int, name: str) -> Path:
    """``best.pt`` or ``last.pt`` of one training run."""
    return train_folder(ctx, arm, head, seed) / "checkpoints" / f"{name}.pt"


def collect(ctx: Context) -> None:
    """The summer expert demonstrations of every distinct collection among the arms."""
    spec, seen = ctx.spec, set()
    for arm in spec.arms:
        folder = data_folder(ctx, arm)
        if folder in seen:
            continue
        seen.add(folder)
        c = spec.collection
        ctx.log(f"  collect {folder.parent.name} (recipe {arm}): {c['episodes']} episodes unless the recipe sets them")
        ctx.runner("collect", [f"scene={c['scene']}", f"task={c['task']}", f"episodes={c['episodes']}",
                               f"seed={c['seed']}", *stage_overrides(ctx.recipes[arm], "collect"),
                               f"data={folder}", "progress=false", *_workers(ctx), *spec.overrides["collect"]],
                   folder.parent)


def train(ctx: Context) -> None:
    """Every arm x head x seed by behaviour cloning (``navlnn train``); finished runs are kept."""
    spec = ctx.spec
    for arm in spec.arms:
        data = data_folder(ctx, arm)
        if not (data / "manifest.json").is_file():
            raise FileNotFoundError(f"train: no dataset at {data} (arm {arm}); run the collect stage first "
                                    f"(add collect to stages)")
        for head in spec.heads:
            for seed in spec.seeds:
                folder = train_folder(ctx, arm, head, seed)
                if (folder / "train_summary.json").is_file():
                    continue
                ctx.log(f"  train {arm}/{head}-seed{seed}")
                ctx.runner("train", [f"data={data}", f"model={head}", f"seed={seed}", f"train.epochs={spec.epochs}",
                                     f"train.stride={spec.stride}", *stage_overrides(ctx.recipes[arm], "train"),
                                     f"logger.mode={ctx.logger_mode}", "progress=false", *spec.overrides["train"]],
                           folder)


def _fly(ctx: Context, checkpoints: list[Path], flights, seed: int, folder: Path) -> None:
    missing = [str(p) for p in checkpoints if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"{folder.parent.name}: checkpoint {missing[0]} is missing ({len(missing)} in all); "
                                f"run the train stage first (add train to stages)")
    if (folder / "episodes.csv").is_file():
        return
    ctx.runner("eval", [f"checkpoint={_listing(checkpoints)}", f"scenes={_listing(flights.scenes)}",
                        f"tasks={_listing(ctx.spec.tasks)}", f"episodes={flights.layouts}", f"seed={seed}",
                        f"logger.mode={ctx.logger_mode}", "progress=false", *_workers(ctx),
                        *ctx.spec.overrides["eval"]], folder)


def validate(ctx: Context) -> None:
    """Every candidate checkpoint flown on the validation scenes and seeds, one evaluation per arm and seed."""
    spec = ctx.spec
    for arm in spec.arms:
        paths = [checkpoint(ctx, arm, h, s, c) for h in spec.heads for s in spec.seeds for c in spec.checkpoints]
        for seed in spec.validation.seeds:
            ctx.log(f"  validate {arm}: {len(paths)} checkpoint(s) x {spec.validation.scenes} x "
                    f"{spec.validation.layouts} layouts, eval seed {seed}")
            _fly(ctx, paths, spec.validation, seed, ctx.run / "validate" / arm / f"seed{seed}")


def choose_stage(ctx: Context) -> None:
    """Choose by the spec's rule from the validation flights alone; write choice.json before any test."""
    spec, files = ctx.spec, validation_files(ctx.run)
    if not files:
        raise FileNotFoundError(f"choose: no validation results under {ctx.run / 'validate'}; run the validate "
                                f"stage first (add validate to stages)")
    rows = pd.concat([pd.read_csv(p).assign(arm=p.parent.parent.name) for p in files], ignore_index=True)
    cells = validation_cells(rows, spec.arms, spec.checkpoints)
    choice = choose(cells, spec.heads, spec.per)
    rule = {"per": spec.per, "metric": spec.metric, "scenes": spec.validation.scenes,
            "ties": "fewer collisions, then the arm listed first, then the checkpoint listed first"}
    path = write_choice(ctx.run, choice, rule, cells)
    for head, c in choice.items():
        ctx.log(f"  chose {head}: {c['arm']}/{c['checkpoint']} (validation success {c['validation_success']:.2f})")
    ctx.log(f"  choice written: {path}")


def test_stage(ctx: Context) -> None:
    """The test scenes and seeds, flown with the written choice only (refused if it changed)."""
    spec = ctx.spec
    choice = require_choice(ctx.run)["choice"]
    paths = [checkpoint(ctx, choice[h]["arm"], h, s, choice[h]["checkpoint"]) for h in spec.heads for s in spec.seeds]
    ctx.log("  scene check: none in the package (the benchmark scenes' own check is not shipped); skipped")
    for seed in spec.test.seeds:
        ctx.log(f"  test: {len(paths)} checkpoint(s) x {spec.test.scenes} x {spec.test.layouts} layouts, "
                f"eval seed {seed}")
        _fly(ctx, paths, spec.test, seed, ctx.run / "test" / f"seed{seed}")


def analyse(ctx: Context) -> None:
    """Tables and RESULTS.md from the test flights (navlnn.analysis)."""
    files = sorted((ctx.run / "test").glob("seed*/episodes.csv"))
    if not files:
        raise FileNotFoundError(f"analyse: no test results under {ctx.run / 'test'}; run the test stage first "
                                f"(add test to stages)")
    written = write_results(ctx.spec, ctx.run, files, ctx.run / "analyse")
    ctx.log(f"  wrote {written[0]}")


STAGE_FUNCTIONS: dict[str, Callable[[Context], None]] = {
    "collect": collect, "train": train, "validate": validate, "choose": choose_stage, "test": test_stage,
    "analyse": analyse}


def compared(raw: Mapping) -> dict:
    """The spec as compared between runs of one folder (the stages and description may change)."""
    return {k: v for k, v in raw.items() if k not in NOT_COMPARED}


def keep_spec(ctx: Context) -> None:
    """Write the spec into the run folder, or refuse a folder that holds a study of another spec."""
    path = ctx.run / SPEC_FILE
    mine = compared(ctx.spec.raw)
    if path.is_file():
        theirs = compared(yaml.safe_load(path.read_text()) or {})
        changed = sorted(k for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
        if changed:
            raise ValueError(f"{path}: this run folder holds study '{theirs.get('name')}' with other values of "
                             f"{', '.join(changed)}; restore them, or give this spec its own run folder "
                             f"(hydra.run.dir=...)")
    text = yaml.safe_dump(ctx.spec.raw, sort_keys=False)
    if not path.is_file() or path.read_text() != text:
        ctx.run.mkdir(parents=True, exist_ok=True)
        write_text(path, text)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_study(ctx: Context) -> list[Path]:
    """Run the spec's stages in order, skipping those that finished; returns the stage markers written."""
    keep_spec(ctx)
    markers, started = [], time.perf_counter()
    for name in ctx.spec.stages:
        marker = ctx.run / name / DONE
        if marker.is_file():
            ctx.log(f"[study {ctx.spec.name}] {name}: done before ({json.loads(marker.read_text())['finished_utc']}), "
                    f"skipped")
            markers.append(marker)
            continue
        t0, begun = time.perf_counter(), _now()
        ctx.log(f"[study {ctx.spec.name}] {name}: started {begun}")
        STAGE_FUNCTIONS[name](ctx)
        seconds = round(time.perf_counter() - t0, 1)
        marker.parent.mkdir(parents=True, exist_ok=True)
        write_text(marker, json.dumps({"stage": name, "started_utc": begun, "finished_utc": _now(),
                                       "seconds": seconds}, indent=2) + "\n")
        ctx.log(f"[study {ctx.spec.name}] {name}: finished in {seconds:.0f} s")
        markers.append(marker)
    ctx.log(f"[study {ctx.spec.name}] all stages done in {(time.perf_counter() - started) / 60:.1f} min")
    return markers
