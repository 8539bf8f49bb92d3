"""Closed-loop evaluation of checkpoints x scenes x tasks x seeds, and its report files.

:func:`plan` checks the inputs (one clear message per bad input) and lists the episodes;
:func:`evaluate` flies them through :mod:`navlnn.rollout` (and the expert once per seed, scene and task, for
the path ratio); :func:`write_report` writes the files of the evaluation output contract.

Seed scheme: episode ``i`` of an evaluation with ``seed`` flies env seed
``2^31 + default_rng([seed, i]).integers(2^31)``. Collection seeds are below ``2^31``
(:data:`navlnn.data.collect.SEED_BITS`), so evaluation layouts and starts are never ones a
policy was trained on; every checkpoint and scene gets the same seeds (paired comparisons).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from navlnn.data.collect import SEED_BITS
from navlnn.evaluation.metrics import aggregate, episode_metrics, path_length
from navlnn.evaluation.stress import FrameTiming, ImagePerturbation
from navlnn.rollout.flight import Flight, load_flight, save_flight
from navlnn.rollout.jobs import (
    CheckpointPolicy,
    EnvFactory,
    ExpertFactory,
    FlyOptions,
    Job,
    job_key,
    run_jobs,
    scene_groups,
)

EVAL_SEED_OFFSET = 2**SEED_BITS


class BadInput(ValueError):
    """An evaluation input that cannot work (the message names it and the fix)."""


def eval_seeds(seed: int, episodes: int) -> list[int]:
    """The env seeds of an evaluation (see the module docstring): all >= 2^31, disjoint from collection seeds."""
    return [EVAL_SEED_OFFSET + int(np.random.default_rng([int(seed), i]).integers(2**SEED_BITS))
            for i in range(int(episodes))]


@dataclass(frozen=True)
class Model:
    """A checkpoint to evaluate: its path, label (the model name) and camera."""

    path: str
    label: str
    image_hw: tuple[int, int]
    action_space: dict = field(default_factory=dict)
    train_seed: Optional[int] = None


@dataclass
class Plan:
    """Everything an evaluation flies."""

    models: list[Model]
    scenes: list  # names, or mappings (a scene config with overrides)
    tasks: list  # names, or mappings (a task config with overrides)
    seeds: list[int]
    drone: dict
    expert: Optional[dict]
    perturb: ImagePerturbation
    timing: FrameTiming
    wind: dict
    reference_expert: bool = True
    attention: bool = False  # measure target_attention and saliency_ssim (navlnn.evaluation.saliency)
    attention_perturb: Optional[ImagePerturbation] = None  # saliency_ssim's perturbation; None: the stress's

    @property
    def stress(self) -> str:
        parts = [self.perturb.describe(), self.timing.describe(),
                 f"wind={self.wind.get('gust_std', 0):g}" if self.wind.get("enabled") else ""]
        return ";".join(p for p in parts if p) or "none"

    def env_factory(self, model: Model, scene: str | Mapping, task: str | Mapping) -> EnvFactory:
        drone = json.loads(json.dumps(self.drone))
        drone.setdefault("camera", {})
        drone["camera"] = {**drone["camera"], "height": model.image_hw[0], "width": model.image_hw[1]}
        drone["wind"] = {**drone.get("wind", {}), **self.wind}
        return EnvFactory.of(scene=scene, task=task, drone=drone)


def scene_label(scene: str | Mapping) -> str:
    """The label of a scene given by name (``"winter+fog"``) or as a mapping: its ``label`` key
    when set (``+scene.label=...``, for a scene with overridden settings), else name and modifiers."""
    from envs.scene import resolve_scene

    if not isinstance(scene, Mapping):
        return str(scene)
    return str(scene.get("label") or resolve_scene(scene)["full_name"])


def chosen(config: Mapping, one: str, many: str) -> list:
    """``[config[one]]`` when the config group ``one`` was selected (``scene=fall``, with its
    overrides), else the list ``config[many]`` (``scenes=[...]``)."""
    return [config[one]] if config.get(one) else config[many]


def task_name(task: str | Mapping) -> str:
    """The name of a task given by name or as a mapping."""
    return str(task.get("name")) if isinstance(task, Mapping) else str(task)


def _as_list(value: Any, key: str) -> list:
    if value is None:
        raise BadInput(f"{key}: no value; give one or a list, e.g. {key}=[a,b]")
    if isinstance(value, (str, int, float, Mapping)):
        return [value]
    out = list(value)
    if not out:
        raise BadInput(f"{key}: an empty list; give at least one")
    return out


def _model(path: str, image_hw_env: Optional[tuple[int, int]]) -> Model:
    from navlnn.policies.checkpoint import action_space_spec, read_checkpoint

    try:
        payload = read_checkpoint(path)
    except (FileNotFoundError, ValueError) as exc:
        lines = str(exc).strip().splitlines()  # torch's unpickling errors run over many lines
        raise BadInput(lines[0] + (" ...)" if len(lines) > 1 else "")) from None
    hw = tuple(int(v) for v in payload.get("image_hw", ()))
    if len(hw) != 2:
        raise BadInput(f"checkpoint {path}: no camera size recorded (image_hw); it was not written by navlnn train")
    if image_hw_env is not None and hw != tuple(image_hw_env):
        raise BadInput(f"checkpoint {path}: trained for a {hw[1]}x{hw[0]} camera, the env gives "
                       f"{image_hw_env[1]}x{image_hw_env[0]}; evaluate with match_camera=true, or set "
                       f"drone.camera.width={hw[1]} drone.camera.height={hw[0]}")
    action_space = dict(payload.get("action_space") or {})
    if action_space != action_space_spec():
        raise BadInput(f"checkpoint {path}: action space {action_space} does not fit the env's "
                       f"{action_space_spec()} ([vx, vy, vz, yaw_rate] in [-1, 1]); retrain with navlnn train")
    model = dict(payload.get("model") or {})
    seed = (payload.get("run_config") or {}).get("seed") if isinstance(payload.get("run_config"), Mapping) else None
    return Model(str(path), str(model.get("name", Path(path).stem)), hw, action_space, seed)


def plan(checkpoints: Any, scenes: Any, tasks: Any, episodes: int, seed: int, drone: Mapping, expert: Optional[Mapping],
         stress: Mapping, match_camera: bool = True, reference_expert: bool = True, attention: bool = False,
         attention_stress: Optional[Mapping] = None) -> Plan:
    """Check the inputs and list what to fly; raises :class:`BadInput` with one clear message.

    ``attention``: also measure where the policies look; ``attention_stress``: the image
    perturbation (keys of ``stress.image``) that ``saliency_ssim`` compares against (None: the
    frames as the policy saw them, under ``stress.image``)."""
    from envs.scene import resolve_scene
    from envs.tasks import task_names

    if int(episodes) < 1:
        raise BadInput(f"episodes must be at least 1, got {episodes}")
    drone = json.loads(json.dumps(dict(drone)))
    camera = drone.get("camera") or {}
    env_hw = None if match_camera else (int(camera["height"]), int(camera["width"]))
    models = [_model(str(p), env_hw) for p in _as_list(checkpoints, "checkpoint")]
    scene_list = [json.loads(json.dumps(dict(s))) if isinstance(s, Mapping) else str(s) for s in _as_list(scenes, "scene")]
    for scene in scene_list:
        try:
            resolve_scene(scene)
        except ValueError as exc:
            raise BadInput(f"scene: {exc}") from None
    labels = [scene_label(s) for s in scene_list]
    if len(set(labels)) < len(labels):
        raise BadInput(f"scene: two scenes share the label '{max(set(labels), key=labels.count)}'; "
                       "give a scene with overridden settings a label of its own (+scene.label=...)")
    task_list: list = []
    for task in _as_list(tasks, "task"):
        name = task_name(task)
        if name not in task_names():
            raise BadInput(f"task: unknown task '{name}'. Valid tasks: {', '.join(task_names())}.")
        task_list.append(json.loads(json.dumps(dict(task))) if isinstance(task, Mapping) else name)
    stress = dict(stress or {})
    unknown = sorted(set(stress) - {"image", "frames", "wind"})
    if unknown:
        raise BadInput(f"eval.stress: unknown keys {', '.join(unknown)} (valid: image, frames, wind)")
    try:
        perturb = ImagePerturbation.from_config(stress.get("image"))
        timing = FrameTiming.from_config(stress.get("frames"))
    except ValueError as exc:
        raise BadInput(f"eval.{exc}") from None
    probe = None
    if attention_stress is not None:
        if not isinstance(attention_stress, Mapping):
            raise BadInput(f"eval.attention_stress: expected null or a mapping like stress.image "
                           f"({{noise: 0.05}}), got {attention_stress!r}")
        try:
            probe = ImagePerturbation.from_config(dict(attention_stress))
        except ValueError as exc:
            raise BadInput(f"eval.attention_{str(exc).replace('stress.image', 'stress')}") from None
    wind = dict(stress.get("wind") or {})
    return Plan(models, scene_list, task_list, eval_seeds(seed, episodes), drone,
                dict(expert) if expert is not None else None, perturb, timing, wind, bool(reference_expert),
                bool(attention), probe if attention else None)


def check_env_fits(plan_: Plan) -> None:
    """Build each model's env once and check its camera and action space against the checkpoint."""
    seen = set()
    for model in plan_.models:
        factory = plan_.env_factory(model, plan_.scenes[0], plan_.tasks[0])
        if factory in seen:
            continue
        seen.add(factory)
        try:
            env = factory()
        except ValueError as exc:
            raise BadInput(f"env: {exc}") from None
        try:
            space = env.observation_space
            shape = tuple((space["image"] if hasattr(space, "spaces") else space).shape)
            if shape[:2] != model.image_hw:
                raise BadInput(f"checkpoint {model.path}: trained for a {model.image_hw[1]}x{model.image_hw[0]} camera, "
                               f"the env gives {shape[1]}x{shape[0]}")
            act = env.action_space
            names = model.action_space.get("names", [])
            if (tuple(act.shape) != (len(names),) or not np.allclose(act.low, model.action_space["low"])
                    or not np.allclose(act.high, model.action_space["high"])):
                raise BadInput(f"checkpoint {model.path}: action space {model.action_space} does not fit the env's "
                               f"{act} ({len(names)} vs {act.shape[0]} actions)")
        finally:
            env.close()


