"""``navlnn video``: an H.264 MP4 of closed-loop episodes (onboard view with saliency, chase view, map, traces)."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn import tracking
from navlnn.evaluation.plan import BadInput, check_env_fits, chosen, plan, scene_label, task_name
from navlnn.evaluation.saliency import saliency_maps
from navlnn.evaluation.video import Layout, episode_frames, neuron_groups, probe_mp4, write_mp4
from navlnn.rollout.jobs import CheckpointPolicy, EnvFactory, FlyOptions, fly


def run(cfg: DictConfig) -> list[Path]:
    """Fly the episodes, draw them and write ``video.mp4`` (and ``poster.png``) into the run folder."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    scenes, tasks = chosen(config, "scene", "scenes"), chosen(config, "task", "tasks")
    drone = dict(config["drone"])
    drone["chase_camera"] = {**drone.get("chase_camera", {}), **(config.get("chase_camera") or {})}
    try:
        if isinstance(config["checkpoint"], (list, tuple)):
            raise BadInput("checkpoint: navlnn video takes one checkpoint (navlnn eval takes several)")
        layout = Layout.from_config(config.get("layout"))
        the_plan = plan(config["checkpoint"], scenes, tasks, int(cfg.episodes), int(cfg.seed), drone, None, {},
                        bool(cfg.match_camera), reference_expert=False)
        check_env_fits(the_plan)
    except (BadInput, ValueError) as exc:
        sys.exit(f"navlnn video: {exc}")
    torch.set_num_threads(1)
    model = the_plan.models[0]
    policy = CheckpointPolicy(model.path)()
    groups = neuron_groups(policy)
    outline = bool(cfg.get("target_outline", False))
    episodes = []
    for scene in the_plan.scenes:
        for task in the_plan.tasks:
            factory = EnvFactory.of(**{**the_plan.env_factory(model, scene, task).kwargs, "render_mode": "rgb_array"})
            env = factory()
            try:
                for i, seed in enumerate(the_plan.seeds):
                    ep = fly(policy, env, seed, FlyOptions(record_images=True, record_state=True, render=True,
                                                           record_mask=outline))
                    title = f"{model.label} | {scene_label(scene)} | {task_name(task)} | episode {i} (seed {seed})"
                    print(f"{title}: {ep.outcome} after {ep.time_s[-1]:.1f} s")
                    episodes.append((ep, title))
            finally:
                env.close()
    fps = float(cfg.fps) if cfg.fps else 1.0 / episodes[0][0].env_dt
    written = []

    def frames():
        for ep, title in episodes:
            sal = saliency_maps(policy, ep.images) if cfg.saliency else None
            yield from episode_frames(ep, sal, title, layout, groups, fps, outline)

    if cfg.poster:
        ep, title = episodes[0]
        sal = saliency_maps(policy, ep.images) if cfg.saliency else None
        poster = next(itertools.islice(episode_frames(ep, sal, title, layout, groups, fps, outline),
                                      ep.steps // 2, None))
        from navlnn.data.show import write_png

        written.append(write_png(run_dir / "poster.png", poster))
    video = write_mp4(run_dir / "video.mp4", frames(), fps, int(cfg.crf))
    info = probe_mp4(video)
    print(f"video: {info['frames']} frames of {info['width']}x{info['height']} at {fps:g} fps, "
          f"{info['codec']} {info['pix_fmt']}, {video.stat().st_size / 1e6:.1f} MB")
    tracker = tracking.start(config["logger"], config, run_dir, name=f"video-{model.label}")
    try:
        tracker.log_video("video", video, fps)
    finally:
        tracker.finish()
    return [video, *written]
