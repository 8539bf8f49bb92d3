"""Helpers for the data tests: a small collection spec (tiny camera, conf/collect.yaml's noise)."""

from __future__ import annotations

import yaml

from envs.config import CONF_DIR
from navlnn.rollout.collect import CollectSpec

CAMERA = {"width": 64, "height": 36}


def tiny_spec(**changes) -> CollectSpec:
    """The spec of conf/collect.yaml (summer, fly_to_target) with a small camera."""
    cfg = yaml.safe_load((CONF_DIR / "collect.yaml").read_text())
    drone = yaml.safe_load((CONF_DIR / "drone" / "cf2x.yaml").read_text())
    drone["camera"].update(CAMERA)
    base = dict(scene={"name": "summer"}, modifiers=[], task={"name": "fly_to_target"}, drone=drone,
                expert={"name": "default"}, noise=cfg["noise"], start=cfg["start"], seed=0)
    base.update(changes)
    return CollectSpec(**base)


def quiet(*_args) -> None:
    """Swallow the collector's log lines."""