@dataclass
class Result:
    """What an evaluation produced."""

    plan: Plan
    rows: list[dict]
    summary: list[dict]
    episodes: list[Flight]
    references: dict  # (scene, task, seed) -> the expert's Flight


def plan_jobs(plan_: Plan) -> list[Job]:
    """The episodes of a plan, in order: per scene and task, the expert's reference flights, then each model's."""
    options = FlyOptions(perturb=plan_.perturb, timing=plan_.timing, attention=plan_.attention,
                         attention_perturb=plan_.attention_perturb)
    expert_options = FlyOptions(expert=ExpertFactory.of(plan_.expert), beta=1.0)  # the expert alone (no policy): beta unused
    jobs: list[Job] = []
    for scene in plan_.scenes:
        label = scene_label(scene)
        for task in plan_.tasks:
            if plan_.reference_expert:
                env = plan_.env_factory(plan_.models[0], scene, task)
                jobs += [Job(None, env, s, expert_options, (("kind", "expert"), ("scene", label), ("task", task_name(task))))
                         for s in plan_.seeds]
            for model in plan_.models:
                env = plan_.env_factory(model, scene, task)
                policy = CheckpointPolicy(model.path)
                jobs += [Job(policy, env, s, options, (("kind", "policy"), ("model", model.label),
                                                        ("checkpoint", model.path), ("scene", label),
                                                        ("task", task_name(task)),
                                                        ("episode", i)))
                         for i, s in enumerate(plan_.seeds)]
    return jobs


