"""The one closed-loop runner: a policy (and optionally the expert) flies env episodes from seeds.

:func:`fly` flies one episode in an env it is given; :func:`run` flies many over worker
processes (``spawn``), building each worker's envs and policies once from picklable factories.
Every episode depends only on its seed and its settings (its extra random numbers, for image
noise, dropped frames or the expert's share of control, come from ``default_rng([seed,
RUNNER_STREAM])``; policies run with one torch thread), so the episodes are the same for any
number of workers.

The same runner serves evaluation, videos and DAgger: with an ``expert``, the expert's label is
recorded at every visited state, and the executed command is the expert's with probability
``beta`` per step, else the policy's (``policy=None`` lets the expert fly alone).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field, fields
from typing import Any, Optional

import numpy as np

from navlnn.data.rollout import episode_outcome
from navlnn.evaluation.stress import FrameTiming, ImagePerturbation

ENV_ID = "DroneNav-v0"
RUNNER_STREAM = 1  # spawn key that separates the runner's random numbers from the env's own (seeded by seed alone)
_ENV_CACHE = 4  # envs a worker keeps open (one per scene x task x settings)
_POLICY_CACHE = 8  # policies a worker keeps loaded
OUTCOMES = ("success", "collision", "out_of_bounds", "timeout")


@dataclass
class Episode:
    """One closed-loop episode.

    State arrays have ``T + 1`` rows (row ``t``: the state before action ``t``; the last row: the
    final state); action arrays have ``T`` rows. Positions are in the world frame (m).
    """

    seed: int
    scene: str
    task: str
    outcome: str
    env_dt: float
    time_s: np.ndarray  # (T+1,)
    pos_world: np.ndarray  # (T+1, 3)
    yaw: np.ndarray  # (T+1,)
    vel_world: np.ndarray  # (T+1, 3)
    distance_to_approach: np.ndarray  # (T+1,)
    clearance: np.ndarray  # (T+1,) distance to the nearest obstacle surface (m)
    target_pos_world: np.ndarray  # (T+1, 3)
    target_yaw: np.ndarray  # (T+1,)
    approach_world: np.ndarray  # (T+1, 3)
    action: np.ndarray  # (T, 4) executed commands
    policy_action: np.ndarray  # (T, 4) the policy's commands (NaN without a policy)
    dt: np.ndarray  # (T,) the dt the policy was told (0 where its frame was dropped)
    frame_used: np.ndarray  # (T,) bool, False where the frame was dropped
    expert_label: Optional[np.ndarray] = None  # (T, 4) the expert's command at each visited state
    expert_executed: Optional[np.ndarray] = None  # (T,) bool, True where the expert's command flew
    images: Optional[np.ndarray] = None  # (T, H, W, 3) uint8, the frames as the policy saw them
    chase: Optional[np.ndarray] = None  # (T+1, h, w, 3) uint8, the chase camera (render=True)
    policy_state: Optional[np.ndarray] = None  # (T, S) the policy's state after each step
    obstacles: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))  # (N, 3) x, y, reach
    obstacle_boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 5)))  # (M, 5) x, y, half x, half y, yaw:
    # the last M rows of ``obstacles`` are these boxes (buildings), the others round (trees, posts, rocks)
    targets_reached: int = 0
    targets: int = 1
    tags: dict = field(default_factory=dict)  # passed through from the job (model, stress, ...)

    @property
    def steps(self) -> int:
        return int(len(self.action))

    @property
    def success(self) -> bool:
        return self.outcome == "success"


@dataclass(frozen=True)
class EnvFactory:
    """Builds ``DroneNav-v0`` with fixed keyword arguments (picklable and hashable)."""

    kwargs_json: str

    @classmethod
    def of(cls, **kwargs: Any) -> "EnvFactory":
        return cls(json.dumps(kwargs, sort_keys=True, default=_plain_json))

    @property
    def kwargs(self) -> dict:
        return json.loads(self.kwargs_json)

    def __call__(self):
        import gymnasium as gym

        import envs  # noqa: F401  (registers the env)

        return gym.make(ENV_ID, **self.kwargs)


@dataclass(frozen=True)
class CheckpointPolicy:
    """Loads a policy checkpoint; ``image_hw`` (if given) must match the checkpoint's camera."""

    path: str
    image_hw: Optional[tuple[int, int]] = None

    def __call__(self):
        from navlnn.nn.checkpoint import load_policy

        policy = load_policy(self.path, self.image_hw)
        policy.eval()
        return policy


