"""The registry of policy parts that a model config read from a file may name.

A checkpoint is data that people download and share. What it holds must never choose code to
run: its model config is checked against this registry (known heads, known keys, plain values
inside documented bounds) and the policy is rebuilt from the registered classes, never through
Hydra's ``instantiate`` with a ``_target_`` read from the file. ``_target_`` remains available for
the configs people write in ``conf/`` (see :func:`navlnn.policies.policy.build_policy`).

The registry holds the built-in heads, the heads that installed packages declare in the
``navlnn.heads`` entry-point group (loaded once, at the first lookup), and the heads that code
registers itself::

    # pyproject.toml of a package of one's own
    [project.entry-points."navlnn.heads"]
    myhead = "myheads:MLPHead"

    # or, in code that imports navlnn
    from navlnn.policies.registry import register_head
    register_head("my_head", MyHead)          # keys: the constructor's keyword arguments

Every number a model config holds is checked before anything is allocated, against the bounds of
:mod:`navlnn.policies.bounds` (docs/policies.md, "What a model config may hold").
"""

from __future__ import annotations

import importlib.metadata
import inspect
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from navlnn.policies.bounds import *  # noqa: F401,F403  (the bounds stay importable from here)
from navlnn.policies.bounds import (
    FLAG, MAX_BACKBONE_LAYERS, MAX_CHANNELS, MAX_DILATION, MAX_EPSILON, MAX_KERNEL,
    MAX_ODE_UNFOLDS, MAX_TCN_BLOCKS, NEURONS, POSITIVE_WIDTH, TARGET_KEY, TIME_SCALE, Bound,
    FloatRange, IntRange, ListOf, OneOf, Text, UnsafeConfig, WiringBound, _check_bounds, _check_keys, _mapping,
    _plain, _shown, _tcn_reach, check_trunk_config,
)
from navlnn.policies.heads import CTRNNHead, GRUODEHead, TCNHead
from navlnn.policies.heads import FeedForwardHead, Head, LiquidHead, RecurrentHead

ENTRY_POINT_GROUP = "navlnn.heads"
BUILD_ARGUMENTS = frozenset({"feature_dim", "action_dim"})  # what build_policy passes to every head
MODEL_KEYS = frozenset({"name", "trunk", "head"})


class HeadPluginWarning(UserWarning):
    """An entry point of the ``navlnn.heads`` group could not be registered (the other heads still work)."""


# ---------------------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class HeadEntry:
    """A registered head: its class, the config keys it accepts (besides feature and action sizes), their bounds."""

    name: str
    cls: type[Head]
    keys: frozenset[str]
    aliases: frozenset[str] = frozenset()  # earlier class paths, named by older checkpoints and configs
    bounds: Mapping[str, Bound] = field(default_factory=dict)  # keys without one: the generic rule
    check: Optional[Callable[[Mapping[str, Any], str], None]] = None  # a check across keys
    builtin: bool = False
    source: str = "register_head"  # where it came from: built in, an entry point, code

    @property
    def target(self) -> str:
        """The dotted class path a ``conf/model`` file names in ``_target_``."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"

    @property
    def names(self) -> frozenset[str]:
        """Every string a model config's ``_target_`` may use for this head."""
        return frozenset({self.name, self.target, *self.aliases})


HEADS: dict[str, HeadEntry] = {}
_PLUGIN_PROBLEMS: dict[str, str] = {}  # "name = value" of an entry point -> why its head is not registered
_plugins_loaded = False
_plugin_lock = threading.RLock()


