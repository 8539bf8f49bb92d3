"""Names shared by every part of the package: the env id, the action names and the episode outcomes."""

from __future__ import annotations

ENV_ID = "DroneNav-v0"
ACTION_NAMES = ("vx", "vy", "vz", "yaw_rate")  # the env's action, body frame, normalised to [-1, 1]
ACTION_UNITS = ("m/s", "m/s", "m/s", "rad/s")  # of the scaled action
OUTCOMES = ("success", "collision", "out_of_bounds", "timeout")


def episode_outcome(info) -> str:
    """How an episode ended, from its last ``info``: success, collision, out_of_bounds or timeout."""
    if info["is_success"]:
        return "success"
    if info["collision"]:
        return "collision"
    if info["out_of_bounds"]:
        return "out_of_bounds"
    return "timeout"