@dataclass(frozen=True)
class ExpertFactory:
    """Builds the privileged expert for an env (``params``: a ``conf/expert`` mapping as JSON)."""

    params_json: str = "null"

    @classmethod
    def of(cls, params: Mapping | str | None = None) -> "ExpertFactory":
        return cls(json.dumps(params, sort_keys=True, default=_plain_json))

    def __call__(self, env):
        from envs.expert import Expert

        params = json.loads(self.params_json)
        return Expert(env, params if params is not None else "default")


@dataclass(frozen=True)
class FlyOptions:
    """What :func:`fly` does besides letting the policy fly (see its arguments)."""

    expert: Optional[ExpertFactory] = None
    beta: float = 0.0
    record_images: bool = False
    record_state: bool = False
    render: bool = False
    perturb: ImagePerturbation = ImagePerturbation()
    timing: FrameTiming = FrameTiming()


@dataclass(frozen=True)
class Job:
    """One episode to fly: who flies, where, from which seed, how; ``tags`` end up in the episode."""

    policy: Optional[Callable[[], Any]]
    env: Callable[[], Any]
    seed: int
    options: FlyOptions = FlyOptions()
    tags: tuple = ()


def _plain_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def _image(obs) -> np.ndarray:
    return obs["image"] if isinstance(obs, Mapping) else obs


