"""Choose without peeking: summer validation on held-out layouts, a written choice, then the test.

    python experiments/ood_recipe/protocol.py check-seeds --run outputs/ood_recipe
    python experiments/ood_recipe/protocol.py checkpoints --run outputs/ood_recipe --arms baseline,robust
    python experiments/ood_recipe/protocol.py choose --run outputs/ood_recipe --choice experiments/ood_recipe/results/choice.json
    python experiments/ood_recipe/protocol.py require-choice --run outputs/ood_recipe --choice ... --arm robust

- The **test** is ``navlnn eval`` with ``seed=0`` (every committed result); the **validation** is
  ``navlnn eval scenes=[summer] seed=<validation seed>``. Evaluation env seeds are
  ``2^31 + default_rng([seed, i]).integers(2^31)`` and collection seeds are below ``2^31``, so
  validation layouts are never training layouts; ``check-seeds`` also checks, seed by seed, that
  the validation seeds meet neither the test seeds nor any training episode (expert data and
  DAgger rounds), and stops if they do.
- ``choose`` picks, per head, the recipe (arm) and the checkpoint (``best.pt`` or ``last.pt``) with
  the highest summer validation success, and writes ``choice.json`` with the time. It refuses to
  write a different choice once the out-of-distribution evaluation has started.
- A run whose ``last.pt`` holds the same weights as its ``best.pt`` (its best epoch was its last)
  is flown once: ``checkpoints`` lists ``best.pt`` alone, and ``validation_rows`` gives ``last.pt``
  the flights of ``best.pt`` (flights of equal weights on equal layouts are equal, column for
  column). The choice is the one flying both would give.
- ``require-choice`` is the gate of the out-of-distribution stage: without ``choice.json`` (or
  with a choice that changed since that stage started) it stops; otherwise it records the choice
  it ran under (``<run>/ood/choice_used.json``, with the time) and prints the checkpoints to fly.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import torch

from navlnn.evaluation.metrics import wilson_interval
from navlnn.policies.checkpoint import read_checkpoint
from navlnn.rollout.seeds import eval_seeds

TEST_SEED = 0                 # navlnn eval's default seed: the test layouts of every committed result
VALIDATION_SEED = 1           # the summer validation layouts
CANDIDATES = ("best.pt", "last.pt")   # checkpoints of a run that validation chooses between
LEVEL = 0.95
_RUN = re.compile(r"^(?P<head>.+)-seed(?P<seed>\d+)$")


class ProtocolError(SystemExit):
    """A step of the protocol run out of order or with overlapping seeds (exits with the message)."""


def training_seeds(run: Path) -> dict[int, str]:
    """Env seed -> dataset folder, for every episode of every dataset under ``run`` (expert data, DAgger rounds)."""
    seeds: dict[int, str] = {}
    for manifest in sorted(run.rglob("manifest.json")):
        try:
            payload = json.loads(manifest.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if payload.get("format") != "navlnn.demonstrations":
            continue
        for episode in payload.get("episodes") or []:
            seeds[int(episode["seed"])] = str(manifest.parent)
    return seeds


def check_disjoint(validation_seed: int, validation_episodes: int, test_seed: int, test_episodes: int,
                   train_seeds: Iterable[int] = (), validation_tasks: Sequence[str] = ("fly_to_target",)) -> dict:
    """The validation env seeds checked against the test's and the training data's; raises on any overlap.

    Every validation task flies the same env seeds (a task draws its own layout from them), so the
    check covers them all; ``validation_tasks`` is recorded with the seeds.
    """
    if int(validation_seed) == int(test_seed):
        raise ProtocolError(f"validation seed {validation_seed} is the test seed: choose another VAL_SEED "
                            f"(the test is navlnn eval seed={test_seed})")
    val = set(eval_seeds(validation_seed, validation_episodes))
    test = set(eval_seeds(test_seed, test_episodes))
    train = set(int(s) for s in train_seeds)
    if val & test:
        raise ProtocolError(f"validation seed {validation_seed} shares {len(val & test)} layouts with the test "
                            f"(seed {test_seed}): choose another VAL_SEED")
    if val & train or test & train:
        raise ProtocolError(f"{len(val & train)} validation and {len(test & train)} test layouts were flown in "
                            f"training: choose another VAL_SEED or collect with another seed")
    return {"validation": {"scene": "summer", "tasks": list(validation_tasks), "seed": int(validation_seed),
                           "episodes": int(validation_episodes)},
            "test": {"seed": int(test_seed), "episodes": int(test_episodes)},
            "training_episodes_checked": len(train),
            "overlap": {"validation_test": 0, "validation_training": 0, "test_training": 0}}


def run_of(checkpoint: str) -> tuple[str, str, str]:
    """``(arm, head, seed)`` from ``.../train/<arm>/<head>-seed<k>/[round<r>/]checkpoints/<file>``."""
    parts = Path(checkpoint).parts
    for i in range(len(parts) - 1, 0, -1):
        match = _RUN.match(parts[i])
        if match:
            return parts[i - 1], match["head"], match["seed"]
    raise ProtocolError(f"{checkpoint}: not a checkpoint of experiments/ood_recipe/run.sh (<arm>/<head>-seed<k>)")


def read_rows(paths: Iterable[Path]) -> list[dict]:
    """The episode rows of evaluation folders' ``episodes.csv``."""
    rows = []
    for path in paths:
        with open(path, newline="") as f:
            rows += list(csv.DictReader(f))
    return rows


