"""The collector: expert episodes over worker processes into a resumable dataset folder.

Episode ``i`` depends only on the collection spec and ``i`` (its random numbers come from
``numpy.random.default_rng([seed, i])``, see :mod:`navlnn.rollout.seeds`), never on which
worker flies it or in which order, so the dataset is the same for any number of workers, and a
resumed collection equals an uninterrupted one. Collection runs rollouts, so it lives in the
rollout layer; :mod:`navlnn.data` knows the dataset format it writes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


from navlnn.constants import ACTION_NAMES, ACTION_UNITS, ENV_ID
from navlnn.data.format import (
    EPISODES_DIR,
    FORMAT,
    FORMAT_VERSION,
    IMAGE_CODECS,
    MANIFEST,
    DatasetError,
    code_version,
    field_schema,
    read_meta,
    remove_temporaries,
    scan_episodes,
    write_episode,
    write_manifest,
)
from navlnn.rollout.actors import ExpertActor, MixtureActor, PolicyActor
from navlnn.rollout.loop import rollout
from navlnn.rollout.noise import InjectedNoise, NoiseParams
from navlnn.rollout.pool import default_workers, run_pool
from navlnn.rollout.recorders import DatasetRecorder
from navlnn.rollout.seeds import SEED_BITS, collection_env_seed, collection_rng


def widened(task: Mapping, start: Mapping) -> dict:
    """``task`` with the start offsets of ``start`` (off-centre and off-heading starts)."""
    out = dict(task)
    for key in ("lateral_offset", "heading_offset_deg"):
        if start.get(key) is not None:
            out[key] = list(start[key]) if isinstance(start[key], Sequence) else start[key]
    return out


@dataclass(frozen=True)
class CollectSpec:
    """Everything that decides the content of a dataset (not how fast it is made)."""

    scene: dict
    modifiers: list
    task: dict
    drone: dict
    expert: dict
    noise: dict
    start: dict
    seed: int
    image_codec: str = "npz"
    jpeg_quality: int = 90
    extra: dict = field(default_factory=dict)

    def fingerprint(self) -> str:
        """Short hash of the spec: datasets (and episodes) with equal fingerprints are interchangeable."""
        content = asdict(self)
        if self.image_codec != "jpeg":  # the quality of a codec not used changes nothing
            content.pop("jpeg_quality")
        text = json.dumps(content, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def check(self) -> None:
        """Fail early, naming the key, on values the workers would reject later."""
        NoiseParams.from_config(self.noise)
        if self.image_codec not in IMAGE_CODECS:
            raise ValueError(f"image_codec must be one of {', '.join(IMAGE_CODECS)}, got {self.image_codec!r}")
        if not 1 <= int(self.jpeg_quality) <= 100:
            raise ValueError(f"jpeg_quality must be in 1..100, got {self.jpeg_quality}")
        frac = float(self.start.get("fraction", 0.0))
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"start.fraction must be in [0, 1], got {frac}")


def _scene_arg(scene: Mapping) -> dict:
    """The scene mapping for the env, its layout resolved to a mapping (as Hydra leaves a name)."""
    from envs.config import load

    out = dict(scene)
    if isinstance(out.get("layout"), str):
        out["layout"] = load("scene/layout", out["layout"])
    return out


def episode_plan(spec: CollectSpec, index: int) -> dict:
    """The random choices of episode ``index``: env seed, start kind, noise on/off and magnitude."""
    rng = collection_rng(spec.seed, index)
    env_seed = collection_env_seed(rng)
    wide = bool(rng.random() < float(spec.start.get("fraction", 0.0)))
    noise = NoiseParams.from_config(spec.noise)
    noisy = bool(rng.random() < noise.episode_fraction)
    magnitude = float(rng.uniform(*noise.magnitude))
    return {"env_seed": env_seed, "start": "wide" if wide else "task", "noise": noisy,
            "noise_magnitude": magnitude if noisy else 0.0, "rng": rng}


class EpisodeMaker:
    """Builds the envs and the expert once, then records any episode index (one per process)."""

    def __init__(self, spec: CollectSpec, folder: Path):
        import envs  # noqa: F401  (registers the env)
        from envs import DroneNavEnv
        from envs.expert import Expert

        self.spec = spec
        self.folder = Path(folder)
        self.fingerprint = spec.fingerprint()
        self.version = code_version()
        self._make = lambda task: DroneNavEnv(scene=_scene_arg(spec.scene), modifiers=list(spec.modifiers),
                                              task=task, drone=dict(spec.drone))
        self._expert_cls = Expert
        self._envs: dict[str, Any] = {}
        self._experts: dict[str, Any] = {}
        self._policy: Any = None

    def _env(self, kind: str):
        if kind not in self._envs:
            task = dict(self.spec.task) if kind == "task" else widened(self.spec.task, self.spec.start)
            env = self._make(task)
            self._envs[kind] = env
            self._experts[kind] = self._expert_cls(env, dict(self.spec.expert))
        return self._envs[kind], self._experts[kind]

    def __call__(self, index: int) -> dict:
        """Record and write episode ``index``; returns its meta."""
        plan = episode_plan(self.spec, index)
        env, expert = self._env(plan["start"])
        arrays, summary = rollout(env, self._actor(plan, env, expert), plan["env_seed"], [DatasetRecorder()])["dataset"]
        meta = {
            "index": int(index), "seed": plan["env_seed"], "rng": [int(self.spec.seed), int(index)],
            "scene": env.scene.name, "task": env.task.name, "start": plan["start"],
            "noise": {"on": plan["noise"], "magnitude": round(plan["noise_magnitude"], 6)},
            **summary, "fingerprint": self.fingerprint, "code_version": self.version,
        }
        path = write_episode(self.folder, index, arrays, meta, self.spec.image_codec, int(self.spec.jpeg_quality))
        meta["file"] = f"{EPISODES_DIR}/{path.name}"
        meta["bytes"] = path.stat().st_size
        meta["raw_image_bytes"] = int(arrays["image"].nbytes)
        return meta

    def _actor(self, plan: Mapping, env, expert) -> ExpertActor | MixtureActor:
        """The expert with its injected noise (when the plan draws it), or in a DAgger round
        (``extra.dagger``: checkpoint and beta) the expert sharing control with a trained policy."""
        noise = None
        if plan["noise"]:  # drawn in DAgger rounds too (it advances the episode's random numbers) but not used
            noise = InjectedNoise(NoiseParams.from_config(self.spec.noise), plan["rng"], float(env.dt),
                                  plan["noise_magnitude"])
        dagger = self.spec.extra.get("dagger")
        if not dagger:
            return ExpertActor(expert, noise)
        if self._policy is None:
            import torch

            from navlnn.policies.checkpoint import load_policy

            torch.set_num_threads(1)
            space = env.observation_space
            self._policy = load_policy(dagger["checkpoint"], (space["image"] if hasattr(space, "spaces") else space)
                                       .shape[:2])
            self._policy.eval()
        return MixtureActor(PolicyActor(self._policy, plan["rng"]), expert, float(dagger["beta"]), plan["rng"])

    def env_facts(self) -> dict:
        """Camera size, action space and timing of the env, for the manifest."""
        env, _ = self._env("task")
        h, w, c = env.observation_space.shape if not hasattr(env.observation_space, "spaces") else \
            env.observation_space["image"].shape
        ctl = env.control
        return {
            "env": {"id": ENV_ID, "scene": env.scene_cfg["full_name"], "task": env.task.name,
                    "dt": float(env.dt), "policy_hz": float(1.0 / env.dt), "time_limit_s": env.task.time_limit_s},
            "camera": {"height": int(h), "width": int(w), "channels": int(c),
                       "vfov_deg": float(env.camera.params.vfov_deg)},
            "action_space": {"names": list(ACTION_NAMES), "frame": "heading (x forward, z up)",
                             "low": [-1.0] * 4, "high": [1.0] * 4, "units": list(ACTION_UNITS),
                             "scale": [ctl.max_speed_xy, ctl.max_speed_xy, ctl.max_speed_z, ctl.max_yaw_rate]},
        }

    def close(self) -> None:
        """Close the envs."""
        for env in self._envs.values():
            env.close()
        self._envs.clear()


def _existing(folder: Path, spec: CollectSpec, overwrite: bool, log: Callable[[str], None]) -> dict[int, dict]:
    """Valid episodes already in ``folder`` (for resuming); stops on a dataset of another spec."""
    fingerprint = spec.fingerprint()
    manifest_path = folder / MANIFEST
    other = None
    if manifest_path.is_file():
        try:
            old = json.loads(manifest_path.read_text())
            if old.get("fingerprint") != fingerprint:
                other = f"'{manifest_path}' was made with another config ({_config_difference(old.get('spec'), spec)})"
        except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            log(f"note: '{manifest_path}' is unreadable; it is rebuilt from the episode files")
    found: dict[int, dict] = {}
    for index, path in scan_episodes(folder).items():
        try:
            meta = read_meta(path)
        except DatasetError as exc:
            log(f"note: {exc}; re-recording it")
            path.unlink(missing_ok=True)
            continue
        if meta.get("fingerprint") != fingerprint:
            other = other or f"'{path}' was made with another config"
            continue
        meta["file"] = f"{EPISODES_DIR}/{path.name}"
        meta["bytes"] = path.stat().st_size
        found[index] = meta
    if other:
        if not overwrite:
            raise DatasetError(f"the dataset folder '{folder}' holds data of another collection: {other}. "
                               "Choose another folder (data=...), or pass overwrite=true to delete it.")
        log(f"overwrite=true: deleting the dataset in '{folder}'")
        for path in scan_episodes(folder).values():
            path.unlink()
        manifest_path.unlink(missing_ok=True)
        return {}
    return found


def _config_difference(old: Mapping | None, spec: CollectSpec) -> str:
    if not isinstance(old, Mapping):
        return "no spec recorded"
    new = json.loads(json.dumps(asdict(spec), default=str))
    diffs = []

    def walk(a, b, prefix):
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            for k in sorted(set(a) | set(b)):
                walk(a.get(k), b.get(k), f"{prefix}{k}.")
        elif a != b:
            diffs.append(f"{prefix[:-1]}: {a!r} there, {b!r} now")

    walk(old, new, "")
    return "; ".join(diffs[:4]) + ("; ..." if len(diffs) > 4 else "") if diffs else "code change"


def build_manifest(spec: CollectSpec, config: Mapping, facts: Mapping, metas: Mapping[int, dict], episodes: int) -> dict:
    """The manifest for the episodes ``metas`` of a collection of ``episodes``."""
    rows = [metas[i] for i in sorted(metas) if i < episodes]
    raw = sum(int(m.get("raw_image_bytes", 0)) for m in rows)
    size = sum(int(m.get("bytes", 0)) for m in rows)
    outcomes: dict[str, int] = {}
    for m in rows:
        outcomes[m["outcome"]] = outcomes.get(m["outcome"], 0) + 1
    clean = [m for m in rows if not m["noise"]["on"]]
    summary = {
        "episodes": len(rows),
        "steps": sum(m["steps"] for m in rows),
        "outcomes": dict(sorted(outcomes.items())),
        "success_rate": (outcomes.get("success", 0) / len(rows)) if rows else None,
        "clean_success_rate": (sum(m["success"] for m in clean) / len(clean)) if clean else None,
        "bytes": size,
        "raw_image_bytes": raw,
    }
    versions = sorted({m.get("code_version", "?") for m in rows})
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "complete": len(rows) >= episodes,
        "episodes_requested": int(episodes),
        "code_version": versions[0] if len(versions) == 1 else versions,
        "fingerprint": spec.fingerprint(),
        **facts,
        "image_codec": spec.image_codec,
        "fields": field_schema(facts["camera"]["height"], facts["camera"]["width"], spec.image_codec),
        "summary": summary,
        "spec": json.loads(json.dumps(asdict(spec), default=str)),
        "config": config,
        "episodes": [{k: m[k] for k in ("index", "file", "seed", "scene", "task", "start", "noise", "steps",
                                         "outcome", "success", "metrics", "bytes") if k in m} for m in rows],
    }


def collect(spec: CollectSpec, folder: Path, episodes: int, workers: int | None = None, config: Mapping | None = None,
            overwrite: bool = False, progress: bool = True, log: Callable[[str], None] = print) -> dict:
    """Record episodes ``0 .. episodes-1`` into ``folder``, skipping those already there.

    Returns the manifest (also written to ``folder/manifest.json``).
    """
    spec.check()
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    workers = default_workers() if workers is None else int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    folder = Path(folder)
    (folder / EPISODES_DIR).mkdir(parents=True, exist_ok=True)
    for path in remove_temporaries(folder):
        log(f"removed the half-written '{path.name}' of an interrupted run")
    metas = _existing(folder, spec, overwrite, log)
    todo = [i for i in range(episodes) if i not in metas]
    if metas:
        log(f"resuming: {len([i for i in metas if i < episodes])} of {episodes} episodes already in '{folder}'")
    config = dict(config or {})

    local = EpisodeMaker(spec, folder)
    try:
        facts = local.env_facts()
        for index in list(metas):  # sizes of resumed episodes (not stored in their meta)
            metas[index].setdefault("raw_image_bytes", _raw_image_bytes(facts, metas[index]["steps"]))

        def save() -> None:
            write_manifest(folder, build_manifest(spec, config, facts, metas, episodes))

        save()
        bar = _bar(len(todo), progress)
        start = time.perf_counter()
        if workers > 1 and len(todo) > 1:
            local.close()

        def done(k: int, meta: dict) -> None:
            metas[todo[k]] = meta
            save()
            _tick(bar, metas, todo[k])

        run_pool(functools.partial(EpisodeMaker, spec, folder), todo, workers, done, lambda i: f"episode {i}",
                 local=local)
        if bar is not None:
            bar.close()
        manifest = build_manifest(spec, config, facts, metas, episodes)
        manifest["summary"]["last_run_s"] = round(time.perf_counter() - start, 2)
        manifest["summary"]["last_run_workers"] = workers
        write_manifest(folder, manifest)
        return manifest
    finally:
        local.close()


def _raw_image_bytes(facts: Mapping, steps: int) -> int:
    cam = facts["camera"]
    return int(steps) * cam["height"] * cam["width"] * cam["channels"]


def _bar(total: int, enabled: bool):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="episode", desc="collect", dynamic_ncols=True)


def _tick(bar, metas: Mapping[int, dict], index: int) -> None:
    if bar is None:
        return
    ok = sum(m["success"] for m in metas.values())
    bar.set_postfix(success=f"{ok}/{len(metas)}", last=metas[index]["outcome"], refresh=False)
    bar.update(1)


__all__ = ["SEED_BITS", "CollectSpec", "EpisodeMaker", "build_manifest", "collect", "episode_plan", "widened"]
