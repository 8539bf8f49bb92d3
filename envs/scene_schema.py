"""The checks every scene config passes, packaged or of one's own: known keys, types and ranges.

:func:`check_scene` runs on the resolved config (season, layout and modifiers merged) and
raises one ``ValueError`` naming the scene, every key at fault and what it must be. It only
reads the config: a scene that passes looks exactly as it did before the check.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

Check = Callable[[Any], bool]

# keys a resolved scene carries besides its look: what it is called and what it is made of
META_KEYS = ("name", "label", "layout", "modifiers", "full_name")
LAYOUT_KINDS = ("forest", "urban")
# the keys without which a scene of each layout kind cannot be drawn
REQUIRED = {
    "common": ("light.direction", "light.color", "light.ambient", "light.diffuse", "sky.zenith", "sky.horizon",
               "ground.colors", "ground.tile"),
    "forest": ("trees.trunk", "trees.birch_trunk", "trees.conifer", "trees.broadleaf", "trees.birch",
               "trees.leaf_fraction", "bushes", "rocks"),
    "urban": ("road.asphalt", "road.marking", "road.pavement", "buildings.walls", "buildings.roofs",
              "buildings.windows", "furniture.metal", "furniture.wood", "furniture.bin", "furniture.lamp",
              "trees.trunk", "trees.broadleaf"),
}
LAYOUT_POSITIVE = ("area_half_size", "ceiling", "chunk_size", "lod_distance")


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and value == value  # not NaN


def in_range(low: float | None = None, high: float | None = None, *, above: float | None = None,
             integer: bool = False) -> Check:
    """A check for a number in ``[low, high]`` (``above``: strictly greater than it)."""
    def check(value: Any) -> bool:
        return (_number(value) and (not integer or float(value).is_integer())
                and (low is None or value >= low) and (high is None or value <= high)
                and (above is None or value > above))
    return check


def _triple(low: float, high: float) -> Check:
    item = in_range(low, high)
    return lambda value: isinstance(value, (list, tuple)) and len(value) == 3 and all(map(item, value))


RGB = _triple(0, 255)


def _palette(value: Any) -> bool:
    """One RGB colour, or a non-empty list of them (a colour is drawn from the list)."""
    return RGB(value) or (isinstance(value, (list, tuple)) and len(value) > 0 and all(map(RGB, value)))


def _colors(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and len(value) > 0 and all(map(RGB, value))


def _direction(value: Any) -> bool:
    return _triple(-1e6, 1e6)(value) and any(v != 0 for v in value)


def _power_of_two(value: Any) -> bool:
    return in_range(8, 1024, integer=True)(value) and (int(value) & (int(value) - 1)) == 0


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


Rule = tuple[Check, str]
RGB_RULE: Rule = (RGB, "an RGB colour [r, g, b] with values in [0, 255]")
PALETTE_RULE: Rule = (_palette, "an RGB colour [r, g, b] (values in [0, 255]) or a non-empty list of them")
NON_NEGATIVE: Rule = (in_range(0), "a number >= 0")
UNIT: Rule = (in_range(0, 1), "a number in [0, 1]")

# the look of a scene: nested keys down to a (check, what it must be) rule
SCHEMA: dict[str, Any] = {
    "light": {"direction": (_direction, "a direction [x, y, z] (not all zero)"),
              "color": (_triple(0, 1), "a light colour [r, g, b] with values in [0, 1]"),
              "ambient": UNIT, "diffuse": UNIT, "specular": UNIT},
    "sky": {"zenith": RGB_RULE, "horizon": RGB_RULE},
    "ground": {"colors": (_colors, "a non-empty list of RGB colours [[r, g, b], ...] with values in [0, 255]"),
               "tile": (in_range(above=0), "a length > 0 (m)"),
               "texture_px": (_power_of_two, "a power of two from 8 to 1024 (px)")},
    "trees": {"trunk": PALETTE_RULE, "birch_trunk": PALETTE_RULE, "conifer": PALETTE_RULE,
              "broadleaf": PALETTE_RULE, "birch": PALETTE_RULE, "leaf_fraction": UNIT,
              "snow": (_optional(RGB), "an RGB colour [r, g, b] with values in [0, 255], or null")},
    "bushes": PALETTE_RULE,
    "rocks": PALETTE_RULE,
    "road": {"asphalt": RGB_RULE, "marking": RGB_RULE, "pavement": RGB_RULE},
    "buildings": {"walls": PALETTE_RULE, "roofs": PALETTE_RULE, "windows": PALETTE_RULE},
    "furniture": {"metal": RGB_RULE, "wood": RGB_RULE, "bin": RGB_RULE, "lamp": RGB_RULE},
    "post": {"haze_start": NON_NEGATIVE, "exposure": (in_range(above=0), "a number > 0"),
             "fog": {"density": NON_NEGATIVE, "color": RGB_RULE},
             "noise": {"std": NON_NEGATIVE, "exposure_jitter": NON_NEGATIVE,
                       "blur_px": (in_range(0, 50, integer=True), "a whole number of pixels in [0, 50]")}},
}


def _walk(cfg: Mapping, schema: Mapping, prefix: str, problems: list[str]) -> None:
    """Append to ``problems`` the keys of ``cfg`` that ``schema`` does not know or whose value is wrong."""
    for key, value in cfg.items():
        where = f"{prefix}{key}"
        rule = schema.get(key)
        if rule is None:
            valid = ", ".join(sorted(schema) + ([] if prefix else list(META_KEYS)))
            problems.append(f"unknown key '{where}' (valid{' under ' + prefix[:-1] if prefix else ''}: {valid})")
        elif isinstance(rule, Mapping):
            if value is None and key in ("fog", "noise"):
                continue  # no fog, no noise
            if not isinstance(value, Mapping):
                problems.append(f"{where} must be a mapping of {', '.join(rule)}, got {value!r}")
            else:
                _walk(value, rule, where + ".", problems)
        elif not rule[0](value):
            problems.append(f"{where} must be {rule[1]}, got {value!r}")


def _lookup(cfg: Mapping, dotted: str) -> bool:
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _layout_problems(layout: Any, known: Callable[[str], Mapping]) -> list[str]:
    """What is wrong with a resolved layout; ``known(kind)`` gives the packaged layout of a kind."""
    if not isinstance(layout, Mapping):
        return [f"layout must be a layout name ({', '.join(LAYOUT_KINDS)}) or a mapping, got {layout!r}"]
    kind = layout.get("kind")
    if kind not in LAYOUT_KINDS:
        return [f"layout.kind must be one of {', '.join(LAYOUT_KINDS)}, got {kind!r}"]
    valid = set(known(kind)) | {"name"}
    problems = [f"unknown key 'layout.{k}' (valid for a {kind} layout: {', '.join(sorted(valid - {'name'}))})"
                for k in layout if k not in valid]
    problems += [f"layout.{k} must be a length > 0 (m), got {layout[k]!r}"
                 for k in LAYOUT_POSITIVE if k in layout and not in_range(above=0)(layout[k])]
    return problems


def scene_problems(cfg: Mapping, known_layout: Callable[[str], Mapping]) -> list[str]:
    """Everything wrong with a resolved scene config, one phrase each (empty when it is fine)."""
    problems: list[str] = []
    _walk({k: v for k, v in cfg.items() if k not in META_KEYS}, SCHEMA, "", problems)
    problems += _layout_problems(cfg.get("layout"), known_layout)
    kind = cfg["layout"].get("kind") if isinstance(cfg.get("layout"), Mapping) else None
    missing = [k for k in REQUIRED["common"] + REQUIRED.get(kind, ()) if not _lookup(cfg, k)]
    if missing:
        problems.append(f"missing keys {', '.join(missing)} (a {kind or 'scene'} scene needs them; "
                        f"start from a copy of a packaged scene such as conf/scene/fall.yaml)")
    return problems


def check_scene(cfg: Mapping, known_layout: Callable[[str], Mapping]) -> None:
    """Raise one ``ValueError`` naming the scene and every problem of its config; return when it is fine."""
    problems = scene_problems(cfg, known_layout)
    if problems:
        raise ValueError(f"scene '{cfg.get('name')}': " + "; ".join(problems))
