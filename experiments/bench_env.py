"""Real-time factor of the DroneNav environment, per scene, on one core.

    python experiments/bench_env.py                 # every scene, both camera settings
    python experiments/bench_env.py --seconds 60 --scenes summer urban

The real-time factor is simulated seconds per wall-clock second of ``env.step`` (resets
excluded), flying ``fly_to_target`` episodes with a privileged pilot (straight to the
approach point), one process, one thread; each cell flies the same episodes a few times
and reports the fastest repeat, the one least disturbed by other work on the machine. Two settings: the default onboard camera, and
the reference setting of a 64 x 48 camera at 24 Hz. A third column steps the same flights
without rendering the camera (physics, controller, collision checks and info only). Each
cell also gives the factor per CPU second of the process, which does not count time the
process waited for the CPU while other work ran.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
from importlib.metadata import version

import numpy as np
import pybullet as p

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


def measure(scene: str, seconds: float, repeats: int, render: bool = True, **kwargs) -> dict:
    """Fly the same episodes ``repeats`` times for ``seconds`` of simulated time each; the
    figures of the fastest repeat (the one least disturbed by other processes)."""
    env = DroneNavEnv(scene=scene, **kwargs)
    if not render:  # the same step, without the camera: physics, control, collisions, info
        blank = np.zeros(env.observation_space.shape, np.uint8)
        env._observation = lambda state=None: blank
    best: dict = {}
    for _ in range(repeats):
        sim = wall = cpu = resets = 0.0
        steps = episodes = 0
        while sim < seconds:
            t = time.perf_counter()
            obs, info = env.reset(seed=episodes)
            resets += time.perf_counter() - t
            episodes += 1
            done = False
            while not done and sim < seconds:
                action = pilot(info)
                t, c = time.perf_counter(), time.process_time()
                obs, reward, terminated, truncated, info = env.step(action)
                wall += time.perf_counter() - t
                cpu += time.process_time() - c
                sim += env.dt
                steps += 1
                done = terminated or truncated
        if not best or sim / wall > best["rtf"]:
            best = {"rtf": sim / wall, "ms_per_step": 1e3 * wall / steps, "reset_s": resets / episodes,
                    "triangles": env.scene.triangle_count}
        best["rtf_cpu"] = max(best.get("rtf_cpu", 0.0), sim / max(cpu, 1e-9))
    env.close()
    return best


def control_figures(drone: str = "cf2x") -> dict:
    """Hover drift, forward-step response and yaw-rate tracking of the low-level controller."""
    from envs.airframe import GRAVITY, AirframeParams, Quadrotor, Wind
    from envs.config import load
    from envs.controller import ControlParams, VelocityController

    cfg = load("drone", drone)
    af = AirframeParams.from_config(cfg)
    ctl = VelocityController(af, ControlParams.from_config(cfg["control"]))
    cid = p.connect(p.DIRECT)
    p.setGravity(0, 0, -GRAVITY, physicsClientId=cid)
    dt = 1.0 / af.physics_hz
    p.setTimeStep(dt, physicsClientId=cid)
    quad = Quadrotor(cid, af)

    def fly(command, seconds, push=False, wind=None):
        quad.reset(np.array([0.0, 0.0, 2.0]), 0.0)
        ctl.reset(0.0)
        if push:  # 0.05 m/s sideways and down, 0.1 rad/s roll and pitch
            p.resetBaseVelocity(quad.body, (0.05, -0.05, -0.05), (0.1, -0.1, 0.0), physicsClientId=cid)
        out = []
        for k in range(round(seconds / dt)):
            vel_cmd, yaw_rate = command(k * dt)
            _, _, rot, vel, w = quad.read()
            gust = None if wind is None else tuple(wind.step(dt))
            quad.apply(ctl.step(rot, vel, w, vel_cmd, yaw_rate, dt), rot, vel, dt, gust)
            p.stepSimulation(physicsClientId=cid)
            s = quad.state()
            out.append((k * dt + dt, *s.pos_world, *s.vel_body, *s.ang_vel_body))
        return np.array(out)

    hover = fly(lambda t: ((0.0, 0.0, 0.0), 0.0), 10.0, push=True)
    wind = Wind({"enabled": True, "mean_world": [0, 0, 0], "gust_std": 0.3, "gust_time_constant": 1.0},
                np.random.default_rng(0))
    wind.reset(np.random.default_rng(0))
    gusty = fly(lambda t: ((0.0, 0.0, 0.0), 0.0), 10.0, wind=wind)
    step_at = 0.5
    fwd = fly(lambda t: ((1.0, 0.0, 0.0) if t >= step_at else (0.0, 0.0, 0.0), 0.0), step_at + 3.0)
    after = fwd[:, 0] > step_at
    vx, t = fwd[after, 4], fwd[after, 0] - step_at
    outside = np.flatnonzero(np.abs(vx - 1.0) > 0.05)
    yaw = fly(lambda t: ((0.0, 0.0, 0.0), 1.0), 3.0)
    p.disconnect(cid)
    return {
        "hover after a push: max drift over 10 s (m)": float(np.linalg.norm(hover[:, 1:4] - hover[0, 1:4], axis=1).max()),
        "hover in 0.3 m/s gusts: max drift over 10 s (m)": float(
            np.linalg.norm(gusty[:, 1:4] - gusty[0, 1:4], axis=1).max()),
        "1 m/s forward step: overshoot (%)": float(100 * (vx.max() - 1.0)),
        "1 m/s forward step: settling time to 5 % (s)": float(t[outside[-1]] if len(outside) else 0.0),
        "1 rad/s yaw-rate command: rate after 1 s (rad/s)": float(yaw[yaw[:, 0] > 1.0, 9].mean()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", nargs="*", default=None, help="scenes to measure (default: all)")
    parser.add_argument("--seconds", type=float, default=20.0, help="simulated seconds per repeat")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per cell; the fastest is reported")
    args = parser.parse_args()
    print("# Low-level control (cf2x)")
    print()
    print("| figure | value |")
    print("| --- | ---: |")
    for name, value in control_figures().items():
        print(f"| {name} | {value:.3f} |")
    print()
    scenes = args.scenes or scene_names()
    default = DroneNavEnv()
    cam = default.camera.params
    default_label = f"{cam.width}x{cam.height} @ {default.metadata['render_fps']:.0f} Hz"
    default.close()
    print(f"# DroneNav real-time factor (best of {args.repeats} x {args.seconds:.0f} simulated s per cell; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}, "
          f"PyBullet {version('pybullet')})")
    print()
    print("RTF: simulated seconds per wall-clock second; in brackets per CPU second of the process "
          "(what a core of its own gives when the machine is shared).")
    print()
    print(f"| scene | triangles | default camera ({default_label}) | 64x48 @ 24 Hz | without camera "
          f"| ms per step (default) | reset (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for scene in scenes:
        a = measure(scene, args.seconds, args.repeats)
        b = measure(scene, args.seconds, args.repeats, **REFERENCE)
        c = measure(scene, args.seconds, args.repeats, render=False)
        cells = " | ".join(f"{m['rtf']:.1f}x ({m['rtf_cpu']:.1f}x)" for m in (a, b, c))
        print(f"| {scene} | {a['triangles']} | {cells} | {a['ms_per_step']:.2f} | {a['reset_s']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