def fly(policy, env, seed: int, *, expert=None, beta: float = 0.0, rng: Optional[np.random.Generator] = None,
        record_images: bool = False, perturb: Optional[ImagePerturbation] = None,
        dt_jitter: Optional[FrameTiming] = None, record_state: bool = False, render: bool = False) -> Episode:
    """Fly one episode of ``env`` from ``seed`` in closed loop and record it.

    Args:
        policy: a :class:`navlnn.nn.policy.Policy` (stepped with its carried state and the real
            elapsed time), or None to let ``expert`` fly alone.
        env: a ``DroneNav`` env (wrapped or not).
        seed: the env's reset seed.
        expert: an :class:`envs.Expert` of ``env``: its label is recorded at every visited state.
        beta: per-step probability that the expert's command is executed instead of the policy's.
        rng: random numbers for perturbations, dropped frames and ``beta``; default
            ``default_rng([seed, RUNNER_STREAM])``.
        record_images: keep the frames the policy saw.
        perturb: image perturbation applied to each frame before the policy sees it.
        dt_jitter: dropped frames and timestamp errors (:class:`FrameTiming`).
        record_state: keep the policy's state after each step (neuron traces for videos).
        render: keep the chase camera image of every state (the env needs ``render_mode="rgb_array"``).
    """
    if policy is None and expert is None:
        raise ValueError("fly: give a policy, an expert, or both")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must be in [0, 1], got {beta}")
    rng = np.random.default_rng([int(seed), RUNNER_STREAM]) if rng is None else rng
    perturb = perturb or ImagePerturbation()
    timing = dt_jitter or FrameTiming()
    base = env.unwrapped
    env_dt = float(base.dt)
    obs, info = env.reset(seed=int(seed))
    if expert is not None:
        expert.reset()
    torch = device = None
    state = None
    if policy is not None:
        import torch

        device = next(policy.parameters()).device
    states: dict[str, list] = {k: [] for k in ("time_s", "pos_world", "yaw", "vel_world", "distance_to_approach",
                                               "clearance", "target_pos_world", "target_yaw", "approach_world")}
    acts: dict[str, list] = {k: [] for k in ("action", "policy_action", "dt", "frame_used", "expert_label",
                                             "expert_executed", "images", "policy_state")}
    chase: list = []

    def keep_state(info: Mapping) -> None:
        states["time_s"].append(float(info["time_s"]))
        states["pos_world"].append(np.asarray(info["drone"]["pos_world"], float))
        states["yaw"].append(float(info["drone"]["rpy"][2]))
        states["vel_world"].append(np.asarray(info["drone"]["vel_world"], float))
        states["distance_to_approach"].append(float(info["distance_to_approach"]))
        states["clearance"].append(float(info["nearest_obstacle_distance"]))
        states["target_pos_world"].append(np.asarray(info["target"]["pos_world"], float))
        states["target_yaw"].append(float(info["target"]["yaw"]))
        states["approach_world"].append(np.asarray(info["target"]["approach_world"], float))
        if render:
            chase.append(env.render())

    keep_state(info)
    held = np.zeros(4, np.float32)
    elapsed = 0.0
    terminated = truncated = False
    while not (terminated or truncated):
        elapsed += env_dt
        label = expert.act(info) if expert is not None else None
        policy_action = np.full(4, np.nan, np.float32)
        used, told = False, 0.0
        frame = _image(obs)
        if policy is not None:
            first = not acts["action"]
            if first or not timing.dropped(rng):
                frame = perturb(frame, rng)
                told = timing.reported_dt(elapsed, rng)
                with torch.inference_mode():
                    image = torch.as_tensor(np.ascontiguousarray(frame), device=device).unsqueeze(0)
                    out, state = policy.step(image, state, torch.tensor([told], device=device))
                held = out[0].clamp(-1.0, 1.0).float().cpu().numpy()
                used, elapsed = True, 0.0
            policy_action = held
        use_expert = label is not None and (policy is None or (beta > 0 and bool(rng.random() < beta)))
        action = (label if use_expert else policy_action).astype(np.float32)
        acts["action"].append(action)
        acts["policy_action"].append(policy_action.copy())
        acts["dt"].append(told)
        acts["frame_used"].append(used)
        if label is not None:
            acts["expert_label"].append(np.asarray(label, np.float32))
            acts["expert_executed"].append(use_expert)
        if record_images:
            acts["images"].append(np.asarray(frame, np.uint8))
        if record_state and state is not None:
            acts["policy_state"].append(state[0].float().cpu().numpy().copy())
        obs, _, terminated, truncated, info = env.step(action)
        keep_state(info)

    outcome = episode_outcome(info)
    arr = {k: np.asarray(v) for k, v in states.items()}
    return Episode(
        seed=int(seed), scene=str(base.scene_cfg["full_name"]), task=str(base.task.name), outcome=outcome,
        env_dt=env_dt, **arr,
        action=np.asarray(acts["action"], np.float32).reshape(-1, 4),
        policy_action=np.asarray(acts["policy_action"], np.float32).reshape(-1, 4),
        dt=np.asarray(acts["dt"], np.float64), frame_used=np.asarray(acts["frame_used"], bool),
        expert_label=np.asarray(acts["expert_label"], np.float32).reshape(-1, 4) if expert is not None else None,
        expert_executed=np.asarray(acts["expert_executed"], bool) if expert is not None else None,
        images=np.stack(acts["images"]) if record_images and acts["images"] else None,
        chase=np.stack(chase) if render and chase and chase[0] is not None else None,
        policy_state=np.stack(acts["policy_state"]) if acts["policy_state"] else None,
        obstacles=base.scene.obstacles.footprints().astype(np.float32),
        obstacle_boxes=np.asarray(base.scene.obstacles.boxes, float).reshape(-1, 7)[:, [0, 1, 3, 4, 6]].astype(np.float32),
        targets_reached=int(info["target"]["index"]) + int(bool(info["is_success"])),
        targets=int(info["target"]["count"]),
    )


class _Pilot:
    """Builds envs, policies and experts on demand and keeps the most recent ones (one per process)."""

    def __init__(self) -> None:
        self.envs: OrderedDict = OrderedDict()
        self.policies: OrderedDict = OrderedDict()

    @staticmethod
    def _get(cache: OrderedDict, key, make: Callable[[], Any], limit: int, close: Callable[[Any], None]):
        if key in cache:
            cache.move_to_end(key)
            return cache[key]
        value = make()
        cache[key] = value
        while len(cache) > limit:
            _, old = cache.popitem(last=False)
            close(old)
        return value

    def __call__(self, job: Job) -> Episode:
        env = self._get(self.envs, job.env, job.env, _ENV_CACHE, lambda e: e.close())
        policy = job.policy
        if policy is not None and not hasattr(policy, "step"):  # a factory, not a policy
            policy = self._get(self.policies, job.policy, job.policy, _POLICY_CACHE, lambda p: None)
        opt = job.options
        expert = opt.expert(env) if opt.expert is not None else None
        episode = fly(policy, env, job.seed, expert=expert, beta=opt.beta, record_images=opt.record_images,
                      perturb=opt.perturb, dt_jitter=opt.timing, record_state=opt.record_state, render=opt.render)
        episode.tags = dict(job.tags)
        return episode

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs.clear()
        self.policies.clear()


