"""Experiment tracking with Weights & Biases, offline by default (no account, no network).

``logger.mode``: ``offline`` (default; runs land in ``<run dir>/wandb`` and can be uploaded later
with ``wandb sync``), ``online`` (for those with an account) or ``disabled``.
Runs of one sweep share ``logger.group`` so they read as one experiment.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping, Optional

MODES = ("offline", "online", "disabled")


class Tracker:
    """A thin wrapper over a wandb run that does nothing when disabled."""

    def __init__(self, run: Any = None) -> None:
        self.run = run

    def log(self, metrics: Mapping[str, float], step: int) -> None:
        if self.run is not None:
            self.run.log(dict(metrics), step=step)

    def log_artifact(self, path: str | os.PathLike, name: str, kind: str = "model") -> None:
        if self.run is None:
            return
        import wandb

        artifact = wandb.Artifact(name, type=kind)
        artifact.add_file(str(path))
        self.run.log_artifact(artifact)

    def log_eval(self, summary: list[Mapping[str, Any]], images: list[str | os.PathLike]) -> None:
        """An evaluation: the summary as a table and its figures as images (keyed by file stem)."""
        if self.run is None:
            return
        import wandb

        columns = list(dict.fromkeys(k for row in summary for k in row))
        table = wandb.Table(columns=columns, data=[[_cell(row.get(k)) for k in columns] for row in summary])
        media = {f"eval/{Path(p).stem}": wandb.Image(str(p)) for p in images}
        self.run.log({"eval/summary": table, **media})

    def log_video(self, key: str, path: str | os.PathLike, fps: float) -> None:
        """An MP4 file as a W&B video."""
        if self.run is None:
            return
        import wandb

        self.run.log({key: wandb.Video(str(path), fps=int(round(fps)), format="mp4")})

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


def start(logger: Mapping[str, Any], config: Mapping[str, Any], run_dir: str | os.PathLike,
          name: Optional[str] = None) -> Tracker:
    """Start a run per ``logger`` (``mode``, ``project``, ``group``, ``tags``) writing under ``run_dir``."""
    mode = str(logger.get("mode", "offline"))
    if mode not in MODES:
        raise ValueError(f"logger.mode: unknown '{mode}'; valid modes: {list(MODES)}")
    if mode == "disabled":
        return Tracker()
    import wandb

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("WANDB_SILENT", "true")
    run = wandb.init(
        project=logger.get("project", "navlnn"),
        group=logger.get("group"),
        tags=list(logger.get("tags") or []),
        name=name,
        mode=mode,
        dir=str(run_dir),
        config=dict(config),
        reinit="finish_previous",
    )
    return Tracker(run)


def _cell(value: Any) -> Any:
    """A W&B table cell: lists as text, NaN as None."""
    if isinstance(value, (list, tuple)):
        return str([round(v, 4) if isinstance(v, float) else v for v in value])
    if isinstance(value, float) and value != value:
        return None
    return value