def parse_shard(text: Any) -> tuple[int, int]:
    """``"i/n"`` (0 <= i < n) as ``(i, n)``; None is the whole evaluation, ``(0, 1)``."""
    if text is None:
        return (0, 1)
    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise BadInput(f"shard: expected i/n (the i-th of n slices, 0 <= i < n), got {text!r}") from None
    if count < 1 or not 0 <= index < count:
        raise BadInput(f"shard: expected i/n with 0 <= i < n, got {text!r}")
    return (index, count)


def shard_jobs(jobs: Sequence[Job], shard: tuple[int, int]) -> list[int]:
    """The indices of the jobs of shard ``(i, n)``: the scene groups (scene, task and seed, every
    model and the expert's reference together) ``g`` with ``g % n == i``."""
    index, count = shard
    return sorted(i for g, group in enumerate(scene_groups(jobs)) if g % count == index for i, _ in group)


def evaluate(plan_: Plan, workers: int = 1, progress: bool = False, level: float = 0.95, resamples: int = 2000,
             bootstrap_seed: int = 0, cache: Optional[Path] = None, log=print, batch: int = 1,
             shard: tuple[int, int] = (0, 1), found_in: Sequence[Path] = (), fly: bool = True) -> Result:
    """Fly the plan (the expert's reference flights first in each scene x task) and compute the metrics.

    With ``cache`` (a folder), every finished episode is saved there as it comes, and episodes
    already there (or in the folders ``found_in``) are not flown again: an interrupted evaluation
    resumes where it stopped. ``shard=(i, n)`` flies only the i-th of n fixed slices (see
    :func:`shard_jobs`); ``fly=False`` flies nothing and stops naming what is missing (merging
    the shards' folders). ``batch``: envs each worker steps together.
    """
    jobs = plan_jobs(plan_)
    jobs = [jobs[i] for i in shard_jobs(jobs, shard)]
    flown: list[Optional[Flight]] = [None] * len(jobs)
    keys = [job_key(job) for job in jobs]
    if cache is not None:
        cache = Path(cache)
        cache.mkdir(parents=True, exist_ok=True)
    for folder in [*([cache] if cache is not None else []), *map(Path, found_in)]:
        for i, key in enumerate(keys):
            path = folder / f"{key}.npz"
            if flown[i] is None and path.is_file():
                try:
                    flown[i] = load_flight(path)
                except (OSError, ValueError, KeyError, TypeError):
                    if folder == cache:
                        path.unlink()  # half-written or stale: fly it again
    found = sum(e is not None for e in flown)
    if found and fly:
        log(f"resuming: {found} of {len(jobs)} episodes already flown in '{cache}'")
    todo = [i for i, e in enumerate(flown) if e is None]
    if todo and not fly:
        raise BadInput(f"{len(todo)} of {len(jobs)} episodes are in none of the folders "
                       f"({', '.join(map(str, found_in))}); run the missing shards first (with the same settings)")

    def keep(k: int, episode: Flight) -> None:
        if cache is not None:
            save_flight(cache / f"{keys[todo[k]]}.npz", episode)

    for k, episode in enumerate(run_jobs([jobs[i] for i in todo], workers, progress, on_result=keep, desc="eval",
                                         batch=batch)):
        flown[todo[k]] = episode
    references = {(e.tags["scene"], e.tags["task"], e.seed): e for e in flown if e.tags["kind"] == "expert"}
    episodes = [e for e in flown if e.tags["kind"] == "policy"]
    rows = []
    for ep in episodes:
        ref = references.get((ep.tags["scene"], ep.tags["task"], ep.seed))
        expert_path = None
        if ref is not None and ref.success:
            expert_path = path_length(ref.pos_world)
        row = {"model": ep.tags["model"], "scene": ep.tags["scene"], "task": ep.tags["task"], "stress": plan_.stress,
               "episode": ep.tags["episode"], "seed": ep.seed, "checkpoint": ep.tags["checkpoint"],
               **episode_metrics(ep, expert_path),
               "expert_outcome": ref.outcome if ref is not None else ""}
        rows.append(row)
    summary = aggregate(rows, ("model", "scene", "task"), level, resamples, bootstrap_seed)
    for s in summary:
        s["stress"] = plan_.stress
    return Result(plan_, rows, summary, episodes, references)


