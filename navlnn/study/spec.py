"""A study spec (``conf/study/<name>.yaml``): what a study trains, flies and compares, checked on load.

A spec names arms (recipes of ``conf/recipe/``), heads (``conf/model/``), training seeds, the summer
collection, the training, the validation and test flights (scenes with ``+`` modifiers, tasks,
layouts per checkpoint, eval seeds), the selection rule and the stages. :func:`check_spec` refuses
an unknown key (naming the valid ones), an unknown recipe, head or stage, and validation and test
seeds that share a layout.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from navlnn.rollout.seeds import eval_seeds
from navlnn.training.recipe import dagger_rounds

STAGES = ("collect", "train", "validate", "choose", "test", "analyse")
CHECKPOINTS = ("best", "last")
SELECTION_PER = ("study", "head")
METRICS = ("success",)
OVERRIDE_STAGES = ("collect", "train", "eval")

# section -> its keys; None: a leaf (any value)
KEYS: dict[str, Any] = {
    "name": None, "description": None, "arms": None, "heads": None, "seeds": None, "tasks": None,
    "collection": {"scene": None, "task": None, "episodes": None, "seed": None},
    "training": {"epochs": None, "stride": None, "checkpoints": None},
    "validation": {"scenes": None, "layouts": None, "seeds": None},
    "test": {"scenes": None, "layouts": None, "seeds": None},
    "selection": {"per": None, "metric": None},
    "analysis": {"reference": None, "resolve_seeds": None, "level": None},
    "stages": None,
    "overrides": {k: None for k in OVERRIDE_STAGES},
}


class SpecError(ValueError):
    """A spec that cannot run as it is; the message names the key and the fix."""


@dataclass(frozen=True)
class Flights:
    """The flights of one phase (validation or test): scenes, layouts per checkpoint, eval seeds."""

    scenes: list[str]
    layouts: int
    seeds: list[int]


@dataclass(frozen=True)
class Spec:
    """A checked study spec (plain data; ``raw`` keeps it as written, for the run folder and RESULTS.md)."""

    name: str
    description: str
    arms: list[str]
    heads: list[str]
    seeds: list[int]
    tasks: list[str]
    collection: dict
    epochs: int
    stride: int
    checkpoints: list[str]
    validation: Flights
    test: Flights
    per: str
    metric: str
    reference: str | None
    resolve_seeds: list[int]
    level: float
    stages: list[str]
    overrides: dict[str, list[str]] = field(default_factory=dict)
    raw: dict = field(default_factory=dict)


def unknown_keys(raw: Mapping, keys: Mapping = KEYS, prefix: str = "") -> None:
    """Raise on the first key of ``raw`` that ``keys`` does not have, naming the valid ones."""
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if key not in keys:
            where = f"of {prefix[:-1]}" if prefix else "of a spec"
            raise SpecError(f"unknown key '{path}'; valid keys {where}: {', '.join(keys)}")
        if isinstance(keys[key], Mapping):
            if not isinstance(value, Mapping):
                raise SpecError(f"'{path}' must be a mapping with keys {', '.join(keys[key])}; got {value!r}")
            unknown_keys(value, keys[key], f"{path}.")


def _need(raw: Mapping, path: str) -> Any:
    node: Any = raw
    for part in path.split("."):
        if not isinstance(node, Mapping) or node.get(part) is None:
            raise SpecError(f"'{path}' is missing; set it in the spec (see docs/study.md)")
        node = node[part]
    return node


def _names(raw: Mapping, path: str, valid: Sequence[str] | None, what: str) -> list[str]:
    values = _need(raw, path)
    values = [values] if isinstance(values, str) else list(values)
    if not values:
        raise SpecError(f"'{path}' is empty; list at least one {what}")
    if len(set(map(str, values))) != len(values):
        raise SpecError(f"'{path}' lists a {what} twice: {values}")
    bad = [v for v in values if valid is not None and str(v) not in valid]
    if bad:
        raise SpecError(f"'{path}': unknown {what}(s) {bad}; valid: {', '.join(valid)}")
    return [str(v) for v in values]


def _ints(raw: Mapping, path: str, minimum: int) -> list[int]:
    values = _need(raw, path)
    values = [values] if isinstance(values, int) else list(values)
    if not values or any(not isinstance(v, int) or v < minimum for v in values):
        raise SpecError(f"'{path}' must list integers >= {minimum}; got {values}")
    if len(set(values)) != len(values):
        raise SpecError(f"'{path}' lists a seed twice: {values}")
    return values


def _count(raw: Mapping, path: str) -> int:
    value = _need(raw, path)
    if not isinstance(value, int) or value < 1:
        raise SpecError(f"'{path}' must be an integer >= 1; got {value!r}")
    return value


def _flights(raw: Mapping, phase: str) -> Flights:
    return Flights(scenes=_names(raw, f"{phase}.scenes", None, "scene"), layouts=_count(raw, f"{phase}.layouts"),
                   seeds=_ints(raw, f"{phase}.seeds", 0))


def check_disjoint(validation: Flights, test: Flights) -> None:
    """Refuse validation and test seeds that share an eval seed or a layout (an env seed)."""
    shared = sorted(set(validation.seeds) & set(test.seeds))
    if shared:
        raise SpecError(f"validation.seeds and test.seeds share {shared}: the choice would see test layouts; "
                        f"give validation other seeds")
    val = {s for k in validation.seeds for s in eval_seeds(k, validation.layouts)}
    flown = {s for k in test.seeds for s in eval_seeds(k, test.layouts)}
    if val & flown:
        raise SpecError(f"validation.seeds {validation.seeds} and test.seeds {test.seeds} share "
                        f"{len(val & flown)} layouts; give validation other seeds")


def _choice(raw: Mapping, path: str, valid: Sequence[str]) -> str:
    value = str(_need(raw, path))
    if value not in valid:
        raise SpecError(f"'{path}': unknown value '{value}'; valid: {', '.join(valid)}")
    return value


def _overrides(raw: Mapping) -> dict[str, list[str]]:
    given = raw.get("overrides") or {}
    out = {}
    for stage in OVERRIDE_STAGES:
        items = given.get(stage) or []
        if isinstance(items, str) or any(not isinstance(i, str) or "=" not in i for i in items):
            raise SpecError(f"'overrides.{stage}' must list Hydra overrides key=value; got {items!r}")
        out[stage] = list(items)
    return out


def check_spec(raw: Mapping, recipes: Sequence[str] | None = None, heads: Sequence[str] | None = None) -> Spec:
    """``raw`` (a spec as plain data) checked: keys, names (against ``recipes`` and ``heads`` when given),
    counts, the stages, and disjoint validation and test seeds."""
    unknown_keys(raw)
    validation, test = _flights(raw, "validation"), _flights(raw, "test")
    check_disjoint(validation, test)
    stages = _names(raw, "stages", STAGES, "stage")
    order = [s for s in STAGES if s in stages]
    if stages != order:
        raise SpecError(f"'stages' must keep the order {', '.join(STAGES)}; got {', '.join(stages)}")
    analysis = raw.get("analysis") or {}
    head_names = _names(raw, "heads", heads, "head")
    reference = analysis.get("reference")
    if reference is not None and reference not in head_names:
        raise SpecError(f"'analysis.reference': '{reference}' is not one of the heads {head_names}")
    return Spec(
        name=str(_need(raw, "name")), description=str(raw.get("description") or ""),
        arms=_names(raw, "arms", recipes, "recipe"), heads=head_names, seeds=_ints(raw, "seeds", 0),
        tasks=_names(raw, "tasks", None, "task"),
        collection={"scene": str(_need(raw, "collection.scene")), "task": str(_need(raw, "collection.task")),
                    "episodes": _count(raw, "collection.episodes"), "seed": _ints(raw, "collection.seed", 0)[0]},
        epochs=_count(raw, "training.epochs"), stride=_count(raw, "training.stride"),
        checkpoints=_names(raw, "training.checkpoints", CHECKPOINTS, "checkpoint"),
        validation=validation, test=test, per=_choice(raw, "selection.per", SELECTION_PER),
        metric=_choice(raw, "selection.metric", METRICS), reference=reference,
        resolve_seeds=[int(s) for s in analysis.get("resolve_seeds") or []],
        level=float(analysis.get("level") or 0.95), stages=stages, overrides=_overrides(raw), raw=dict(raw))


def check_recipes(spec: Spec, recipes: Mapping[str, Mapping]) -> None:
    """Refuse an arm whose recipe has DAgger rounds: a study trains by behaviour cloning only."""
    for arm in spec.arms:
        if dagger_rounds(recipes[arm]) > 0:
            raise SpecError(f"'arms': recipe '{arm}' has DAgger rounds; a study trains by behaviour cloning only "
                            f"(run navlnn dagger per head, or choose a recipe without rounds)")