def _truthy(value) -> bool:
    return str(value).strip().lower() in ("true", "1", "1.0")


def progress_of(row: Mapping) -> float:
    """The share of a flight's targets it reached (``targets_reached / targets``); its success where
    the row has no target count (a one-target task reads the same either way)."""
    try:
        targets = int(float(row.get("targets") or 0))
        if targets > 0:
            return min(1.0, int(float(row["targets_reached"])) / targets)
    except (KeyError, TypeError, ValueError):
        pass
    return float(_truthy(row["success"]))


def run_path(checkpoint: str) -> str | None:
    """``train/<arm>/<head>-seed<k>/.../<file>``: where ``checkpoint`` lies in any run folder of
    run.sh; None for a path of another shape."""
    parts = Path(checkpoint).parts
    for i in range(len(parts) - 1, 1, -1):
        if _RUN.match(parts[i]) and parts[i - 2] == "train":
            return Path(*parts[i - 2:]).as_posix()
    return None


def run_relative(checkpoint: str, run: Path | None) -> str:
    """``checkpoint`` relative to the run folder (so choice.json names no machine's folders): where it
    lies in it, or where it lies at the same place in another run folder whose runs this one holds
    too (round 3 reuses round 2's runs and their validation flights, hard-linked)."""
    if run is None:
        return checkpoint
    path, root = Path(checkpoint).resolve(), Path(run).resolve()
    if path.is_relative_to(root):
        return path.relative_to(root).as_posix()
    same_place = run_path(checkpoint)
    return same_place if same_place is not None and (root / same_place).is_file() else checkpoint


def validation_cells(rows: Sequence[dict], run: Path | None = None) -> list[dict]:
    """Summer validation success per (arm, head, checkpoint file), training seeds pooled; ``paths``
    relative to ``run`` where they lie in it; ``same_weights_as_best`` (only where there are some): how
    many of the cell's episodes are ``best.pt``'s flights, its weights being the same."""
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        arm, head, _ = run_of(r["checkpoint"])
        groups.setdefault((arm, head, Path(r["checkpoint"]).name), []).append(r)
    out = []
    for (arm, head, name), cell in groups.items():
        wins = sum(_truthy(r["success"]) for r in cell)
        lo, hi = wilson_interval(wins, len(cell), LEVEL)
        out.append({"arm": arm, "head": head, "checkpoint": name, "episodes": len(cell),
                    "success_rate": wins / len(cell), "ci_low": lo, "ci_high": hi,
                    "collision_rate": sum(_truthy(r.get("collision")) for r in cell) / len(cell),
                    "progress": sum(progress_of(r) for r in cell) / len(cell),
                    "paths": sorted({run_relative(r["checkpoint"], run) for r in cell})})
        copied = sum(r.get("flown_as") == CANDIDATES[0] for r in cell)
        if copied:
            out[-1]["same_weights_as_best"] = copied
    return out


STUDY_HEAD = "ncp_cfc"  # the study (every head) is rerun with this head's chosen recipe and checkpoint
SECONDARY_RULE = ("secondary, reported beside the primary choice and never instead of it: per head, among each "
                  "arm's checkpoint chosen by the primary rule, the highest mean share of targets reached over "
                  "the validation flights (pooled over tasks and training seeds), ties as the primary rule")


