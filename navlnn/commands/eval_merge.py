"""``navlnn eval-merge``: pool the shard folders of ``navlnn eval ... shard=i/n`` into one report."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn.evaluation.report import write_report
from navlnn.evaluation.shards import merge


def run(cfg: DictConfig) -> list[Path]:
    """Merge the shards into the run folder: the files one unsharded ``navlnn eval`` writes."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    shards = config["shards"]
    result, settings = merge([shards] if isinstance(shards, str) else list(shards))
    ev = settings["eval"]
    written = write_report(result, run_dir, float(ev["level"]), int(ev["plot_episodes"]), int(ev["plot_columns"]),
                           int(ev["dpi"]), settings=settings)
    print((run_dir / "summary.md").read_text())
    return written
