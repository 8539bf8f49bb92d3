"""A head of one's own as a package outside navlnn: its files, written into a folder, for the plugin tests."""

from __future__ import annotations

from pathlib import Path

HEAD_MODULE = '''"""A head of one's own: an MLP on each frame's features and dt."""

import torch
from torch import nn

from navlnn.policies.heads import Head


class MLPHead(Head):
    def __init__(self, feature_dim: int, action_dim: int, width: int = 32, gain: float = 1.0) -> None:
        super().__init__()
        self.gain = gain
        self.mlp = nn.Sequential(nn.Linear(feature_dim + 1, width), nn.GELU(), nn.Linear(width, action_dim))
        self.state_size = 1

    def forward(self, features, dt, state=None):
        if state is None:
            state = features.new_zeros(features.shape[0], 1)
        return self.gain * self.mlp(torch.cat([features, dt.unsqueeze(-1).to(features.dtype)], -1)), state
'''

PYPROJECT = '''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"

[tool.setuptools]
packages = ["{module}"]

[project.entry-points."navlnn.heads"]
{entry_point} = "{module}:MLPHead"
'''

MODEL_YAML = '''defaults:
  - trunk: default
  - _self_

name: {entry_point}
head:
  _target_: {entry_point}
  width: 16
'''


def write_package(folder: Path, dist: str = "myheads", module: str = "myheads", entry_point: str = "myhead") -> Path:
    """A source tree ``folder/<dist>`` (pyproject.toml and the module) whose head is the entry point ``entry_point``."""
    root = folder / dist
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(HEAD_MODULE)
    (root / "pyproject.toml").write_text(PYPROJECT.format(dist=dist, module=module, entry_point=entry_point))
    return root


def write_model_config(conf: Path, entry_point: str = "myhead") -> Path:
    """``conf/model/<entry_point>.yaml`` naming the head by its entry point name."""
    path = conf / "model" / f"{entry_point}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(MODEL_YAML.format(entry_point=entry_point))
    return path


def write_dist_info(site: Path, dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> Path:
    """An installed distribution without pip: ``<dist>-0.1.0.dist-info`` with entry points, and its modules."""
    info = site / f"{dist}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1.0\n")
    lines = ["[navlnn.heads]", *(f"{name} = {value}" for name, value in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    return info
