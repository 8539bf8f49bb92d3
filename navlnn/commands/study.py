"""``navlnn study``: a study from its spec (``conf/study/<name>.yaml``), every stage in this process.

The stages call the commands' own ``run`` (``navlnn collect``, ``train``, ``eval``) in-process: each
command's config is composed by Hydra from its ``conf/<command>.yaml`` with the stage's overrides
(and this command's ``hydra.searchpath``), and runs with its own run folder, as if started by itself.
"""

from __future__ import annotations

import copy
import importlib
import json
from collections.abc import Sequence
from pathlib import Path

from hydra import compose
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf, open_dict, read_write

from navlnn.commands.own_scenes import resolve_own_scenes
from navlnn.study import Context, Spec, SpecError, check_recipes, check_spec, run_study
from navlnn.training.recipe import check_recipe, flatten

# the commands a stage runs, each a module with run(cfg) -> list[Path]
STAGE_COMMANDS = {"collect": "navlnn.commands.collect", "train": "navlnn.commands.train",
                  "eval": "navlnn.commands.eval"}
_ABSENT = object()


def _searchpath() -> list[str]:
    return [str(s) for s in HydraConfig.get().searchpath]


def _forwarded(searchpath: Sequence[str]) -> list[str]:
    return [f"hydra.searchpath=[{','.join(json.dumps(s) for s in searchpath)}]"] if searchpath else []


def run_command(command: str, overrides: list[str], folder: Path, searchpath: Sequence[str] = ()) -> None:
    """Compose ``conf/<command>.yaml`` with ``overrides`` and run the command's ``run`` with ``folder``
    as its run folder, in this process (Hydra's own job config is restored afterwards)."""
    module = importlib.import_module(STAGE_COMMANDS[command])
    folder = Path(folder).resolve()
    cfg = compose(config_name=command, overrides=[*overrides, *_forwarded(searchpath), f"hydra.run.dir={folder}"],
                  return_hydra_config=True)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(folder)
        cfg.hydra.mode = RunMode.RUN
    task = copy.deepcopy(cfg)
    with read_write(task), open_dict(task):
        del task["hydra"]
    own = HydraConfig.instance().cfg
    folder.mkdir(parents=True, exist_ok=True)
    HydraConfig.instance().set_config(cfg)
    try:
        resolve_own_scenes(task)  # scene names of one's own on the search path, as the CLI does
        module.run(task)
    finally:
        HydraConfig.instance().cfg = own


def load_recipes(names: Sequence[str], searchpath: Sequence[str]) -> dict[str, dict]:
    """The recipes ``conf/recipe/<name>.yaml`` as plain data (composed with their defaults lists)."""
    out = {}
    for name in names:
        cfg = compose(overrides=[f"+recipe={name}", *_forwarded(searchpath)])
        out[name] = check_recipe(OmegaConf.to_container(cfg.recipe, resolve=True))
    return out


def check_model_keys(heads: Sequence[str], recipes: dict[str, dict], searchpath: Sequence[str]) -> None:
    """Refuse a recipe whose ``model.*`` keys a head does not have, before any stage runs."""
    for head in heads:
        model = compose(config_name="train", overrides=["data=unused", f"model={head}", *_forwarded(searchpath)])
        for arm, recipe in recipes.items():
            for item in flatten("model", recipe.get("model") or {}):
                key = item.split("=", 1)[0]
                if OmegaConf.select(model, key, default=_ABSENT) is _ABSENT:
                    raise SpecError(f"'arms': recipe '{arm}' sets {key}, which head '{head}' does not have; "
                                    f"drop the head or the arm (conf/model/, conf/recipe/)")


def load_spec(cfg: DictConfig) -> tuple[Spec, dict[str, dict]]:
    """The checked spec of ``cfg.study`` (names checked against the recipes and models on the search path)."""
    loader = GlobalHydra.instance().config_loader()
    raw = OmegaConf.to_container(cfg.study, resolve=True)
    where = f"study spec '{HydraConfig.get().runtime.choices.get('study', raw.get('name'))}' (conf/study/)"
    try:
        spec = check_spec(raw, recipes=loader.get_group_options("recipe"), heads=loader.get_group_options("model"))
        recipes = load_recipes(spec.arms, _searchpath())
        check_recipes(spec, recipes)
        check_model_keys(spec.heads, recipes, _searchpath())
    except SpecError as exc:
        raise SpecError(f"{where}: {exc}") from None
    return spec, recipes


def run(cfg: DictConfig) -> list[Path]:
    """Run the spec's stages into the run folder; returns RESULTS.md (when analysed) and the stage markers."""
    spec, recipes = load_spec(cfg)
    run_dir = Path(HydraConfig.get().runtime.output_dir)
    searchpath = _searchpath()
    ctx = Context(spec=spec, run=run_dir, recipes=recipes,
                  runner=lambda command, overrides, folder: run_command(command, overrides, folder, searchpath),
                  logger_mode=str(cfg.logger_mode), workers=None if cfg.workers is None else int(cfg.workers))
    markers = run_study(ctx)
    results = run_dir / "analyse" / "RESULTS.md"
    return ([results] if results.is_file() else []) + markers
