"""``navlnn scenes``: write the PNG gallery of scenes (``envs.gallery``) in the run folder."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from envs.gallery import write_gallery


def run(cfg: DictConfig) -> list[Path]:
    """Render each scene's first frame (onboard and chase) and write them as one PNG."""
    scenes = list(cfg.scenes) if cfg.scenes else None
    out_dir = Path(HydraConfig.get().runtime.output_dir)
    return [write_gallery(out_dir / cfg.output, scenes=scenes, task=str(cfg.task.name), seed=int(cfg.seed))]
