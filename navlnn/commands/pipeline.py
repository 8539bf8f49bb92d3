"""``navlnn pipeline``: collect -> train -> eval -> video, each stage its own resumable navlnn command."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from navlnn.training.recipe import dagger_rounds, flatten, stage_overrides

STAGES = ("collect", "train", "eval", "video")
TAIL_BYTES = 6000  # output of a failed stage repeated in the error


class StageFailed(ChildProcessError):
    """A stage's command failed; its output has been shown as it ran."""


def _listing(values) -> str:
    return "[" + ",".join(str(v) for v in values) + "]"


def final_checkpoint(cfg: DictConfig, run_dir: Path) -> Path:
    """The checkpoint the eval and video stages fly: the train stage's best, or the last DAgger round's."""
    rounds = dagger_rounds(_recipe(cfg))
    train_dir = run_dir / "train"
    return (train_dir / f"round{rounds}" if rounds > 0 else train_dir) / "checkpoints" / "best.pt"


def _recipe(cfg: DictConfig) -> dict:
    return OmegaConf.to_container(cfg.recipe, resolve=True) if cfg.get("recipe") is not None else {}


def check_model_keys(cfg: DictConfig, recipe: dict) -> None:
    """Refuse a recipe whose ``model.*`` keys the chosen model does not have (say,
    ``model.head.input_norm`` with ``model=gru_ode``), before any stage runs."""
    for item in flatten("model", recipe.get("model") or {}):
        key = item.split("=", 1)[0]
        if OmegaConf.select(cfg, key, default=_ABSENT) is _ABSENT:
            raise ValueError(f"the recipe ({recipe.get('description', 'recipe')}) sets {key}, which model "
                             f"'{cfg.model.name}' does not have; pick a model that has it (conf/model/) or "
                             f"another recipe")


_ABSENT = object()


def stage_commands(cfg: DictConfig, run_dir: Path) -> dict[str, list[str]]:
    """The navlnn command line of every stage (each writes into ``run_dir/<stage>``).

    The recipe's overrides come first, then the pipeline's own keys, then ``overrides.<stage>``
    (the last value of a key wins in Hydra).
    """
    data = run_dir / "collect" / "data"
    checkpoint = final_checkpoint(cfg, run_dir)
    workers = [] if cfg.workers is None else [f"workers={cfg.workers}"]
    logger = f"logger.mode={cfg.logger_mode}"
    extra = OmegaConf.to_container(cfg.overrides, resolve=True)
    scene, task, model = cfg.scene.name, cfg.task.name, cfg.model.name
    recipe = _recipe(cfg)
    check_model_keys(cfg, recipe)
    rounds = dagger_rounds(recipe)
    learner = "dagger" if rounds > 0 else "train"
    return {
        "collect": ["collect", f"scene={scene}", f"task={task}", *stage_overrides(recipe, "collect"),
                    f"episodes={cfg.episodes}", f"seed={cfg.seed}", f"data={data}", *workers, *extra["collect"]],
        "train": [learner, f"data={data}", f"model={model}", f"seed={cfg.seed}", *stage_overrides(recipe, learner),
                  f"train.epochs={cfg.epochs}", f"train.stride={cfg.train_stride}", logger,
                  *(workers if rounds > 0 else []), *extra["train"]],
        "eval": ["eval", f"checkpoint={checkpoint}", f"scenes={_listing(cfg.eval.scenes)}", f"tasks=[{task}]",
                 f"episodes={cfg.eval.episodes}", f"seed={cfg.seed}", logger, *workers, *extra["eval"]],
        "video": ["video", f"checkpoint={checkpoint}", f"scenes={_listing(cfg.video.scenes)}", f"tasks=[{task}]",
                  f"episodes={cfg.video.episodes}", f"seed={cfg.seed}", logger, *extra["video"]],
    }


def _run_stage(name: str, args: list[str], folder: Path, searchpath: Sequence[str] = ()) -> None:
    """Run one stage with its output passed through as is (progress bars included); raises naming the
    stage, with its last output, on failure. ``searchpath``: the pipeline's own config folders (a scene
    or model of one's own), handed on to the stage."""
    forwarded = [f"hydra.searchpath=[{','.join(searchpath)}]"] if searchpath else []
    command = [sys.executable, "-m", "navlnn.cli", *args, *forwarded, f"hydra.run.dir={folder}"]
    print(f"\n=== {name}: navlnn {' '.join(args)}", flush=True)
    started = time.perf_counter()
    tail = bytearray()
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) as proc:
        while chunk := proc.stdout.read1(4096):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            tail = (tail + chunk)[-TAIL_BYTES:]
    if proc.returncode != 0:
        last = [line for line in tail.decode(errors="replace").splitlines() if line.strip()]
        cause = f": {last[-1].strip()}" if last else ""
        raise StageFailed(f"stage '{name}' failed (exit {proc.returncode}){cause}; fix the cause (its output is "
                          f"above) and run the same command again to resume")
    print(f"=== {name} done in {time.perf_counter() - started:.0f} s", flush=True)


def run(cfg: DictConfig) -> list[Path]:
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    commands = stage_commands(cfg, run_dir)
    started = time.perf_counter()
    timings = {}
    for name in STAGES:
        t0 = time.perf_counter()
        _run_stage(name, commands[name], run_dir / name, list(HydraConfig.get().searchpath))
        timings[name] = time.perf_counter() - t0
    table = run_dir / "eval" / "summary.md"
    chart = run_dir / "eval" / "success.png"
    videos = sorted((run_dir / "video").glob("*.mp4"))
    print(f"\npipeline finished in {(time.perf_counter() - started) / 60:.1f} min "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    if table.exists():
        print("\n" + table.read_text())
    return [table, chart, *videos, final_checkpoint(cfg, run_dir)]
