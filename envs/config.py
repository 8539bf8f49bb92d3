"""Config loading for the simulator: YAML files under ``conf/`` or plain dicts.

The files are the same ones Hydra composes for the ``navlnn`` commands, read here with
PyYAML so that ``envs`` stands alone. The repository's ``conf/`` and ``assets/`` folders are
installed as the packages ``envs.conf`` and ``envs.assets`` (see ``pyproject.toml``), so they are
found through the package, in an editable install as in a wheel, from any working directory.
"""

from __future__ import annotations

import copy
import dataclasses
import importlib.resources
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml



def package_dir(package: str) -> Path:
    """The folder of an installed data package (``envs.conf``, ``envs.assets``) on the file system."""
    folder = Path(str(importlib.resources.files(package)))
    if not folder.is_dir():
        raise FileNotFoundError(f"{package}: not a folder on disk ({folder}); install navlnn from a wheel or the repo")
    return folder


CONF_DIR = package_dir("envs.conf")
ASSETS_DIR = package_dir("envs.assets")

T = TypeVar("T")


def available(group: str) -> list[str]:
    """Names of the YAML files in ``conf/<group>/`` (sorted, without extension)."""
    folder = CONF_DIR / group
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def deep_update(base: dict, override: Mapping) -> dict:
    """Return a copy of ``base`` with ``override`` merged in, recursively for dicts."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(_plain(value))
    return out


def _plain(value: Any) -> Any:
    """Turn mappings and sequences (e.g. omegaconf containers) into dicts and lists."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) or type(value).__name__ == "ListConfig":
        return [_plain(v) for v in value]
    return value


def load(group: str, spec: str | Mapping | None, default: str | None = None) -> dict:
    """Load config ``spec`` of ``group``: a name in ``conf/<group>/``, or a mapping.

    A mapping with a ``name`` key is merged over that named file, so that partial
    overrides (for example ``{"name": "cf2x", "camera": {"width": 64}}``) work.
    Raises ``ValueError`` listing the valid names when the name is unknown.
    """
    if spec is None:
        spec = default
    if isinstance(spec, Mapping):
        spec = _plain(spec)
        name = spec.get("name")
        if name is None:
            return spec
        return deep_update(load(group, name), spec)
    if not isinstance(spec, str):
        raise ValueError(f"{group} must be a name or a mapping, got {type(spec).__name__}")
    path = CONF_DIR / group / f"{spec}.yaml"
    if not path.is_file():
        valid = ", ".join(available(group)) or "(none found)"
        raise ValueError(f"unknown {group} '{spec}'. Valid {group} names: {valid}.")
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    data.setdefault("name", spec)
    return data


def dataclass_from_config(cls: type[T], cfg: Mapping, what: str) -> T:
    """Build the dataclass ``cls`` from the keys of ``cfg`` named like its fields (extra keys
    are ignored, lists become tuples). A missing key fails with one message naming ``what``."""
    names = [f.name for f in dataclasses.fields(cls)]
    missing = [n for n in names if n not in cfg]
    if missing:
        raise ValueError(f"{what} lacks keys: {', '.join(missing)}")
    values = {n: _plain(cfg[n]) for n in names}
    return cls(**{n: tuple(v) if isinstance(v, list) else v for n, v in values.items()})


def asset(name: str) -> Path:
    """Path of a file in ``assets/``; raises ``FileNotFoundError`` naming it when missing."""
    path = ASSETS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"asset '{name}' not found in {ASSETS_DIR}")
    return path
