"""Closed-loop evaluation throughput against bare env stepping, measured in one run on one core.

    python experiments/bench_rollout.py --checkpoint outputs/demo/train/checkpoints/best.pt
    python experiments/bench_rollout.py --episodes 3 --batch 1 4     # an untrained policy if no checkpoint

Workload (as issue 12 measured it): ``navlnn eval``'s :func:`evaluate` over the checkpoint twice x
summer and winter x ``--episodes`` episodes on one worker, the expert's reference flights
included. The bare figure steps the same scenes and seeds with the expert flying and times
``env.step`` alone (resets and the expert excluded). Both are real-time factors: simulated
seconds per wall-clock second, and per CPU second of this process (the per-core figure, which
does not count time spent waiting for a busy CPU). The eval share is eval / bare.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
import yaml  # noqa: E402

from envs import DroneNavEnv  # noqa: E402
from envs.config import CONF_DIR  # noqa: E402
from envs.expert import Expert  # noqa: E402
from navlnn.evaluation.plan import plan  # noqa: E402
from navlnn.evaluation.run import evaluate  # noqa: E402

SCENES = ("summer", "winter")


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def bare(seeds: list[int], camera: dict) -> tuple[float, float, float]:
    """Simulated seconds, wall and CPU seconds of ``env.step`` with the expert flying."""
    sim = wall = cpu = 0.0
    for scene in SCENES:
        env = DroneNavEnv(scene=scene, camera=camera)
        expert = Expert(env)
        for seed in seeds:
            _, info = env.reset(seed=seed)
            expert.reset()
            done = False
            while not done:
                action = expert.act(info)
                w0, c0 = _clock()
                _, _, terminated, truncated, info = env.step(action)
                w1, c1 = _clock()
                wall, cpu, sim = wall + w1 - w0, cpu + c1 - c0, sim + env.dt
                done = terminated or truncated
        env.close()
    return sim, wall, cpu


def untrained_checkpoint(folder: Path) -> Path:
    """An untrained ncp_cfc policy for the default camera (when no checkpoint is given)."""
    from hydra import compose, initialize_config_dir

    from navlnn.policies.checkpoint import save_checkpoint
    from navlnn.policies.policy import build_policy

    cam = yaml.safe_load((CONF_DIR / "drone" / "cf2x.yaml").read_text())["camera"]
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=["data=unused", "model=ncp_cfc"])
    torch.manual_seed(0)
    return save_checkpoint(folder / "untrained.pt", build_policy(cfg.model, (cam["height"], cam["width"])))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", type=Path, default=None)
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4], help="envs stepped together (one row each)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    drone = yaml.safe_load((CONF_DIR / "drone" / "cf2x.yaml").read_text())
    expert = yaml.safe_load((CONF_DIR / "expert" / "default.yaml").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = args.checkpoint or untrained_checkpoint(Path(tmp))
        the_plan = plan([str(ckpt), str(ckpt)], list(SCENES), ["fly_to_target"], args.episodes, 0, drone, expert, {})
        hw = the_plan.models[0].image_hw
        sim, wall, cpu = bare(the_plan.seeds, {"width": hw[1], "height": hw[0]})
        rows = [("bare env.step, expert flying", sim, wall, cpu)]
        for batch in args.batch:
            w0, c0 = _clock()
            result = evaluate(the_plan, workers=1, batch=batch, log=lambda *_: None)
            w1, c1 = _clock()
            flown = [*result.episodes, *result.references.values()]
            rows.append((f"navlnn eval, batch {batch}", sum(f.steps * f.env_dt for f in flown), w1 - w0, c1 - c0))
    print(f"checkpoint: {ckpt if args.checkpoint else 'untrained ncp_cfc'}; {args.episodes} episodes x 2 checkpoints x "
          f"{len(SCENES)} scenes; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| loop | simulated s | wall s | x real time | x real time per CPU s | share of bare (per CPU s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    base = rows[0][1] / rows[0][3]
    for name, s, w, c in rows:
        print(f"| {name} | {s:.1f} | {w:.1f} | {s / w:.1f} | {s / c:.1f} | {100 * (s / c) / base:.0f}% |")


if __name__ == "__main__":
    main()
