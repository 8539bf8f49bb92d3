"""``navlnn collect``: fly the privileged expert and record (or resume) a dataset."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn.rollout.collect import CollectSpec, collect


def scene_tag(name: str, modifiers) -> str:
    """``summer`` or ``summer+fog``: the scene with its modifiers, for run-folder names."""
    return "+".join([str(name), *(str(m) for m in (modifiers or []))])


# used by conf/collect.yaml's run folder (registered when the command is loaded)
OmegaConf.register_new_resolver("scene_tag", scene_tag, replace=True)


def spec_from_config(cfg: DictConfig) -> CollectSpec:
    """The content-deciding part of the collect config."""
    def plain(node):
        return OmegaConf.to_container(node, resolve=True)

    return CollectSpec(scene=plain(cfg.scene), modifiers=list(cfg.modifiers or []), task=plain(cfg.task),
                       drone=plain(cfg.drone), expert=plain(cfg.expert), noise=plain(cfg.noise),
                       start=plain(cfg.start), seed=int(cfg.seed), image_codec=str(cfg.image_codec),
                       jpeg_quality=int(cfg.jpeg_quality))


def run(cfg: DictConfig) -> list[Path]:
    """Collect ``cfg.episodes`` episodes into ``cfg.data`` (default: ``<run folder>/data``)."""
    folder = Path(cfg.data) if cfg.data else Path(HydraConfig.get().runtime.output_dir) / "data"
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"data: {folder} is a file, not a dataset folder; pass data=<folder>")
    config = OmegaConf.to_container(cfg, resolve=True)
    manifest = collect(spec_from_config(cfg), folder, int(cfg.episodes), workers=cfg.workers, config=config,
                       overwrite=bool(cfg.overwrite), progress=bool(cfg.progress))
    s = manifest["summary"]
    ratio = s["raw_image_bytes"] / max(1, s["bytes"])
    print(f"{s['episodes']} episodes, {s['steps']} steps: {s['outcomes']}; "
          f"{s['bytes'] / 1e6:.1f} MB on disk, images {ratio:.1f}x smaller than raw")
    return [folder / "manifest.json", folder]
