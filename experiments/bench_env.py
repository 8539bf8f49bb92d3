"""Real-time factor of the DroneNav environment, per scene, on one core.

    python experiments/bench_env.py                 # every scene, both camera settings
    python experiments/bench_env.py --seconds 60 --scenes summer urban

The real-time factor is simulated seconds per wall-clock second of ``env.step`` (resets
excluded), flying ``fly_to_target`` episodes with a privileged pilot (straight to the
approach point), one process, one thread. Two settings: the default onboard camera, and
the reference setting of a 64 x 48 camera at 24 Hz. A third column steps the same flights
without rendering the camera (physics, controller, collision checks and info only).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
from importlib.metadata import version

from envs import DroneNavEnv, scene_names

REFERENCE = {"camera": {"width": 64, "height": 48}, "policy_hz": 24}


def pilot(info: dict) -> np.ndarray:
    """Fly straight to the approach point while facing the target (privileged)."""
    pos, yaw = info["drone"]["pos_world"], info["drone"]["rpy"][2]
    d = info["target"]["approach_world"] - pos
    dx = math.cos(yaw) * d[0] + math.sin(yaw) * d[1]
    dy = -math.sin(yaw) * d[0] + math.cos(yaw) * d[1]
    action = np.array([0.6 * dx, 0.6 * dy, 1.2 * d[2], info["bearing_to_target"] * 1.3])
    return np.clip(action, -1.0, 1.0).astype(np.float32)


def measure(scene: str, seconds: float, render: bool = True, **kwargs) -> dict:
    """Fly episodes until ``seconds`` of simulated time; returns the figures."""
    env = DroneNavEnv(scene=scene, **kwargs)
    if not render:  # the same step, without the camera: physics, control, collisions, info
        blank = np.zeros(env.observation_space.shape, np.uint8)
        env._observation = lambda state=None: blank
    sim = wall = resets = 0.0
    steps = episodes = 0
    seed = 0
    while sim < seconds:
        t = time.perf_counter()
        obs, info = env.reset(seed=seed)
        resets += time.perf_counter() - t
        episodes += 1
        seed += 1
        done = False
        while not done and sim < seconds:
            action = pilot(info)
            t = time.perf_counter()
            obs, reward, terminated, truncated, info = env.step(action)
            wall += time.perf_counter() - t
            sim += env.dt
            steps += 1
            done = terminated or truncated
    triangles = env.scene.triangle_count
    env.close()
    return {"rtf": sim / wall, "ms_per_step": 1e3 * wall / steps, "reset_s": resets / episodes,
            "triangles": triangles}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", default=None, help="scenes to measure (default: all)")
    parser.add_argument("--seconds", type=float, default=30.0, help="simulated seconds per scene and setting")
    args = parser.parse_args()
    scenes = args.scenes or scene_names()
    default = DroneNavEnv()
    cam = default.camera.params
    default_label = f"{cam.width}x{cam.height} @ {default.metadata['render_fps']:.0f} Hz"
    default.close()
    print(f"# DroneNav real-time factor ({args.seconds:.0f} simulated s per cell; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"PyBullet {version('pybullet')})")
    print()
    print(f"| scene | triangles | RTF default camera ({default_label}) | RTF 64x48 @ 24 Hz "
          f"| RTF without camera | ms per step (default) | reset (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scene in scenes:
        a = measure(scene, args.seconds)
        b = measure(scene, args.seconds, **REFERENCE)
        c = measure(scene, args.seconds, render=False)
        print(f"| {scene} | {a['triangles']} | {a['rtf']:.1f}x | {b['rtf']:.1f}x | {c['rtf']:.1f}x "
              f"| {a['ms_per_step']:.2f} | {a['reset_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
