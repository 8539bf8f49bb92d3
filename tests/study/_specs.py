"""A small valid spec (plain data) for the study tests, and the packaged recipe and model names."""

from __future__ import annotations

import copy
from pathlib import Path

CONF = Path(__file__).resolve().parents[2] / "conf"
RECIPES = sorted(p.stem for p in (CONF / "recipe").glob("*.yaml"))
HEADS = sorted(p.stem for p in (CONF / "model").glob("*.yaml"))

TINY = {
    "name": "tiny",
    "description": "a tiny study for the tests",
    "arms": ["baseline", "photometric"],
    "heads": ["ncp_cfc", "cnn"],
    "seeds": [0, 1],
    "tasks": ["fly_to_target"],
    "collection": {"scene": "summer", "task": "fly_to_target", "episodes": 4, "seed": 0},
    "training": {"epochs": 1, "stride": 4, "checkpoints": ["best"]},
    "validation": {"scenes": ["summer"], "layouts": 2, "seeds": [1]},
    "test": {"scenes": ["summer", "winter"], "layouts": 2, "seeds": [0]},
    "selection": {"per": "study", "metric": "success"},
    "analysis": {"reference": "ncp_cfc", "resolve_seeds": [5], "level": 0.95},
    "stages": ["collect", "train", "validate", "choose", "test", "analyse"],
    "overrides": {"collect": ["drone.camera.width=64", "drone.camera.height=36"],
                  "train": ["model.trunk.channels=[8,8,8,8,8]", "train.seq_len=8", "train.batch_size=4"],
                  "eval": ["eval.reference_expert=false"]},
}


def tiny(**changes) -> dict:
    """A copy of TINY with top-level keys replaced."""
    spec = copy.deepcopy(TINY)
    spec.update(changes)
    return spec
