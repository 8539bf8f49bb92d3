"""``navlnn show-data``: contact sheet or MP4 of episodes with labels drawn, and action histograms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from navlnn.data.loader import Demonstrations
from navlnn.data.show import action_histograms, contact_sheet, episode_frames, write_mp4, write_png

FORMATS = ("png", "mp4", "both")
SHOWN = ("image", "label", "action", "noise_on", "time")


def run(cfg: DictConfig) -> list[Path]:
    """Draw the chosen episodes of ``cfg.data`` and the histograms of all its actions."""
    if cfg.format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {cfg.format!r}")
    if int(cfg.scale) < 1 or int(cfg.frames_per_episode) < 1:
        raise ValueError(f"scale and frames_per_episode must be at least 1, got {cfg.scale} and {cfg.frames_per_episode}")
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    everything = Demonstrations(cfg.data, fields=("label", "action"), allow_incomplete=True)
    manifest = everything.manifest
    indices = [int(i) for i in cfg.episodes] if cfg.episodes is not None else \
        [e["index"] for e in manifest["episodes"][: int(cfg.count)]]
    demos = Demonstrations(cfg.data, fields=SHOWN, episodes=indices, allow_incomplete=True)
    written: list[Path] = []
    rows, video = [], []
    for k, row in enumerate(demos.episodes):
        arrays = demos.episode(k)
        steps = int(demos.steps[k])
        title = f"#{row['index']} {row['outcome']}"
        picks = np.unique(np.linspace(0, steps - 1, int(cfg.frames_per_episode)).round().astype(int))
        if cfg.format in ("png", "both"):
            rows.append(episode_frames(arrays, picks, int(cfg.scale), title))
        if cfg.format in ("mp4", "both"):
            video += episode_frames(arrays, range(steps), int(cfg.scale), title)
    if rows:
        written.append(write_png(out_dir / cfg.sheet, contact_sheet(rows)))
    if video:
        fps = float(cfg.fps) if cfg.fps else float(manifest["env"]["policy_hz"])
        written.append(write_mp4(out_dir / cfg.video, video, fps))
    space = manifest["action_space"]
    s = manifest["summary"]
    title = (f"{manifest['env']['scene']} / {manifest['env']['task']}: {len(everything)} episodes, "
             f"{int(everything.offsets[-1])} steps, success {100 * (s['success_rate'] or 0):.0f}%")
    written.append(action_histograms(out_dir / cfg.histograms, everything.arrays["label"], everything.arrays["action"],
                                     space["scale"], space["names"], space["units"], int(cfg.bins), title))
    return written
