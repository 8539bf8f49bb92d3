"""The pre-registration protocol: the choice is written, timestamped and hashed before any test flight.

* :func:`choose` ranks the validation cells by the spec's rule: highest validation success (training
  seeds, layouts and tasks pooled), ties to fewer collisions, then to the arm listed first (list the
  simplest recipe first), then to the checkpoint listed first.
* :func:`write_choice` writes ``choose/choice.json`` (the choice, the UTC time, the SHA-256 of the
  validation results it was made from) and records that file's own SHA-256 in ``protocol.json``. Once
  the test has started it refuses to write a different choice.
* :func:`require_choice` is the test's gate: it stops when ``choice.json`` is missing, was changed
  after it was written, or the validation results changed after the choice was made.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from navlnn.analysis.flights import binary
from navlnn.analysis.tables import write_text

CHOICE = Path("choose") / "choice.json"
PROTOCOL = "protocol.json"
TEST_STARTED = Path("test") / "started.json"


class ProtocolError(ValueError):
    """A step of the protocol out of order, or a choice changed after it was written."""


def files_hash(paths: Iterable[Path], root: Path) -> str:
    """SHA-256 over the files' names (relative to ``root``) and bytes, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        digest.update(path.resolve().relative_to(root.resolve()).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()


def validation_files(run: Path) -> list[Path]:
    """The validation stage's ``episodes.csv`` files under ``run``."""
    return sorted((run / "validate").glob("*/seed*/episodes.csv"))


def validation_cells(rows: pd.DataFrame, arms: Sequence[str], checkpoints: Sequence[str]) -> pd.DataFrame:
    """Validation success and collision rate per (head, arm, checkpoint), seeds, layouts and tasks pooled.

    ``rows``: the validation episodes with an ``arm`` column; ``checkpoints``: the candidate file stems.
    """
    table = rows.assign(head=rows["model"].astype(str),
                        checkpoint_file=rows["checkpoint"].map(lambda p: Path(str(p)).stem),
                        success=binary(rows["success"], "success"),
                        collision=binary(rows["collision"], "collision") if "collision" in rows else 0.0)
    table = table[table["checkpoint_file"].isin(checkpoints)]
    cells = (table.groupby(["head", "arm", "checkpoint_file"], sort=False)
             .agg(flights=("success", "size"), success_rate=("success", "mean"),
                  collision_rate=("collision", "mean")).reset_index())
    cells["arm_order"] = cells["arm"].map(list(arms).index)
    cells["checkpoint_order"] = cells["checkpoint_file"].map(list(checkpoints).index)
    return cells


def _ranked(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.sort_values(["success_rate", "collision_rate", "arm_order", "checkpoint_order"],
                             ascending=[False, True, True, True], kind="stable")


def choose(cells: pd.DataFrame, heads: Sequence[str], per: str) -> dict[str, dict]:
    """head -> the chosen ``{arm, checkpoint, success_rate, collision_rate, flights}``.

    ``per="head"``: each head its own best cell; ``per="study"``: one (arm, checkpoint) for every head,
    the best by validation pooled over the heads.
    """
    if cells.empty:
        raise ProtocolError("no validation flights of the candidate checkpoints: run the validate stage first")
    missing = sorted(set(heads) - set(cells["head"]))
    if missing:
        raise ProtocolError(f"no validation flights of head(s) {missing}: run the validate stage again")
    if per == "study":
        pooled = (cells.assign(wins=cells["success_rate"] * cells["flights"],
                               hits=cells["collision_rate"] * cells["flights"])
                  .groupby(["arm", "checkpoint_file", "arm_order", "checkpoint_order"]).sum(numeric_only=True)
                  .reset_index())
        pooled["success_rate"] = pooled["wins"] / pooled["flights"]
        pooled["collision_rate"] = pooled["hits"] / pooled["flights"]
        best = _ranked(pooled).iloc[0]
        picked = {h: (best["arm"], best["checkpoint_file"]) for h in heads}
    else:
        picked = {h: tuple(_ranked(cells[cells["head"] == h]).iloc[0][["arm", "checkpoint_file"]]) for h in heads}
    out = {}
    for head, (arm, checkpoint) in picked.items():
        row = cells[(cells["head"] == head) & (cells["arm"] == arm) & (cells["checkpoint_file"] == checkpoint)].iloc[0]
        out[head] = {"arm": str(arm), "checkpoint": str(checkpoint), "validation_success": float(row["success_rate"]),
                     "validation_collision": float(row["collision_rate"]), "validation_flights": int(row["flights"])}
    return out


def _json(payload: Mapping) -> str:
    return json.dumps(payload, indent=2, sort_keys=True) + "\n"


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def write_choice(run: Path, choice: Mapping[str, dict], rule: Mapping, cells: pd.DataFrame) -> Path:
    """Write ``choice.json`` (choice, rule, cells, UTC time, validation hash) and its hash in ``protocol.json``.

    Once the test has started, an identical choice is kept as written and a different one refused.
    """
    run = Path(run)
    validation_hash = files_hash(validation_files(run), run)
    path = run / CHOICE
    old = _read(path)
    if (run / TEST_STARTED).is_file():
        if old is None or old.get("choice") != dict(choice) or old.get("validation_sha256") != validation_hash:
            raise ProtocolError(f"{run / TEST_STARTED} exists: the test has started under the choice in {path}, "
                                f"and this one differs; a new choice needs a new run folder")
        return path
    payload = {"written_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"), "rule": dict(rule),
               "choice": dict(choice), "validation_sha256": validation_hash,
               "validation_files": [p.relative_to(run).as_posix() for p in validation_files(run)],
               "cells": json.loads(cells.drop(columns=["arm_order", "checkpoint_order"]).to_json(orient="records"))}
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, _json(payload))
    protocol = _read(run / PROTOCOL) or {}
    protocol.update(choice_file=CHOICE.as_posix(), choice_sha256=files_hash([path], path.parent),
                    choice_written_utc=payload["written_utc"])
    write_text(run / PROTOCOL, _json(protocol))
    return path


def require_choice(run: Path) -> dict:
    """The choice the test flies, after checking it is there and unchanged; records the test's start."""
    run = Path(run)
    path, protocol = run / CHOICE, _read(run / PROTOCOL) or {}
    if not path.is_file():
        raise ProtocolError(f"{path} is missing: the test flies only a choice written before it; run the "
                            f"choose stage first (add validate and choose to stages)")
    if protocol.get("choice_sha256") != files_hash([path], path.parent):
        raise ProtocolError(f"{path} was changed after it was written (its SHA-256 differs from the one in "
                            f"{run / PROTOCOL}); restore it, or run the study again in a new run folder")
    choice = json.loads(path.read_text())
    if choice.get("validation_sha256") != files_hash(validation_files(run), run):
        raise ProtocolError(f"the validation results under {run / 'validate'} changed after {path} was written; "
                            f"restore them, or run the study again in a new run folder")
    if not (run / TEST_STARTED).is_file():
        (run / TEST_STARTED).parent.mkdir(parents=True, exist_ok=True)
        write_text(run / TEST_STARTED, _json({"started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                              "choice_sha256": protocol["choice_sha256"]}))
    return choice
