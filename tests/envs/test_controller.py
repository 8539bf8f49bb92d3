"""The cascaded controller, with figures: hover, velocity step, yaw rate."""

import numpy as np
import pybullet as p
import pytest

from envs.airframe import GRAVITY, AirframeParams, Quadrotor, Wind
from envs.config import load
from envs.controller import ControlParams, VelocityController

DT = 1 / 240


@pytest.fixture
def rig():
    cfg = load("drone", "cf2x")
    af = AirframeParams.from_config(cfg)
    ctl = VelocityController(af, ControlParams.from_config(cfg["control"]))
    cid = p.connect(p.DIRECT)
    p.setGravity(0, 0, -GRAVITY, physicsClientId=cid)
    p.setTimeStep(DT, physicsClientId=cid)
    quad = Quadrotor(cid, af)
    yield quad, ctl, cid
    p.disconnect(cid)


def fly(rig, command, seconds, yaw0=0.4, wind=None, kick=None):
    """Fly ``command(t) -> (vel_body, yaw_rate)``; returns time, pos, vel_body, yaw, rates, rpm logs."""
    quad, ctl, cid = rig
    quad.reset(np.array([0.0, 0.0, 2.0]), yaw0)
    ctl.reset(yaw0)
    if kick is not None:
        p.resetBaseVelocity(quad.body, kick[0], kick[1], physicsClientId=cid)
    log = {k: [] for k in ("t", "pos", "vel_body", "yaw", "rate", "rpm")}
    for k in range(round(seconds / DT)):
        t = k * DT
        vel_cmd, yaw_rate = command(t)
        _, _, rot, vel, w = quad.read()
        rpm = ctl.step(rot, vel, w, tuple(vel_cmd), yaw_rate, DT)
        quad.apply(rpm, rot, vel, DT, None if wind is None else tuple(wind.step(DT)))
        p.stepSimulation(physicsClientId=cid)
        s = quad.state()
        log["t"].append(t + DT)
        log["pos"].append(s.pos_world)
        log["vel_body"].append(s.vel_body)
        log["yaw"].append(s.yaw)
        log["rate"].append(s.ang_vel_body)
        log["rpm"].append(list(quad.rpm))
    return {k: np.array(v) for k, v in log.items()}


def test_hover_holds_position_within_5cm_for_10s(rig):
    # start from a small push: a zero velocity command must bring it to rest and hold it there
    log = fly(rig, lambda t: ((0, 0, 0), 0.0), 10.0, kick=((0.05, -0.05, 0.03), (0.1, -0.1, 0.0)))
    drift = np.linalg.norm(log["pos"] - log["pos"][0], axis=1)
    assert drift.max() < 0.05
    assert np.linalg.norm(log["vel_body"][-240:], axis=1).max() < 0.01


def test_hover_in_gusts_stays_close(rig):
    wind = Wind({"enabled": True, "mean_world": [0.0, 0.0, 0.0], "gust_std": 0.3, "gust_time_constant": 1.0},
                np.random.default_rng(0))
    wind.reset(np.random.default_rng(0))
    log = fly(rig, lambda t: ((0, 0, 0), 0.0), 10.0, wind=wind)
    drift = np.linalg.norm(log["pos"] - log["pos"][0], axis=1)
    assert 0.0 < drift.max() < 0.15  # the gusts push it (velocity control only), not away


def test_forward_step_settles_within_1s_under_15pct_overshoot(rig):
    t0 = 0.5
    log = fly(rig, lambda t: ((1.0, 0, 0) if t >= t0 else (0, 0, 0), 0.0), t0 + 3.0)
    after = log["t"] > t0
    vx = log["vel_body"][after, 0]
    t = log["t"][after] - t0
    overshoot = vx.max() - 1.0
    assert overshoot < 0.15
    outside = np.flatnonzero(np.abs(vx - 1.0) > 0.05)  # 5 % band
    settle = t[outside[-1]] if len(outside) else 0.0
    assert settle < 1.0
    assert abs(log["vel_body"][after, 1]).max() < 0.05  # no sideways coupling
    assert abs(log["pos"][:, 2] - 2.0).max() < 0.1  # holds its height while tilting


@pytest.mark.parametrize("rate", [0.5, -1.5])
def test_yaw_rate_is_tracked(rig, rate):
    log = fly(rig, lambda t: ((0, 0, 0), rate), 3.0)
    late = log["t"] > 1.0
    assert log["rate"][late, 2].mean() == pytest.approx(rate, rel=0.03)
    unwrapped = np.unwrap(log["yaw"])
    assert (unwrapped[-1] - unwrapped[0]) == pytest.approx(rate * 3.0, rel=0.1)
    assert abs(log["pos"][:, 2] - 2.0).max() < 0.05


def test_climb_and_sideways_commands(rig):
    log = fly(rig, lambda t: ((0, 0.8, 0.5), 0.0), 3.0)
    assert log["vel_body"][-1] == pytest.approx([0.0, 0.8, 0.5], abs=0.04)


def test_motor_commands_stay_within_limits(rig):
    quad, ctl, _ = rig
    log = fly(rig, lambda t: ((2.0, -2.0, 1.0) if int(t) % 2 == 0 else (-2.0, 2.0, -1.0), 1.5), 4.0)
    assert log["rpm"].max() <= quad.params.max_rpm + 1e-6
    assert log["rpm"].min() >= quad.params.min_rpm - 1e-6