# ---------------------------------------------------------------------------------------------- files


def _clean(value: Any) -> Any:
    """NaN and inf -> None (strict JSON); numpy scalars -> Python."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def _csv_value(value: Any) -> Any:
    value = _clean(value)
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows as CSV (lists as JSON text, NaN as empty)."""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_value(row.get(k)) for k in columns})
    return path


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{100 * x:.0f}"


def _num(x: Optional[float], fmt: str = ".2f") -> str:
    return "-" if x is None or not math.isfinite(x) else format(x, fmt)


def markdown_table(summary: Sequence[Mapping[str, Any]], ci: str = "ci95") -> str:
    """The summary as a markdown table (rates in %, with their intervals)."""
    head = ["model", "scene", "task", "episodes", f"success % [{ci}]", "collision %", "time-out %", "out of bounds %",
            "time to target s", "path / expert", "min clearance m", "command roughness"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in summary:
        lo, hi = r[f"success_{ci}"]
        lines.append("| " + " | ".join([
            str(r["model"]), str(r["scene"]), str(r["task"]), str(r["episodes"]),
            f"{_pct(r['success_rate'])} [{_pct(lo)}, {_pct(hi)}]", _pct(r["collision_rate"]), _pct(r["timeout_rate"]),
            _pct(r["out_of_bounds_rate"]), _num(r["time_to_target_s"], ".1f"), _num(r["path_ratio"]),
            _num(r["min_clearance_m"]), _num(r["command_roughness"])]) + " |")
    return "\n".join(lines) + "\n"


def attention_table(summary: Sequence[Mapping[str, Any]], ci: str = "ci95") -> str:
    """The attention figures of the summary as a markdown table ("" where none were measured)."""
    if not any("target_attention" in r for r in summary):
        return ""
    head = ["model", "scene", "task", "episodes", f"target attention [{ci}]", "episodes target seen",
            f"saliency SSIM [{ci}]"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] * 3 + ["---:"] * (len(head) - 3)) + "|"]
    for r in summary:
        def cell(name: str) -> str:
            lo, hi = r.get(f"{name}_{ci}", (math.nan, math.nan))
            return f"{_num(r.get(name, math.nan))} [{_num(lo)}, {_num(hi)}]"

        lines.append("| " + " | ".join([str(r["model"]), str(r["scene"]), str(r["task"]), str(r["episodes"]),
                                         cell("target_attention"), str(r.get("target_attention_episodes", 0)),
                                         cell("saliency_ssim")]) + " |")
    return "\n".join(lines) + "\n"


