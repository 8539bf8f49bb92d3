"""Scenes of one's own on the search path, for every command.

``navlnn eval ... scene=desert hydra.searchpath=[file://my_conf]`` composes ``my_conf/scene/desert.yaml``
through Hydra (defaults lists and interpolations work); ``scenes=[summer,desert+fog]`` lists it beside
packaged scenes. Each such name becomes the scene's mapping, named after its file, which the env flies
as a scene of one's own (``envs.scene.resolve_scene``). Packaged names stay as they are, and a benchmark
scene's name is never taken by a file of one's own: the benchmark scenes are frozen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

SCENE_SEPARATOR = "+"  # as in envs.scene, which is imported only where a scene of one's own is read (PyBullet)
PACKAGE_PROVIDERS = ("hydra", "main", "schema")  # the config sources that are not the user's


def own_config_folders(sources: Any) -> list[Path]:
    """The folders of the user's config sources (``hydra.searchpath``: ``file://`` and ``pkg://``), in search order.

    ``sources`` is ``hydra.runtime.config_sources`` (entries with ``provider``, ``schema``, ``path``).
    """
    import importlib.resources

    folders = []
    for source in sources or []:
        if source["provider"] in PACKAGE_PROVIDERS or not source["path"]:
            continue
        if source["schema"] == "file":
            folders.append(Path(source["path"]))
        elif source["schema"] == "pkg":
            module, _, sub = str(source["path"]).partition("/")
            try:
                folders.append(Path(str(importlib.resources.files(module))) / sub)
            except (ModuleNotFoundError, TypeError):
                continue  # Hydra has already warned that this source is not available
    return folders


def own_scene_file(name: str, folders: list[Path]) -> Optional[Path]:
    """The first ``scene/<name>.yaml`` in ``folders``, or None."""
    return next((f / "scene" / f"{name}.yaml" for f in folders if (f / "scene" / f"{name}.yaml").is_file()), None)


def packaged_scene_names() -> list[str]:
    """The packaged (benchmark) scene names."""
    from envs.config import available

    return available("scene")


def own_scene_names(folders: list[Path]) -> list[str]:
    """Names of the scenes of one's own in ``folders`` (packaged names left out)."""
    names = {p.stem for f in folders for p in (f / "scene").glob("*.yaml")}
    return sorted(names - set(packaged_scene_names()))


def refuse_shadowing(name: str, folders: list[Path]) -> None:
    """Stop when a user folder holds a changed ``scene/<benchmark>.yaml``: Hydra would fly the packaged one."""
    import yaml

    from envs.config import load

    path = own_scene_file(name, folders)
    if path is None:
        return
    mine = yaml.safe_load(path.read_text()) or {}
    if isinstance(mine, dict):
        mine.setdefault("name", name)
    if mine != load("scene", name):
        raise ValueError(f"{path}: '{name}' is a benchmark scene, which stays as packaged (the package's config comes "
                         f"first, so yours would be ignored); give your scene a name of its own, e.g. "
                         f"{path.with_name('my_' + name + '.yaml')} with name: my_{name}")


def _named_after_file(name: str, scene: dict, path: Optional[Path]) -> dict:
    """``scene`` with its name set to ``name`` (the file's); a different ``name:`` inside is refused."""
    given = scene.get("name")
    if given is not None and given != name:
        where = path if path is not None else f"scene={name}"
        raise ValueError(f"{where}: says name: {given}, but a scene of your own is named after its file; "
                         f"set name: {name} (or remove the line)")
    return {**scene, "name": name}


def compose_own_scene(name: str, searchpath: list[str], folders: list[Path]) -> dict:
    """The scene ``name`` (with ``+`` modifiers) from the user's folders, composed by Hydra, as a plain mapping."""
    from hydra import compose
    from omegaconf import OmegaConf

    from envs.scene import modifier_names
    from envs.scene import scene_names as ordered_scene_names

    base, *mods = [s.strip() for s in name.split(SCENE_SEPARATOR) if s.strip()]
    path = own_scene_file(base, folders)
    if path is None:
        raise ValueError(f"unknown scene '{base}'. Valid scenes: {', '.join(ordered_scene_names())}; of your own "
                         f"(scene/*.yaml on hydra.searchpath): {', '.join(own_scene_names(folders)) or 'none'}; "
                         f"modifiers (joined with '+', e.g. 'winter+fog'): {', '.join(modifier_names())}.")
    overrides = [f"+scene={base}", f"hydra.searchpath=[{','.join(json.dumps(s) for s in searchpath)}]"]
    scene = OmegaConf.to_container(compose(overrides=overrides).scene, resolve=True)
    scene = _named_after_file(base, dict(scene), path)
    return {**scene, "modifiers": [*(scene.get("modifiers") or []), *mods]} if mods else scene


def _resolve_entry(entry: Any, searchpath: list[str], folders: list[Path]) -> Any:
    """One entry of ``scenes``: a packaged name as it is, a name of one's own or a YAML path as its mapping."""
    if not isinstance(entry, str):
        return entry
    if entry.lower().endswith((".yaml", ".yml")) or Path(entry).is_file():
        from envs.scene import is_scene_file, load_scene_file

        if is_scene_file(entry):
            return load_scene_file(entry)
    base = entry.split(SCENE_SEPARATOR)[0].strip()
    if base in packaged_scene_names():
        refuse_shadowing(base, folders)
        return entry
    return compose_own_scene(entry, searchpath, folders) if folders else entry


def resolve_own_scenes(cfg: Any) -> None:
    """Turn the scenes of one's own in ``cfg.scene`` and ``cfg.scenes`` (a command's ``DictConfig``) into
    mappings the env flies, in place.

    Without folders of one's own on the search path, names pass through unchanged (the env names the
    valid ones when a name is unknown).
    """
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

    hydra_cfg = HydraConfig.get()
    folders = own_config_folders(OmegaConf.to_container(hydra_cfg.runtime.config_sources))
    searchpath = [str(s) for s in hydra_cfg.searchpath]
    choice = hydra_cfg.runtime.choices.get("scene")
    scene = cfg.get("scene")
    if isinstance(scene, DictConfig) and choice:
        if choice in packaged_scene_names():
            refuse_shadowing(choice, folders)
        else:
            named = _named_after_file(choice, OmegaConf.to_container(scene, resolve=True), own_scene_file(choice, folders))
            with open_dict(cfg):
                cfg.scene = named
    scenes = cfg.get("scenes")
    if isinstance(scenes, (ListConfig, str)):
        entries = [scenes] if isinstance(scenes, str) else OmegaConf.to_container(scenes, resolve=True)
        resolved = [_resolve_entry(e, searchpath, folders) for e in entries]
        if resolved != entries:
            with open_dict(cfg):
                cfg.scenes = resolved
