"""Small policies and settings for the evaluation tests: a 64x36 camera, short episodes."""

from __future__ import annotations

from pathlib import Path

from hydra import compose, initialize_config_dir

from navlnn.nn.policy import build_policy

CONF = Path(__file__).resolve().parents[2] / "conf"
HW = (36, 64)
CAMERA = {"width": HW[1], "height": HW[0]}
SHORT_TASK = {"name": "fly_to_target", "time_limit_s": 2.0}  # 30 steps at most


def tiny_policy(model: str = "ncp_cfc", hw: tuple[int, int] = HW):
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["data=unused", f"model={model}", "model.trunk.channels=[8,8,8,8,8]"])
    policy = build_policy(cfg.model, hw)
    policy.eval()
    return policy