def choose(rows: Sequence[dict], arms: Sequence[str], run: Path | None = None) -> dict:
    """Per arm and head the better checkpoint, and per head the best arm, by summer validation only.

    Success is pooled over every validation row of a checkpoint file: the training seeds of a run
    and the validation tasks (equal episodes each, so the pooled rate is their mean). Highest success first; ties go to fewer collisions, then to the arm listed first (the simpler
    recipe: list baseline first), then to ``best.pt``. ``study``: the recipe and checkpoint the
    six-head study is rerun with, ``STUDY_HEAD``'s choice. ``secondary``: ``SECONDARY_RULE``'s
    choice per head, from the same flights (a denser score where success is near 0 or 1 for every
    arm); it picks no checkpoint the test does not fly.
    """
    cells = validation_cells(rows, run)
    if not cells:
        raise ProtocolError("no validation episodes: run the validation stage first")

    def rank(c: dict) -> tuple:
        order = arms.index(c["arm"]) if c["arm"] in arms else len(arms)
        return (-c["success_rate"], c["collision_rate"], order, CANDIDATES.index(c["checkpoint"])
                if c["checkpoint"] in CANDIDATES else len(CANDIDATES))

    per_arm: dict[str, dict[str, dict]] = {}
    for c in sorted(cells, key=rank):
        per_arm.setdefault(c["arm"], {}).setdefault(c["head"], c)
    per_head: dict[str, dict] = {}
    for c in sorted((c for heads in per_arm.values() for c in heads.values()), key=rank):
        per_head.setdefault(c["head"], c)
    lead = STUDY_HEAD if STUDY_HEAD in per_head else sorted(per_head)[0]
    study = {"head": lead, "recipe": per_head[lead]["arm"], "checkpoint": per_head[lead]["checkpoint"]}
    # the secondary rule ranks the same per-arm checkpoints (the ones the test flies) by progress
    secondary: dict[str, dict] = {}
    for c in sorted((c for heads in per_arm.values() for c in heads.values()),
                    key=lambda c: (-c["progress"], *rank(c))):
        secondary.setdefault(c["head"], c)
    return {"per_head": per_head, "per_arm": per_arm, "study": study,
            "secondary": {"rule": SECONDARY_RULE, "per_head": secondary}}