def write_report(result: Result, folder: Path, level: float = 0.95, plot_episodes: int = 6, plot_columns: int = 3,
                 dpi: int = 120, settings: Optional[Mapping] = None) -> list[Path]:
    """Write episodes.csv/.json, summary.json/.csv/.md, success.png, trajectories/*.png and eval.json into ``folder``."""
    from navlnn.evaluation.plots import success_chart, trajectory_grid

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ci = f"ci{round(level * 100)}"
    written = [write_csv(folder / "episodes.csv", result.rows)]
    (folder / "episodes.json").write_text(json.dumps(_clean(result.rows), indent=1) + "\n")
    written.append(folder / "episodes.json")
    (folder / "summary.json").write_text(json.dumps(_clean(result.summary), indent=2) + "\n")
    written.append(folder / "summary.json")
    written.append(write_csv(folder / "summary.csv", result.summary))
    p = result.plan
    title = (f"Closed-loop evaluation: {len(p.seeds)} episodes per checkpoint, scene and task (checkpoints of one "
             f"model pooled in its row), stress: {p.stress}\n\n")
    attention = attention_table(result.summary, ci)
    if attention:
        probe = p.attention_perturb.describe() if p.attention_perturb is not None else ""
        attention = ("\nWhere the policy looks (VisualBackProp saliency): target attention is the share of "
                     "the saliency on the target's pixels over the share of the image they cover (1: chance), "
                     "the mean over the frames the target was seen in, per episode, then over the episodes "
                     "that saw it; saliency SSIM compares each frame's saliency with that of the frame "
                     + (f"perturbed by {probe}" if probe else "as the policy saw it (stress: "
                        f"{p.perturb.describe() or 'none, so 1'})") + ".\n\n" + attention)
    (folder / "summary.md").write_text(title + markdown_table(result.summary, ci) + attention)
    written.append(folder / "summary.md")
    written.append(success_chart(folder / "success.png", result.summary, f"success_{ci}", dpi))
    seeds = p.seeds[:max(0, int(plot_episodes))]
    for scene in (scene_label(s) for s in p.scenes):
        for task in (task_name(t) for t in p.tasks):
            if not seeds:
                break
            by_seed: dict[int, dict[str, Flight]] = {}
            for ep in result.episodes:
                if ep.tags["scene"] == scene and ep.tags["task"] == task and ep.seed in seeds:
                    by_seed.setdefault(ep.seed, {}).setdefault(ep.tags["model"], ep)
            refs = {s: result.references[(scene, task, s)] for s in seeds if (scene, task, s) in result.references}
            flown = [s for s in seeds if s in by_seed]  # a shard flies some of the seeds
            if not flown:
                continue
            name = f"{task}-{scene}".replace("+", "_")
            written.append(trajectory_grid(folder / "trajectories" / f"{name}.png", flown, by_seed, refs,
                                           f"{task} in {scene}", plot_columns, dpi))
    meta = {"seeds": p.seeds, "seed_scheme": "2^31 + default_rng([seed, i]).integers(2^31)", "stress": p.stress,
            "models": [m.__dict__ for m in p.models], "scenes": [scene_label(s) for s in p.scenes], "tasks": [task_name(t) for t in p.tasks], "level": level,
            "settings": dict(settings or {})}
    (folder / "eval.json").write_text(json.dumps(_clean(meta), indent=2, default=str) + "\n")
    written.append(folder / "eval.json")
    return written
