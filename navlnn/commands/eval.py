"""``navlnn eval``: closed-loop evaluation of checkpoint(s) x scenes x tasks x episodes."""

from __future__ import annotations

from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn import tracking
from navlnn.evaluation.plan import BadInput, check_env_fits, chosen, plan
from navlnn.evaluation.report import write_report
from navlnn.evaluation.run import evaluate, parse_shard
from navlnn.rollout.pool import default_workers


def run(cfg: DictConfig) -> list[Path]:
    """Fly, measure and write the evaluation report into the run folder; returns its files."""
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    config = OmegaConf.to_container(cfg, resolve=True)
    settings = config["eval"]
    scenes, tasks = chosen(config, "scene", "scenes"), chosen(config, "task", "tasks")
    the_plan = plan(config["checkpoint"], scenes, tasks, int(cfg.episodes), int(cfg.seed),
                    config["drone"], config.get("expert"), settings.get("stress") or {},
                    bool(cfg.match_camera), bool(settings["reference_expert"]),
                    bool(settings.get("attention", False)), settings.get("attention_stress"))
    check_env_fits(the_plan)
    shard = parse_shard(cfg.get("shard"))
    batch = int(cfg.get("batch") or 1)
    if batch < 1:
        raise BadInput(f"batch: envs stepped together per worker, at least 1; got {batch}")
    workers = default_workers() if cfg.workers is None else int(cfg.workers)
    cells = len(the_plan.models) * len(the_plan.scenes) * len(the_plan.tasks)
    print(f"evaluating {len(the_plan.models)} checkpoint(s) x {len(the_plan.scenes)} scene(s) x "
          f"{len(the_plan.tasks)} task(s) x {len(the_plan.seeds)} episodes = {cells * len(the_plan.seeds)} episodes "
          f"on {workers} worker(s) x {batch} env(s); stress: {the_plan.stress}"
          + (f"; shard {shard[0]}/{shard[1]} (merge the shards with navlnn eval-merge)" if shard[1] > 1 else ""))
    level = float(settings["level"])
    result = evaluate(the_plan, workers, bool(cfg.progress), level, int(settings["bootstrap_resamples"]),
                      int(settings["bootstrap_seed"]), cache=run_dir / "episodes", batch=batch, shard=shard)
    written = write_report(result, run_dir, level, int(settings["plot_episodes"]), int(settings["plot_columns"]),
                           int(settings["dpi"]), settings=config)
    print((run_dir / "summary.md").read_text())
    tracker = tracking.start(config["logger"], config, run_dir, name=f"eval-{'-'.join(m.label for m in the_plan.models)}")
    try:
        tracker.log_eval(result.summary, [p for p in written if p.suffix == ".png"])
    finally:
        tracker.finish()
    return written
