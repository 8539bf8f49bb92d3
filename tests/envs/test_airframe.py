"""Airframe figures, motor model, drag and wind."""

import math

import numpy as np
import pybullet as p
import pytest

from envs.airframe import GRAVITY, AirframeParams, Quadrotor, Wind
from envs.config import load


@pytest.fixture
def client():
    cid = p.connect(p.DIRECT)
    p.setGravity(0, 0, -GRAVITY, physicsClientId=cid)
    p.setTimeStep(1 / 240, physicsClientId=cid)
    yield cid
    p.disconnect(cid)


def test_crazyflie_figures():
    af = AirframeParams.load("cf2x")
    assert af.mass == pytest.approx(0.027)
    assert af.arm == pytest.approx(0.0397)
    assert af.kf == pytest.approx(3.16e-10)
    assert af.km == pytest.approx(7.94e-12)
    # four motors at full speed lift 2.25 times the weight; hover needs 1/sqrt(2.25) of it
    assert 4 * af.kf * af.max_rpm**2 == pytest.approx(2.25 * af.mass * GRAVITY)
    assert af.hover_rpm / af.max_rpm == pytest.approx(1 / 1.5)
    assert np.linalg.norm(af.motor_positions_body, axis=1) == pytest.approx([af.arm] * 4)
    assert af.physics_hz == 240


def test_second_airframe_is_config_only():
    cfg = load("drone", {"name": "cf2x", "mass": 0.054, "thrust_to_weight": 3.0})
    af = AirframeParams.from_config(cfg)
    assert af.mass == 0.054
    assert 4 * af.kf * af.max_rpm**2 == pytest.approx(3.0 * 0.054 * GRAVITY)


def test_unknown_airframe_lists_valid_names():
    with pytest.raises(ValueError, match="cf2x"):
        AirframeParams.load("no_such_drone")


def test_motor_lag_and_limits(client):
    af = AirframeParams.load("cf2x")
    quad = Quadrotor(client, af)
    quad.reset(np.array([0, 0, 5.0]), 0.0)
    start = quad.rpm[0]
    dt = 1 / 240
    steps = round(af.motor_time_constant / dt)
    for _ in range(steps):
        _, _, rot, vel, _ = quad.read()
        quad.apply([af.max_rpm * 2] * 4, rot, vel, dt)  # beyond the limit: clipped
        p.stepSimulation(physicsClientId=client)
    # after one time constant the first-order lag has closed 1 - 1/e of the gap to the limit
    frac = (quad.rpm[0] - start) / (af.max_rpm - start)
    assert frac == pytest.approx(1 - math.exp(-steps * dt / af.motor_time_constant), abs=1e-6)
    for _ in range(400):
        _, _, rot, vel, _ = quad.read()
        quad.apply([af.max_rpm * 2] * 4, rot, vel, dt)
        p.stepSimulation(physicsClientId=client)
    assert max(quad.rpm) <= af.max_rpm + 1e-6
    # full thrust: climbing, accelerating at about (2.25 - 1) g minus drag
    assert quad.state().vel_world[2] > 5.0


def test_yaw_torque_from_motor_speeds(client):
    af = AirframeParams.load("cf2x")
    quad = Quadrotor(client, af)
    quad.reset(np.array([0, 0, 5.0]), 0.0)
    h = af.hover_rpm
    spin = np.asarray(af.motor_spin)
    cmd = h * (1 + 0.05 * spin)  # speed up the motors whose reaction torque is positive
    quad.rpm = list(cmd)
    for _ in range(24):
        _, _, rot, vel, _ = quad.read()
        quad.apply(cmd, rot, vel, 1 / 240)
        p.stepSimulation(physicsClientId=client)
    state = quad.state()
    assert state.ang_vel_body[2] > 0.05
    assert abs(state.ang_vel_body[0]) < 1e-3 and abs(state.ang_vel_body[1]) < 1e-3


def test_linear_drag_terminal_velocity(client):
    af = AirframeParams.load("cf2x")
    quad = Quadrotor(client, af)
    quad.reset(np.array([0, 0, 50.0]), 0.0)
    # motors off: free fall until drag balances weight, v = m g / d_z
    for _ in range(240 * 30):
        _, _, rot, vel, _ = quad.read()
        quad.apply([0.0] * 4, rot, vel, 1 / 240)
        p.stepSimulation(physicsClientId=client)
        quad.rpm = [0.0] * 4
    assert quad.state().vel_world[2] == pytest.approx(-af.mass * GRAVITY / af.drag[2], rel=0.02)


def test_wind_gusts_seeded_and_stationary():
    cfg = {"enabled": True, "mean_world": [1.0, 0.0, 0.0], "gust_std": 0.5, "gust_time_constant": 1.0}
    a, b = Wind(cfg, np.random.default_rng(3)), Wind(cfg, np.random.default_rng(3))
    a.reset(np.random.default_rng(3))
    b.reset(np.random.default_rng(3))
    va = np.array([a.step(1 / 240) for _ in range(240 * 60)])
    vb = np.array([b.step(1 / 240) for _ in range(240 * 60)])
    assert np.array_equal(va, vb)
    assert va[:, 0].mean() == pytest.approx(1.0, abs=0.25)
    assert va[:, 1].std() == pytest.approx(0.5, rel=0.3)
    assert not Wind({"enabled": False}, np.random.default_rng(0)).step(0.1).any()
