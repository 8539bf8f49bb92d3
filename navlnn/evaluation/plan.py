"""Evaluation planning: :func:`plan` checks the inputs (one clear message per bad input) and makes
a :class:`Plan`; :func:`plan_jobs` lists its episodes as rollout jobs, the expert's reference
flights first in each scene x task (for the path ratio). The env seeds are those of
:func:`navlnn.rollout.seeds.eval_seeds` (never trained on; the same for every checkpoint and scene).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np

from navlnn.rollout.perturbations import FrameTiming, ImagePerturbation
from navlnn.rollout.seeds import eval_seeds
from navlnn.rollout.specs import CheckpointPolicy, EnvFactory, ExpertFactory, FlyOptions, Job

STRESS_KEYS = ("image", "frames", "wind")  # the sections of eval.stress


class BadInput(ValueError):
    """An evaluation input that cannot work (the message names it and the fix)."""


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
    attention: bool = False  # measure target_attention and saliency_ssim (navlnn.evaluation.attention)
    attention_perturb: Optional[ImagePerturbation] = None  # saliency_ssim's perturbation; None: the stress's

    @property
    def stress(self) -> str:
        """The stress settings in short (``noise=0.05;drop=0.2;wind=0.5``), ``none`` when neutral."""
        parts = [self.perturb.describe(), self.timing.describe(),
                 f"wind={self.wind.get('gust_std', 0):g}" if self.wind.get("enabled") else ""]
        return ";".join(p for p in parts if p) or "none"

    def env_factory(self, model: Model, scene: str | Mapping, task: str | Mapping) -> EnvFactory:
        """The env of ``model`` in ``scene`` and ``task``: the drone with the model's camera and the wind."""
        drone = json.loads(json.dumps(self.drone))
        drone.setdefault("camera", {})
        drone["camera"] = {**drone["camera"], "height": model.image_hw[0], "width": model.image_hw[1]}
        drone["wind"] = {**drone.get("wind", {}), **self.wind}
        return EnvFactory.of(scene=scene, task=task, drone=drone)


def scene_label(scene: str | Mapping) -> str:
    """The label of a scene given by name (``"winter+fog"``), as a YAML path (its name), or as a mapping: its ``label`` key
    when set (``+scene.label=...``, for a scene with overridden settings), else name and modifiers."""
    from envs.scene import is_scene_file, resolve_scene

    if isinstance(scene, Mapping) and scene.get("label"):
        return str(scene["label"])
    return str(resolve_scene(scene)["full_name"]) if isinstance(scene, Mapping) or is_scene_file(scene) else str(scene)


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


def _scenes(scenes: Any) -> list:
    """The scenes, checked, as names or plain mappings; labels must differ."""
    from envs.scene import resolve_scene

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
    return scene_list


def _tasks(tasks: Any) -> list:
    """The tasks, checked, as names or plain mappings."""
    from envs.tasks import task_names

    task_list: list = []
    for task in _as_list(tasks, "task"):
        name = task_name(task)
        if name not in task_names():
            raise BadInput(f"task: unknown task '{name}'. Valid tasks: {', '.join(task_names())}.")
        task_list.append(json.loads(json.dumps(dict(task))) if isinstance(task, Mapping) else name)
    return task_list


def _stress(stress: Optional[Mapping], attention_stress: Optional[Mapping]
            ) -> tuple[ImagePerturbation, FrameTiming, dict, Optional[ImagePerturbation]]:
    """The image perturbation, frame timing, wind and attention probe of the stress settings."""
    stress = dict(stress or {})
    unknown = sorted(set(stress) - set(STRESS_KEYS))
    if unknown:
        raise BadInput(f"eval.stress: unknown keys {', '.join(unknown)} (valid: {', '.join(STRESS_KEYS)})")
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
    return perturb, timing, dict(stress.get("wind") or {}), probe


def plan(checkpoints: Any, scenes: Any, tasks: Any, episodes: int, seed: int, drone: Mapping, expert: Optional[Mapping],
         stress: Mapping, match_camera: bool = True, reference_expert: bool = True, attention: bool = False,
         attention_stress: Optional[Mapping] = None) -> Plan:
    """Check the inputs and list what to fly; raises :class:`BadInput` with one clear message.

    ``attention``: also measure where the policies look; ``attention_stress``: the image
    perturbation (keys of ``stress.image``) that ``saliency_ssim`` compares against (None: the
    frames as the policy saw them, under ``stress.image``)."""
    if int(episodes) < 1:
        raise BadInput(f"episodes must be at least 1, got {episodes}")
    drone = json.loads(json.dumps(dict(drone)))
    camera = drone.get("camera") or {}
    env_hw = None if match_camera else (int(camera["height"]), int(camera["width"]))
    models = [_model(str(p), env_hw) for p in _as_list(checkpoints, "checkpoint")]
    scene_list, task_list = _scenes(scenes), _tasks(tasks)
    perturb, timing, wind, probe = _stress(stress, attention_stress)
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
                tags = (("kind", "policy"), ("model", model.label), ("checkpoint", model.path), ("scene", label),
                        ("task", task_name(task)))
                jobs += [Job(policy, env, s, options, (*tags, ("episode", i))) for i, s in enumerate(plan_.seeds)]
    return jobs