def write_choice(path: Path, choice: dict, seeds: dict, ood_dir: Path) -> dict:
    """Write ``choice.json`` (with the time); refuse to change it once the OOD evaluation has started."""
    used = ood_dir / "choice_used.json"
    if used.is_file():
        before = json.loads(used.read_text())["choice"]
        if any(before.get(k) != json.loads(json.dumps(choice.get(k)))
               for k in ("per_head", "per_arm", "study", "secondary")):
            raise ProtocolError(f"the out-of-distribution evaluation already ran under another choice ({used}); "
                                f"a choice may not change after the test was seen")
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(before, indent=2) + "\n")
        return before
    record = {"written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "rule": "per head: highest summer validation success (pooled over training seeds and validation "
                      "tasks), then fewer collisions, then the arm listed "
                      "first, then best.pt; chosen before any out-of-distribution evaluation; the study is rerun "
                      f"with {STUDY_HEAD}'s recipe and checkpoint",
              **seeds, **choice}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n")
    tmp.replace(path)
    return record


def require_choice(path: Path, ood_dir: Path, test_seed: int) -> dict:
    """The gate of the OOD stage: the written choice (refused if missing, for another test, or changed)."""
    if not path.is_file():
        raise ProtocolError(f"{path} is missing: the out-of-distribution evaluation runs only after the choice "
                            f"is written (run the validation and choose stages first)")
    choice = json.loads(path.read_text())
    if int(choice["test"]["seed"]) != int(test_seed):
        raise ProtocolError(f"{path} was checked against test seed {choice['test']['seed']}, not {test_seed}")
    used = ood_dir / "choice_used.json"
    if used.is_file():
        if json.loads(used.read_text())["choice"] != choice:
            raise ProtocolError(f"{path} changed after the out-of-distribution evaluation started ({used}); "
                                f"restore it or start a new run folder")
    else:
        ood_dir.mkdir(parents=True, exist_ok=True)
        used.write_text(json.dumps({"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                    "choice": choice}, indent=2) + "\n")
    return choice


def same_weights(a: Path, b: Path) -> bool:
    """Whether two checkpoints hold the same policy: model config, camera and every tensor equal."""
    x, y = read_checkpoint(a), read_checkpoint(b)
    if x["model"] != y["model"] or list(x["image_hw"]) != list(y["image_hw"]):
        return False
    wx, wy = x["state_dict"], y["state_dict"]
    return wx.keys() == wy.keys() and all(torch.equal(wx[k], wy[k]) for k in wx)


def _run_checkpoints(run: Path, arms: Sequence[str]) -> list[Path]:
    """The checkpoint folder of every run of the arms (the final DAgger round's where there are rounds)."""
    out = []
    for arm in arms:
        for folder in sorted((run / "train" / arm).glob("*-seed*")):
            rounds = sorted(folder.glob("round*/checkpoints"), key=lambda p: int(p.parent.name[5:]))
            out.append(rounds[-1] if rounds else folder / "checkpoints")
    return out


def duplicates(run: Path, arms: Sequence[str] | None = None) -> dict[Path, Path]:
    """``last.pt -> best.pt`` (resolved) of every run whose two candidates hold the same weights.

    ``arms``: all arms under ``run/train`` when None.
    """
    if arms is None:
        arms = sorted(p.name for p in (run / "train").glob("*") if p.is_dir())
    out = {}
    for ckpts in _run_checkpoints(run, arms):
        best, last = ckpts / CANDIDATES[0], ckpts / CANDIDATES[1]
        if best.is_file() and last.is_file() and same_weights(best, last):
            out[last.resolve()] = best.resolve()
    return out


def candidate_checkpoints(run: Path, arms: Sequence[str], skip_duplicates: bool = True) -> list[Path]:
    """Every candidate checkpoint of the arms' runs to fly (a ``last.pt`` equal to its ``best.pt`` left
    out unless ``skip_duplicates`` is False)."""
    same = duplicates(run, arms) if skip_duplicates else {}
    return [ckpts / name for ckpts in _run_checkpoints(run, arms) for name in CANDIDATES
            if (ckpts / name).is_file() and (ckpts / name).resolve() not in same]


def validation_rows(run: Path, arms: Sequence[str] | None = None) -> list[dict]:
    """The validation's episode rows, with the flights of ``best.pt`` copied to a ``last.pt`` of the same
    weights that was not flown itself (``flown_as`` names the file flown)."""
    rows = read_rows(sorted((run / "validation").glob("*/episodes.csv")))
    flown: dict[str, list[dict]] = {}
    for r in rows:  # keyed relative to the run, so reused flights named in another run folder count
        flown.setdefault(run_relative(r["checkpoint"], run), []).append(r)
    copies = []
    for last, best in duplicates(run, arms).items():
        if run_relative(str(last), run) not in flown:
            copies += [{**r, "checkpoint": str(last), "flown_as": CANDIDATES[0]}
                       for r in flown.get(run_relative(str(best), run), [])]
    return rows + copies


def hydra_list(paths: Iterable) -> str:
    return "[" + ",".join(str(p) for p in paths) + "]"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=("check-seeds", "checkpoints", "choose", "require-choice"))
    parser.add_argument("--run", type=Path, required=True, help="the ablation's run folder (OUT of run.sh)")
    parser.add_argument("--choice", type=Path, help="choice.json")
    parser.add_argument("--arms", default="", help="comma-separated arms, simplest first")
    parser.add_argument("--arm", default=None, help="require-choice: print this arm's chosen checkpoints")
    parser.add_argument("--heads", default="", help="require-choice: only these heads' checkpoints (comma-separated; "
                        "default: every head)")
    parser.add_argument("--val-seed", type=int, default=VALIDATION_SEED)
    parser.add_argument("--val-episodes", type=int, default=30)
    parser.add_argument("--test-seed", type=int, default=TEST_SEED)
    parser.add_argument("--test-episodes", type=int, default=50)
    parser.add_argument("--val-tasks", default="fly_to_target",
                        help="comma-separated summer tasks the validation flies (recorded in choice.json)")
    args = parser.parse_args(argv)
    arms = [a for a in args.arms.split(",") if a]
    tasks = [t for t in args.val_tasks.strip("[]").split(",") if t]
    seeds = lambda: check_disjoint(args.val_seed, args.val_episodes, args.test_seed, args.test_episodes,  # noqa: E731
                                   training_seeds(args.run), tasks)
    if args.step == "check-seeds":
        print(json.dumps(seeds()))
    elif args.step == "checkpoints":
        found = candidate_checkpoints(args.run, arms)
        if not found:
            raise ProtocolError(f"no checkpoints under {args.run}/train for arms {arms}: run the train stage first")
        print(hydra_list(found))
    elif args.step == "choose":
        rows = validation_rows(args.run, arms or None)
        record = write_choice(args.choice, choose(rows, arms, args.run), seeds(), args.run / "ood")
        for head, c in record["per_head"].items():
            print(f"chosen for {head}: {c['arm']} ({c['checkpoint']}), summer validation "
                  f"{100 * c['success_rate']:.0f}% of {c['episodes']}", file=sys.stderr)
        study = record["study"]
        print(f"the study is rerun with recipe {study['recipe']} ({study['checkpoint']}), {study['head']}'s choice",
              file=sys.stderr)
        for head, c in record["secondary"]["per_head"].items():
            print(f"secondary rule for {head}: {c['arm']} ({c['checkpoint']}), {100 * c['progress']:.0f}% of the "
                  f"targets reached", file=sys.stderr)
        print(args.choice)
    else:
        choice = require_choice(args.choice, args.run / "ood", args.test_seed)
        if args.arm is not None:
            wanted = [h for h in args.heads.split(",") if h]
            heads = {h: c for h, c in choice["per_arm"].get(args.arm, {}).items() if not wanted or h in wanted}
            if not heads:
                raise ProtocolError(f"{args.choice} has no validated checkpoint of arm '{args.arm}'"
                                    + (f" for {', '.join(wanted)}" if wanted else ""))
            print(hydra_list(args.run / p for c in heads.values() for p in c["paths"]))  # an absolute p stays as is


if __name__ == "__main__":
    main()