_PILOT: Optional[_Pilot] = None


def _init_worker() -> None:
    global _PILOT
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    _PILOT = _Pilot()


def _work(job: Job) -> Episode:
    assert _PILOT is not None
    return _PILOT(job)


def run_jobs(jobs: Sequence[Job], workers: int = 1, progress: bool = False,
             on_result: Optional[Callable[[int, Episode], None]] = None, desc: str = "episodes") -> list[Episode]:
    """Fly ``jobs`` (in ``workers`` processes when more than one); the episodes in job order.

    ``on_result(index, episode)`` is called as each episode finishes (to save work as it comes).
    """
    workers = int(workers)
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    results: list[Optional[Episode]] = [None] * len(jobs)
    bar = _bar(len(jobs), progress, desc)

    def done(index: int, episode: Episode) -> None:
        results[index] = episode
        if on_result is not None:
            on_result(index, episode)
        if bar is not None:  # success among the policy's episodes (not the expert's reference flights)
            flown = [e for e, j in zip(results, jobs) if e is not None and j.policy is not None]
            bar.set_postfix(success=f"{sum(e.success for e in flown)}/{len(flown)}", refresh=False)
            bar.update(1)

    try:
        if workers == 1 or len(jobs) <= 1:
            import torch

            threads = torch.get_num_threads()
            torch.set_num_threads(1)
            pilot = _Pilot()
            try:
                for i, job in enumerate(jobs):
                    done(i, pilot(job))
            finally:
                pilot.close()
                torch.set_num_threads(threads)
        else:
            ctx = multiprocessing.get_context("spawn")
            with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker) as pool:
                pending = {pool.submit(_work, job): i for i, job in enumerate(jobs)}
                while pending:
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        index = pending.pop(fut)
                        try:
                            episode = fut.result()
                        except Exception as exc:
                            for other in pending:
                                other.cancel()
                            raise RuntimeError(f"episode with seed {jobs[index].seed} failed: "
                                               f"{type(exc).__name__}: {exc}") from exc
                        done(index, episode)
    finally:
        if bar is not None:
            bar.close()
    return results  # type: ignore[return-value]


def run(policy_factory: Optional[Callable[[], Any]], env_factory: Callable[[], Any], seeds: Sequence[int],
        workers: int = 1, progress: bool = False, options: FlyOptions = FlyOptions()) -> list[Episode]:
    """Fly one episode per seed with the policy from ``policy_factory`` in envs from ``env_factory``.

    ``policy_factory`` may also be a policy itself (in this process only, ``workers=1``). Factories must be picklable (e.g. :class:`CheckpointPolicy`, :class:`EnvFactory`) when
    ``workers > 1``. Returns the episodes in the order of ``seeds``, the same for any ``workers``.
    """
    return run_jobs([Job(policy_factory, env_factory, int(s), options) for s in seeds], workers, progress)


def job_key(job: Job) -> str:
    """A short hash of everything that decides a job's episode (a checkpoint's file size and time included)."""
    stamp = ""
    path = getattr(job.policy, "path", None)
    if path is not None and os.path.exists(path):
        st = os.stat(path)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    text = repr((job.policy, job.env, int(job.seed), job.options, tuple(job.tags), stamp))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def save_episode(path: str | os.PathLike, episode: Episode) -> None:
    """Write an episode as ``.npz`` (arrays, plus its scalars and tags as JSON), atomically."""
    arrays, meta = {}, {}
    for f in fields(Episode):
        value = getattr(episode, f.name)
        if isinstance(value, np.ndarray):
            arrays[f.name] = value
        elif value is not None:
            meta[f.name] = value
    tmp = f"{os.fspath(path)}.tmp.npz"
    np.savez_compressed(tmp, _meta=np.array(json.dumps(meta, default=_plain_json)), **arrays)
    os.replace(tmp, path)


def load_episode(path: str | os.PathLike) -> Episode:
    """Read an episode written by :func:`save_episode`."""
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["_meta"]))
        arrays = {k: data[k] for k in data.files if k != "_meta"}
    return Episode(**meta, **arrays)


def _bar(total: int, enabled: bool, desc: str):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="episode", desc=desc, dynamic_ncols=True)