def constructor_keys(cls: type) -> frozenset[str]:
    """The config keys of a head class: its ``config_keys`` attribute if it declares one, else the
    keyword arguments of its constructor other than ``feature_dim`` and ``action_dim``.

    A constructor that takes ``**kwargs`` does not say its keys: such a class must declare
    ``config_keys``. A constructor must accept ``feature_dim`` and ``action_dim`` by keyword.
    """
    try:
        parameters = list(inspect.signature(cls).parameters.values())
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{_path(cls)}: its constructor signature cannot be read ({exc})") from None
    by_keyword = {p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    var_keyword = next((p.name for p in parameters if p.kind is p.VAR_KEYWORD), None)
    if var_keyword is None and not BUILD_ARGUMENTS <= by_keyword:
        raise TypeError(f"{_path(cls)}: its constructor must accept feature_dim and action_dim as keyword "
                        f"arguments (navlnn passes the trunk's feature size and the number of actions)")
    declared = getattr(cls, "config_keys", None)
    if declared is not None:
        if isinstance(declared, str) or not all(isinstance(k, str) for k in declared):
            raise TypeError(f"{_path(cls)}.config_keys: expected a collection of key names, got {_shown(declared)}")
        return frozenset(declared) - BUILD_ARGUMENTS
    if var_keyword is not None:
        raise TypeError(f"{_path(cls)}: its constructor takes **{var_keyword}, so its config keys cannot be read "
                        f"from its signature; declare them on the class: config_keys = ('key', ...)")
    required_positional = [p.name for p in parameters if p.kind is p.POSITIONAL_ONLY and p.default is p.empty]
    if required_positional:
        raise TypeError(f"{_path(cls)}: positional-only argument(s) {required_positional} cannot be set from a config; "
                        f"make them keyword arguments")
    return frozenset(by_keyword - BUILD_ARGUMENTS)


def register_head(name: str, cls: type[Head], keys: Optional[Iterable[str]] = None, aliases: Iterable[str] = (),
                  bounds: Optional[Mapping[str, Bound]] = None,
                  check: Optional[Callable[[Mapping[str, Any], str], None]] = None) -> HeadEntry:
    """Make ``cls`` buildable from configs and checkpoints under ``name`` (and its class path, and ``aliases``).

    ``keys`` default to :func:`constructor_keys`; ``bounds`` (key -> :class:`Bound`) default to the
    class's ``config_bounds`` attribute, and keys without one follow the generic rule (finite
    numbers; integers named like sizes are positive and at most ``MAX_WIDTH``). A name, class path
    or alias that already names another head is refused; registering the same class under the
    same name again replaces the entry.
    """
    return _register(_entry(name, cls, keys, aliases, bounds, check, source="register_head"))


def _entry(name: str, cls: Any, keys: Optional[Iterable[str]], aliases: Iterable[str],
           bounds: Optional[Mapping[str, Bound]], check: Any, source: str, builtin: bool = False) -> HeadEntry:
    if not isinstance(name, str) or not name:
        raise TypeError(f"register_head: the name must be a non-empty string, got {_shown(name)}")
    if not (isinstance(cls, type) and issubclass(cls, Head)):
        raise TypeError(f"head {name!r}: {_shown(cls)} is not a navlnn.policies.heads.Head subclass")
    keys = constructor_keys(cls) if keys is None else frozenset(keys)
    if TARGET_KEY in keys or keys & BUILD_ARGUMENTS:
        raise TypeError(f"head {name!r}: keys may not include {TARGET_KEY}, feature_dim or action_dim")
    if bounds is None:
        bounds = getattr(cls, "config_bounds", None) or {}
    bounds = dict(bounds)
    for key, bound in bounds.items():
        if key not in keys or not isinstance(bound, Bound):
            raise TypeError(f"head {name!r}: bounds[{key!r}] must bound one of its keys {sorted(keys)} with a "
                            f"navlnn.policies.registry Bound (IntRange, FloatRange, OneOf, Text, ListOf), "
                            f"got {_shown(bound)}")
    aliases = frozenset(aliases)
    if cls.__module__.startswith("navlnn.policies.heads."):  # also known by the package's re-export
        aliases |= {f"navlnn.policies.heads.{cls.__qualname__}"}
    return HeadEntry(name, cls, keys, aliases, bounds, check, builtin, source)


def _register(entry: HeadEntry) -> HeadEntry:
    for other in HEADS.values():
        if other.name == entry.name and other.cls is entry.cls and not other.builtin:
            continue  # the same head registered again: the new entry replaces it
        clash = entry.names & other.names
        if clash:
            kind = "built-in head" if other.builtin else f"head (from {other.source})"
            raise ValueError(f"head {entry.name!r} ({entry.target}, from {entry.source}): {sorted(clash)[0]!r} "
                             f"already names the {kind} {other.name!r} ({other.target}); a head may not replace "
                             f"another, register it under another name")
    HEADS[entry.name] = entry
    return entry


def _builtin(name: str, cls: type[Head], keys: Iterable[str], bounds: Mapping[str, Bound], aliases: Iterable[str],
             check: Optional[Callable[[Mapping[str, Any], str], None]] = None) -> None:
    _register(_entry(name, cls, keys, aliases, bounds, check, source="navlnn", builtin=True))


_ODE = {"hidden_size": POSITIVE_WIDTH, "time_scale": TIME_SCALE, "ode_unfolds": IntRange(1, MAX_ODE_UNFOLDS)}
_LIQUID: dict[str, Bound] = {
    "kind": OneOf(("cfc", "ltc")), "wiring": WiringBound(), "units": NEURONS, "time_scale": TIME_SCALE,
    "input_norm": FLAG,
    # CfC's settings (the names of mode and activation are checked by the cell, which lists the valid ones)
    "mode": Text(), "mixed_memory": FLAG, "activation": Text(),
    "backbone_units": IntRange(1, MAX_WIDTH, optional=True),
    "backbone_layers": IntRange(0, MAX_BACKBONE_LAYERS, optional=True),
    "backbone_dropout": FloatRange(0.0, 1.0, high_open=True, optional=True),
    # LTC's settings
    "input_mapping": Text(), "output_mapping": Text(),
    "ode_unfolds": IntRange(1, MAX_ODE_UNFOLDS), "epsilon": FloatRange(0.0, MAX_EPSILON),
    "implicit_param_constraints": FLAG,
}
_TCN = {"channels": IntRange(1, MAX_CHANNELS), "kernel_size": IntRange(2, MAX_KERNEL),
        "dilations": ListOf(IntRange(1, MAX_DILATION), 1, MAX_TCN_BLOCKS)}
# The aliases are the class paths of the release before the heads moved to navlnn.policies.heads;
# checkpoints written by it name them.
_builtin("liquid", LiquidHead, _LIQUID, _LIQUID, {"navlnn.nn.heads.LiquidHead"})
_builtin("recurrent", RecurrentHead, {"kind", "hidden_size", "input_norm"},
         {"kind": OneOf(("lstm", "gru")), "hidden_size": POSITIVE_WIDTH, "input_norm": FLAG},
         {"navlnn.nn.heads.RecurrentHead"})
_builtin("feedforward", FeedForwardHead, {"hidden_size", "input_norm"},
         {"hidden_size": POSITIVE_WIDTH, "input_norm": FLAG}, {"navlnn.nn.heads.FeedForwardHead"})
_builtin("gru_ode", GRUODEHead, _ODE, _ODE, {"navlnn.nn.baselines.GRUODEHead"})
_builtin("ctrnn", CTRNNHead, _ODE, _ODE, {"navlnn.nn.baselines.CTRNNHead"})
_builtin("tcn", TCNHead, _TCN, _TCN, {"navlnn.nn.baselines.TCNHead"}, check=_tcn_reach)


# ---------------------------------------------------------------------------------------- plugins
def load_plugin_heads() -> dict[str, str]:
    """Register the heads of the ``navlnn.heads`` entry points of the installed packages, once.

    Called by every lookup, so ``import navlnn.policies`` imports no plugin. An entry point that
    fails to load or to register gives one :class:`HeadPluginWarning` naming it and its
    distribution; the other heads are unaffected. Returns "name = value" of each such entry point -> problem.
    """
    global _plugins_loaded
    with _plugin_lock:
        if _plugins_loaded:
            return dict(_PLUGIN_PROBLEMS)
        _plugins_loaded = True  # first: a plugin that looks up heads while it loads does not recurse
        try:
            points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        except Exception as exc:  # noqa: BLE001 - broken metadata of some installed package
            _plugin_problem("*", f"the {ENTRY_POINT_GROUP!r} entry points could not be listed "
                                 f"({type(exc).__name__}: {exc}); only the built-in heads are available")
            points = []
        for point in sorted(points, key=lambda p: (p.name, p.value)):
            _load_entry_point(point)
        return dict(_PLUGIN_PROBLEMS)


def _load_entry_point(point: importlib.metadata.EntryPoint) -> None:
    dist = getattr(point, "dist", None)
    owner = f"distribution {dist.name} {dist.version}" if dist is not None else "an unknown distribution"
    label = f"{ENTRY_POINT_GROUP} entry point {point.name} = {point.value} (from {owner})"
    try:
        cls = point.load()
    except Exception as exc:  # noqa: BLE001 - any error of the plugin's import is reported, not raised
        _plugin_problem(f"{point.name} = {point.value}", f"{label} failed to load: {type(exc).__name__}: {exc}; "
                                                          f"fix or uninstall it (the other heads are unaffected)")
        return
    existing = HEADS.get(point.name)
    if existing is not None and existing.cls is cls and not existing.builtin:
        return  # its module registered it in code as it was imported
    try:
        _register(_entry(point.name, cls, None, (), None, None, source=label))
    except (TypeError, ValueError) as exc:
        _plugin_problem(f"{point.name} = {point.value}", f"{label} refused: {exc}")


def _plugin_problem(name: str, message: str) -> None:
    _PLUGIN_PROBLEMS[name] = message
    warnings.warn(message, HeadPluginWarning, stacklevel=4)


def registered_heads() -> dict[str, HeadEntry]:
    """Every registered head by name: built-in, from entry points (loaded now if not yet), from code."""
    load_plugin_heads()
    return dict(HEADS)


def find_head(target: Any) -> Optional[HeadEntry]:
    """The registered head named by ``target`` (a registry name, class path or alias), or None."""
    if not isinstance(target, str):
        return None
    for entry in registered_heads().values():
        if target in entry.names:
            return entry
    return None


def head_entry(target: Any, where: str = "model.head") -> HeadEntry:
    """The registered head named by ``target`` (a registry name or a registered class path)."""
    entry = find_head(target)
    if entry is not None:
        return entry
    known = ", ".join(f"{e.name} ({e.target})" for e in HEADS.values())
    problems = "".join(f"; note: {p}" for p in _PLUGIN_PROBLEMS.values())
    raise UnsafeConfig(f"{where}.{TARGET_KEY}: unknown head {_shown(target)}; known heads: {known}. A head of "
                       f"your own loads once its package declares it in the {ENTRY_POINT_GROUP!r} entry-point group "
                       f"and is installed, or once code registers it with "
                       f"navlnn.policies.registry.register_head{problems}")


# ---------------------------------------------------------------------------------------- checks
def check_model_config(model: Any, where: str = "model",
                       image_hw: Optional[Sequence[int]] = None) -> dict[str, Any]:
    """Check a model config; returns it, or raises :class:`UnsafeConfig` naming the key.

    Allowed: the keys ``name``, ``trunk`` and ``head``; trunk keys of :class:`ConvTrunk`; a head whose
    ``_target_`` is a registered head with that head's keys; a wiring as ``Wiring.to_dict()`` output
    or NCP arguments. Every value is plain data (None, bool, int, finite float, str, lists, dicts)
    inside its bounds, and no ``_target_`` appears anywhere but as the head's registry key. With
    ``image_hw``, the trunk's size at that camera is checked too.
    """
    model = _mapping(model, where)
    _check_keys(model, MODEL_KEYS, where)
    for key in ("trunk", "head"):
        if key not in model:
            raise UnsafeConfig(f"{where}: no '{key}' section; a navlnn model config has {sorted(MODEL_KEYS)}")
    if not isinstance(model.get("name", ""), str):
        raise UnsafeConfig(f"{where}.name: expected a string, got {type(model['name']).__name__}")
    check_trunk_config(model["trunk"], f"{where}.trunk", image_hw)
    head = _mapping(model["head"], f"{where}.head")
    if TARGET_KEY not in head:
        raise UnsafeConfig(f"{where}.head: no {TARGET_KEY}; name a registered head ({', '.join(registered_heads())})")
    entry = head_entry(head[TARGET_KEY], f"{where}.head")
    settings = {k: v for k, v in head.items() if k != TARGET_KEY}
    _check_keys(settings, entry.keys, f"{where}.head")
    _plain(settings, f"{where}.head")
    _check_bounds(settings, entry.bounds, f"{where}.head")
    if entry.check is not None:
        entry.check(settings, f"{where}.head")
    return model


def _path(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
