"""Sharded evaluation: pool the folders of ``navlnn eval ... shard=i/n`` runs into one report.

Each shard's run folder holds its settings (``eval.json``) and its flights (``episodes/``). The
merge re-plans the evaluation from the settings, checks that the shards are the n slices of one
evaluation, and computes the metrics from their flights: the same files as one unsharded run.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable

from navlnn.evaluation.plan import BadInput, Plan, chosen, plan
from navlnn.evaluation.report import Result
from navlnn.evaluation.run import evaluate, parse_shard

RUN_ONLY = ("shard", "workers", "batch", "progress", "logger")  # settings that do not change the flights


def shard_folders(paths: Iterable[str | Path]) -> list[Path]:
    """The shard run folders among ``paths``: folders with an ``eval.json``, or sweep folders holding them."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if (path / "eval.json").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p.parent for p in path.glob("*/eval.json"))
        else:
            raise BadInput(f"shards: no folder '{path}'")
    if not found:
        raise BadInput("shards: no eval.json in the folders given; pass the run folders of navlnn eval ... shard=i/n "
                       "(or the multirun folder that holds them)")
    return found


def _settings(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "eval.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"shards: '{folder / 'eval.json'}' is unreadable ({exc})") from None
    settings = meta.get("settings")
    if not isinstance(settings, Mapping) or "checkpoint" not in settings:
        raise BadInput(f"shards: '{folder / 'eval.json'}' holds no evaluation settings (written by navlnn eval?)")
    return dict(settings)


def merged_plan(folders: list[Path]) -> tuple[Plan, dict]:
    """The plan of the evaluation the shard ``folders`` slice, and its settings; checks that they fit together."""
    settings = [_settings(f) for f in folders]
    first = {k: v for k, v in settings[0].items() if k not in RUN_ONLY}
    shards = {}
    for folder, s in zip(folders, settings):
        if {k: v for k, v in s.items() if k not in RUN_ONLY} != first:
            raise BadInput(f"shards: '{folder}' was run with other settings than '{folders[0]}'; "
                           "merge only the shards of one evaluation")
        index, count = parse_shard(s.get("shard"))
        if index in shards:
            raise BadInput(f"shards: '{folder}' and '{shards[index][0]}' are both shard {index}/{count}")
        shards[index] = (folder, count)
    counts = {count for _, count in shards.values()}
    if len(counts) != 1 or sorted(shards) != list(range(counts.pop())):
        raise BadInput(f"shards: the folders hold shards {sorted(shards)} of "
                       f"{sorted({c for _, c in shards.values()})}; every shard 0..n-1 of one evaluation is needed")
    cfg = settings[0]
    ev = cfg["eval"]
    the_plan = plan(cfg["checkpoint"], chosen(cfg, "scene", "scenes"), chosen(cfg, "task", "tasks"), int(cfg["episodes"]),
                    int(cfg["seed"]), cfg["drone"], cfg.get("expert"), ev.get("stress") or {},
                    bool(cfg["match_camera"]), bool(ev["reference_expert"]), bool(ev.get("attention", False)),
                    ev.get("attention_stress"))
    return the_plan, {**cfg, "shard": None}


def merge(paths: Iterable[str | Path], log: Callable[[str], Any] = print) -> tuple[Result, dict]:
    """The result of the evaluation whose shards ran in ``paths`` (flying nothing), and its settings."""
    folders = shard_folders(paths)
    the_plan, settings = merged_plan(folders)
    ev = settings["eval"]
    result = evaluate(the_plan, level=float(ev["level"]), resamples=int(ev["bootstrap_resamples"]),
                      bootstrap_seed=int(ev["bootstrap_seed"]), found_in=[f / "episodes" for f in folders], fly=False,
                      log=log)
    return result, settings
