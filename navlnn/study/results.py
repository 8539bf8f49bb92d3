"""The analyse stage: the test flights as tables (navlnn.analysis) and one RESULTS.md per run.

RESULTS.md holds the spec as run, the code revision it ran with, the choice (with its time), the
success rates with intervals over training seeds and layouts, the differences from the reference
head paired by seed and layout, and the smallest difference the study resolves per scene.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from navlnn.analysis import differences, from_episodes, markdown, per_seed, rates, resolvable_differences, write_tables
from navlnn.analysis.tables import write_text
from navlnn.study.protocol import CHOICE
from navlnn.study.spec import Spec

SEED_PATTERN = r"-seed(\d+)[/\\]checkpoints"  # train/<arm>/<head>-seed<k>/checkpoints/<file>.pt
RATE_COLUMNS = ["scene", "task", "head", "episodes", "seeds", "layouts", "rate", "ci_low", "ci_high",
                "seed_min", "seed_max", "wilson_low", "wilson_high"]
DIFFERENCE_COLUMNS = ["scene", "task", "head", "reference", "difference", "ci_low", "ci_high", "paired_by",
                      "newcombe_low", "newcombe_high"]
RESOLUTION_COLUMNS = ["scene", "task", "seeds", "layouts", "resolvable", "statement"]


def revision() -> str:
    """``git describe --always --dirty`` of the package's checkout, else the installed package version."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], cwd=Path(__file__).parent,
                             capture_output=True, text=True, timeout=10)
        if out.returncode == 0 and out.stdout.strip():
            return f"git {out.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return f"navlnn {metadata.version('navlnn')}"
    except metadata.PackageNotFoundError:
        return "unknown"


def flights_of(files: Sequence[Path]) -> pd.DataFrame:
    """The test stage's ``episodes.csv`` files as one flights table (navlnn.analysis.from_episodes)."""
    episodes = pd.concat([pd.read_csv(p) for p in files], ignore_index=True)
    return from_episodes(episodes, seed_pattern=SEED_PATTERN)


def tables(spec: Spec, flights: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """rates, collisions, per_seed and, with two heads or more, differences and resolution."""
    by = ["scene", "task"]
    out = {"rates": rates(flights, by=by, level=spec.level),
           "collisions": rates(flights, by=by, outcome="collision", level=spec.level),
           "per_seed": per_seed(flights, by=by)}
    if flights["head"].nunique() > 1:
        out["differences"] = differences(flights, reference=spec.reference, by=by, level=spec.level)
        out["resolution"] = resolvable_differences(flights, by=by, level=spec.level, seeds=spec.resolve_seeds)
    return out


def _section(title: str, table: pd.DataFrame | None, columns: Sequence[str]) -> list[str]:
    if table is None or table.empty:
        return []
    shown = table[[c for c in columns if c in table.columns]]
    return [f"## {title}", "", markdown(shown), ""]


def results_markdown(spec: Spec, found: dict[str, pd.DataFrame], choice: dict) -> str:
    """The text of RESULTS.md."""
    lines = [f"# Study {spec.name}", "", spec.description, "",
             f"Code revision: {revision()}. Choice written {choice.get('written_utc', '?')} (UTC), before any "
             f"test flight; validation SHA-256 {choice.get('validation_sha256', '?')[:16]}.", "",
             "Intervals account for training seeds and layouts (t with Satterthwaite df, never narrower than "
             "Wilson/Newcombe; docs/analysis.md).", "", "## Choice", "",
             "| head | arm | checkpoint | validation success |", "| --- | --- | --- | --- |"]
    lines += [f"| {h} | {c['arm']} | {c['checkpoint']} | {c['validation_success']:.2f} |"
              for h, c in (choice.get("choice") or {}).items()]
    lines.append("")
    lines += _section("Success rates", found.get("rates"), RATE_COLUMNS)
    lines += _section("Collision rates", found.get("collisions"), RATE_COLUMNS)
    lines += _section("Differences", found.get("differences"), DIFFERENCE_COLUMNS)
    lines += _section("Smallest resolvable difference", found.get("resolution"), RESOLUTION_COLUMNS)
    lines += ["## Spec", "", "```yaml", yaml.safe_dump(spec.raw, sort_keys=False).rstrip(), "```", ""]
    return "\n".join(lines)


def write_results(spec: Spec, run: Path, files: Sequence[Path], folder: Path) -> list[Path]:
    """Write the tables (CSV and markdown) and RESULTS.md into ``folder``; RESULTS.md first in the list."""
    found = tables(spec, flights_of(files))
    written = write_tables(found, folder)
    choice_path = Path(run) / CHOICE
    choice = json.loads(choice_path.read_text()) if choice_path.is_file() else {}
    results = write_text(Path(folder) / "RESULTS.md", results_markdown(spec, found, choice))
    return [results, *written]
