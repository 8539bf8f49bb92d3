"""Success rate of the privileged expert, per task and scene (the reference for policies).

    python experiments/expert_success.py                       # 200 episodes, every task x scene
    python experiments/expert_success.py --episodes 50 --tasks fly_to_target --scenes summer urban
    python experiments/expert_success.py --workers 2 --out experiments/results/expert_success.json

Each cell flies the clean expert (no injected noise) from episode seeds 0..N-1 and reports the
success rate with its 95% Wilson interval, collisions, time-outs, leaving the area, and the mean
flight time and path length of the successful episodes. The expert never looks at the image, so
the camera is shrunk (``--camera``) to save rendering time; it changes no trajectory.
"""

from __future__ import annotations

import argparse
import json
import math
import functools
import os
import time
from pathlib import Path

import numpy as np

from envs import DroneNavEnv, scene_names, task_names
from envs.expert import Expert
from navlnn.rollout import ExpertActor, OutcomeRecorder, rollout, run_pool

Z95 = 1.959963984540054


def wilson(successes: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of a binomial proportion."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    den = 1 + Z95**2 / n
    mid = (p + Z95**2 / (2 * n)) / den
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / den
    return (max(0.0, mid - half), min(1.0, mid + half))


def fly_cell(scene: str, task: str, seeds: list[int], camera: tuple[int, int], expert: str) -> list[dict]:
    """Fly the expert over ``seeds`` in one scene and task; one dict per episode."""
    env = DroneNavEnv(scene=scene, task=task, camera={"width": camera[0], "height": camera[1]})
    actor = ExpertActor(Expert(env, expert))
    out = []
    for seed in seeds:
        o = rollout(env, actor, seed, [OutcomeRecorder()])["summary"]
        out.append({"scene": scene, "task": task, "seed": seed, "success": o["success"],
                    "collision": o["outcome"] == "collision", "out_of_bounds": o["outcome"] == "out_of_bounds",
                    "timeout": o["outcome"] == "timeout", "time_s": o["time_s"], "path_m": o["path_length_m"],
                    "min_clearance_m": o["min_clearance_m"]})
    env.close()
    return out


class CellWorker:
    """Flies cells ``(scene, task, seeds)`` with the expert (a fresh env per cell)."""

    def __init__(self, camera: tuple[int, int], expert: str) -> None:
        self.camera, self.expert = camera, expert

    def __call__(self, job: tuple[str, str, list[int]]) -> list[dict]:
        scene, task, seeds = job
        return fly_cell(scene, task, seeds, self.camera, self.expert)


def summarise(rows: list[dict]) -> dict:
    """Success rate, its interval and the failure counts of one cell."""
    n = len(rows)
    wins = [r for r in rows if r["success"]]
    return {
        "episodes": n, "success_rate": len(wins) / n, "success_ci95": list(wilson(len(wins), n)),
        "collisions": sum(r["collision"] for r in rows), "timeouts": sum(r["timeout"] for r in rows),
        "out_of_bounds": sum(r["out_of_bounds"] for r in rows),
        "mean_time_s": float(np.mean([r["time_s"] for r in wins])) if wins else math.nan,
        "mean_path_m": float(np.mean([r["path_m"] for r in wins])) if wins else math.nan,
        "min_clearance_m": float(min(r["min_clearance_m"] for r in rows)),
        "failed_seeds": [r["seed"] for r in rows if not r["success"]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=200)
    ap.add_argument("--scenes", nargs="+", default=scene_names())
    ap.add_argument("--tasks", nargs="+", default=task_names())
    ap.add_argument("--expert", default="default", help="name in conf/expert/")
    ap.add_argument("--camera", type=int, nargs=2, default=(32, 18), metavar=("W", "H"))
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--chunk", type=int, default=25, help="episodes per job")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the per-cell figures")
    args = ap.parse_args()

    jobs = [(scene, task, list(range(lo, min(lo + args.chunk, args.episodes))))
            for task in args.tasks for scene in args.scenes for lo in range(0, args.episodes, args.chunk)]
    start = time.perf_counter()
    rows: list[dict] = []

    def done(k: int, cell_rows: list[dict]) -> None:
        rows.extend(cell_rows)
        print(f"  {k + 1}/{len(jobs)} jobs", flush=True)

    run_pool(functools.partial(CellWorker, tuple(args.camera), args.expert), jobs, args.workers, done,
             lambda job: f"{job[1]} in {job[0]}")
    rows.sort(key=lambda r: (r["task"], r["scene"], r["seed"]))
    cells = {}
    print(f"| task | scene | episodes | success | 95% CI | collisions | time-outs | mean time (s) | min clearance (m) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for task in args.tasks:
        for scene in args.scenes:
            s = summarise([r for r in rows if r["scene"] == scene and r["task"] == task])
            cells[f"{task}/{scene}"] = s
            lo, hi = s["success_ci95"]
            print(f"| {task} | {scene} | {s['episodes']} | {100 * s['success_rate']:.1f}% | "
                  f"[{100 * lo:.1f}, {100 * hi:.1f}] | {s['collisions']} | {s['timeouts']} | "
                  f"{s['mean_time_s']:.1f} | {s['min_clearance_m']:.2f} |")
            if s["failed_seeds"]:
                print(f"    failed seeds: {s['failed_seeds']}")
    print(f"\n{len(rows)} episodes in {time.perf_counter() - start:.0f} s with {args.workers} workers")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: (list(v) if isinstance(v, tuple) else v)
                                                  for k, v in vars(args).items() if k != "out"},
                                        "cells": cells}, indent=1, default=str))


if __name__ == "__main__":
    main()
