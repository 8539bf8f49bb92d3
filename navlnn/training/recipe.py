"""Training recipes: the data, training and DAgger settings of one summer-only recipe in one file.

A recipe is an entry of the ``conf/recipe/`` config group (``navlnn pipeline recipe=robust``)::

    description: one line
    collect: {episodes: 300, start: {fraction: 0.5}}   # navlnn collect keys: amount and variety of data
    train_preset: default                              # a conf/train entry
    train: {seq_len: 64, augment: {hue_deg: 30}}       # train.* keys over the preset
    model: {trunk: {dropout: 0.1}}                     # model.* keys (any head)
    dagger: {rounds: 0, episodes_per_round: 20, beta: {initial: 0.5, decay: 0.5}}

:func:`stage_overrides` turns it into the Hydra overrides of each navlnn command (``collect``,
``train`` or ``dagger``), which the pipeline and ``experiments/ood_recipe/run.sh`` pass on. Recipes
train on summer images only: a recipe that names a scene or a scene modifier is refused.

    python -m navlnn.training.recipe robust train      # prints the overrides, one per line
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Mapping
from typing import Any

SECTIONS = ("description", "collect", "train_preset", "train", "model", "dagger")
STAGES = ("collect", "train", "dagger")
NOT_SUMMER_ONLY = ("scene", "modifiers", "data")  # collect keys a summer-only recipe may not set


class RecipeError(ValueError):
    """A recipe that cannot be used as it is (the message names the key and the fix)."""


def _value(value: Any) -> str:
    """A value in Hydra's override syntax."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{_value(v)}" for k, v in value.items()) + "}"
    return str(value)


def flatten(prefix: str, values: Mapping[str, Any]) -> list[str]:
    """``key=value`` overrides for every leaf of ``values`` under ``prefix`` (lists stay whole)."""
    out = []
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            out += flatten(path, value)
        else:
            out.append(f"{path}={_value(value)}")
    return out


def check_recipe(recipe: Mapping[str, Any]) -> dict:
    """The recipe as plain data, with its sections checked (unknown sections, non-summer collection)."""
    recipe = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in recipe.items()}
    unknown = sorted(set(recipe) - set(SECTIONS))
    if unknown:
        raise RecipeError(f"recipe: unknown section(s) {unknown}; valid: {', '.join(SECTIONS)}")
    banned = sorted(set(recipe.get("collect") or {}) & set(NOT_SUMMER_ONLY))
    if banned:
        raise RecipeError(f"recipe.collect: {banned} may not be set: a recipe trains on summer images only "
                          f"(the collection's scene is summer and its folder is chosen by the command)")
    rounds = int((recipe.get("dagger") or {}).get("rounds", 0))
    if rounds < 0:
        raise RecipeError(f"recipe.dagger.rounds: must be >= 0, got {rounds}")
    return recipe


def stage_overrides(recipe: Mapping[str, Any], stage: str) -> list[str]:
    """The Hydra overrides that the recipe gives navlnn ``stage`` (``collect``, ``train`` or ``dagger``)."""
    recipe = check_recipe(recipe)
    if stage == "collect":
        return flatten("", recipe.get("collect") or {})
    if stage not in STAGES:
        raise RecipeError(f"recipe: unknown stage '{stage}'; valid: {', '.join(STAGES)}")
    out = [f"train={recipe.get('train_preset') or 'default'}", *flatten("train", recipe.get("train") or {}),
           *flatten("model", recipe.get("model") or {})]
    if stage == "dagger":
        dagger = dict(recipe.get("dagger") or {})
        dagger.setdefault("rounds", 0)
        out += flatten("", dagger)
    return out


def dagger_rounds(recipe: Mapping[str, Any]) -> int:
    """DAgger rounds after the first training (0: plain behaviour cloning)."""
    return int((check_recipe(recipe).get("dagger") or {}).get("rounds", 0))


def data_tag(recipe: Mapping[str, Any]) -> str:
    """A short stable name of the recipe's collection settings (recipes that collect alike share data)."""
    collect = check_recipe(recipe).get("collect") or {}
    if not collect:
        return "default"
    return "c" + hashlib.sha1(json.dumps(collect, sort_keys=True).encode()).hexdigest()[:8]


def load_recipe(name: str, overrides: list[str] | None = None) -> dict:
    """The composed recipe ``conf/recipe/<name>.yaml`` (with its defaults list) as plain data."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    if GlobalHydra.instance().is_initialized():
        GlobalHydra.instance().clear()
    with initialize_config_module(config_module="envs.conf", version_base="1.3"):
        try:
            cfg = compose(overrides=[f"+recipe={name}", *(overrides or [])])
        except Exception as exc:  # Hydra's missing-config error, in one line
            raise RecipeError(f"recipe '{name}': {str(exc).splitlines()[0]}") from None
    return check_recipe(OmegaConf.to_container(cfg.recipe, resolve=True))


def main(argv: list[str]) -> int:
    """``python -m navlnn.training.recipe <name> <collect|train|dagger|rounds|data_tag>``: print for a shell."""
    if len(argv) != 2:
        print("usage: python -m navlnn.training.recipe <recipe> <collect|train|dagger|rounds|data_tag>",
              file=sys.stderr)
        return 2
    try:
        recipe = load_recipe(argv[0])
        what = argv[1]
        if what == "rounds":
            print(dagger_rounds(recipe))
        elif what == "data_tag":
            print(data_tag(recipe))
        else:
            print("\n".join(stage_overrides(recipe, what)))
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
