"""Tables as files: CSV for programs, markdown for people, each written atomically."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from navlnn.data.format import atomic_write_bytes

FORMATS = ("csv", "md")


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """``table`` as a GitHub markdown table, floats to ``digits`` decimals, empty cells for NaN."""
    head = [str(c) for c in table.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(" --- " for _ in head) + "|"]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v, digits) for v in row) + " |")
    return "\n".join(lines)


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (a reader sees the old file or the new one, never half)."""
    path = Path(path)
    atomic_write_bytes(path, lambda f: f.write(text.encode()))
    return path


def write_tables(tables: Mapping[str, pd.DataFrame], folder: Path, formats: Sequence[str] = FORMATS,
                 digits: int = 3) -> list[Path]:
    """Write each table as ``<name>.csv`` and/or ``<name>.md`` into ``folder`` (made if missing); the paths."""
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown table format(s) {unknown}; choose from {list(FORMATS)}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in tables.items():
        if not isinstance(table, pd.DataFrame):
            raise TypeError(f"table {name!r} must be a pandas DataFrame, got {type(table).__name__}")
        if "csv" in formats:
            written.append(write_text(folder / f"{name}.csv", table.to_csv(index=False)))
        if "md" in formats:
            written.append(write_text(folder / f"{name}.md", markdown(table, digits) + "\n"))
    return written
