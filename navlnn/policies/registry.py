"""The registry of policy parts that a model config read from a file may name, and the bounds of its values.

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

Every number a model config holds is checked before anything is allocated: sizes are positive
integers under the ``MAX_*`` bounds below, floats are finite and in range (docs/policies.md,
"What a model config may hold"). The bounds refuse absurd or crafted files; they are far above
every model of this project.
"""

from __future__ import annotations

import importlib.metadata
import inspect
import math
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence

from navlnn.liquid.wirings import NCP, AutoNCP, FullyConnected, Random, Wiring
from navlnn.policies.heads import CTRNNHead, GRUODEHead, TCNHead
from navlnn.policies.heads import FeedForwardHead, Head, LiquidHead, RecurrentHead
from navlnn.policies.trunk import ConvTrunk

TARGET_KEY = "_target_"
ENTRY_POINT_GROUP = "navlnn.heads"
BUILD_ARGUMENTS = frozenset({"feature_dim", "action_dim"})  # what build_policy passes to every head
MODEL_KEYS = frozenset({"name", "trunk", "head"})
TRUNK_KEYS = frozenset({"channels", "kernels", "strides", "feature_dim", "dropout"})
WIRING_DICT_KEYS = frozenset({"kind", "params", "input_dim", "adjacency_matrix", "sensory_adjacency_matrix"})
NCP_ARGUMENT_KEYS = frozenset({
    "inter", "command", "motor", "sensory_fanout", "inter_fanout", "recurrent_command_synapses", "motor_fanin", "seed",
    "inter_neurons", "command_neurons", "motor_neurons",  # ncps's names of the first three
})

# ---------------------------------------------------------------------------------------- bounds
# The largest values a model config may hold (docs/policies.md lists them). This project's models
# use 8-64 channels, 32 features, 34-64 neurons and a 128x72 camera.
MAX_IMAGE_SIDE = 4096            # camera height or width, pixels
MAX_CONV_LAYERS = 16             # convolutions of the trunk
MAX_CHANNELS = 4096              # channels of a convolution (trunk, TCN)
MAX_KERNEL = 31                  # kernel size of a convolution (trunk, TCN)
MAX_STRIDE = 16                  # stride of a trunk convolution
MAX_WIDTH = 4096                 # width of a linear layer: feature_dim, hidden_size, backbone_units
MAX_NEURONS = 1024               # neurons of a liquid head: units, a wiring's neurons, NCP layers together
MAX_BACKBONE_LAYERS = 8          # layers of a CfC backbone
MAX_ODE_UNFOLDS = 64             # ODE sub-steps per frame
MAX_TIME_SCALE = 1e4             # time units per second of dt
MAX_EPSILON = 1.0                # the LTC solver's denominator guard
MAX_DILATION = 1024              # dilation of a TCN block
MAX_TCN_BLOCKS = 16              # residual blocks of a TCN (entries of dilations)
MAX_RECEPTIVE_FIELD = 4096       # frames a TCN sees: 1 + 2 (kernel_size - 1) sum(dilations)
MAX_ACTIONS = 64                 # outputs of a policy
MAX_SEED = 2**32 - 1             # seeds of wirings (numpy's range)
MAX_TRUNK_PARAMETERS = 10**8     # weights of the trunk at its camera size
MAX_TRUNK_ACTIVATIONS = 2**27    # numbers in the trunk's largest feature map of one frame
MAX_INTEGER = 2**31 - 1          # magnitude of any other integer setting of a head of one's own
MAX_LIST_ITEMS = 256             # items of a list setting of a head of one's own
# A head of one's own without declared bounds: an integer setting whose name has one of these
# words (after '_' splits and a plural 's' dropped: hidden_sizes, num_layers) is a size, a
# positive integer <= MAX_WIDTH.
SIZE_WORDS = frozenset({"unit", "size", "dim", "channel", "width", "neuron", "feature", "hidden", "layer", "depth"})


class UnsafeConfig(ValueError):
    """A model config read from a file names something that is not a known, plain setting in bounds."""


class HeadPluginWarning(UserWarning):
    """An entry point of the ``navlnn.heads`` group could not be registered (the other heads still work)."""


def _shown(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class Bound:
    """What one setting may hold; :meth:`check` raises :class:`UnsafeConfig` naming ``where``."""

    optional: bool = False

    def describe(self) -> str:
        raise NotImplementedError

    def accepts(self, value: Any) -> bool:
        raise NotImplementedError

    def check(self, value: Any, where: str) -> None:
        """Raise :class:`UnsafeConfig` unless ``value`` is allowed (None too when ``optional``)."""
        if value is None and self.optional:
            return
        if not self.accepts(value):
            raise UnsafeConfig(f"{where}: expected {self.describe()}, got {_shown(value)}")


@dataclass(frozen=True)
class IntRange(Bound):
    """An integer (not a bool) in ``[low, high]``."""

    low: int
    high: int
    optional: bool = False

    def describe(self) -> str:
        words = {1: "a positive integer", 0: "a non-negative integer"}
        return f"{words[self.low]} <= {self.high}" if self.low in words else f"an integer in [{self.low}, {self.high}]"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class FloatRange(Bound):
    """A finite number (int or float, not a bool) between ``low`` and ``high``, each end open or closed."""

    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    optional: bool = False

    def describe(self) -> str:
        if self.low == 0 and self.low_open and not self.high_open:
            return f"a positive finite number <= {self.high:g}"
        return (f"a finite number in {'(' if self.low_open else '['}{self.low:g}, "
                f"{self.high:g}{')' if self.high_open else ']'}")

    def accepts(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


@dataclass(frozen=True)
class OneOf(Bound):
    """One of the given values (compared with their types: ``1`` is not ``True``)."""

    values: tuple
    optional: bool = False

    def describe(self) -> str:
        return "one of " + ", ".join(repr(v) for v in self.values)

    def accepts(self, value: Any) -> bool:
        return any(type(value) is type(v) and value == v for v in self.values)


@dataclass(frozen=True)
class Text(Bound):
    """A string (a name that the head itself checks against the names it knows)."""

    optional: bool = False

    def describe(self) -> str:
        return "a string"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, str)


@dataclass(frozen=True)
class ListOf(Bound):
    """A list of ``min_items`` to ``max_items`` values, each allowed by ``item``."""

    item: Bound
    min_items: int = 1
    max_items: int = MAX_LIST_ITEMS
    optional: bool = False

    def describe(self) -> str:
        return f"a list of {self.min_items} to {self.max_items} items"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, (list, tuple)) and self.min_items <= len(value) <= self.max_items

    def check(self, value: Any, where: str) -> None:
        super().check(value, where)
        for i, item in enumerate(value or ()):
            self.item.check(item, f"{where}[{i}]")


FLAG = OneOf((True, False))
POSITIVE_WIDTH = IntRange(1, MAX_WIDTH)
SEED = IntRange(0, MAX_SEED)
NEURONS = IntRange(1, MAX_NEURONS)
INTEGER = IntRange(-MAX_INTEGER, MAX_INTEGER)
TIME_SCALE = FloatRange(0.0, MAX_TIME_SCALE, low_open=True)
DROPOUT = FloatRange(0.0, 1.0, high_open=True)
IMAGE_SIDE = IntRange(1, MAX_IMAGE_SIDE)
ACTION_COUNT = IntRange(1, MAX_ACTIONS)

TRUNK_BOUNDS: dict[str, Bound] = {
    "channels": ListOf(IntRange(1, MAX_CHANNELS), 1, MAX_CONV_LAYERS),
    "kernels": ListOf(IntRange(1, MAX_KERNEL), 1, MAX_CONV_LAYERS),
    "strides": ListOf(IntRange(1, MAX_STRIDE), 1, MAX_CONV_LAYERS),
    "feature_dim": POSITIVE_WIDTH,
    "dropout": DROPOUT,
}
WIRING_KINDS = tuple(cls.kind for cls in (Wiring, FullyConnected, Random, NCP, AutoNCP))
NCP_BOUNDS: dict[str, Bound] = {
    **{key: IntRange(1, MAX_NEURONS, optional=True) for key in ("inter", "command", "motor", "inter_neurons",
                                                                 "command_neurons", "motor_neurons")},
    **{key: NEURONS for key in ("sensory_fanout", "inter_fanout", "motor_fanin")},
    "recurrent_command_synapses": IntRange(0, MAX_NEURONS),
    "seed": IntRange(0, MAX_SEED, optional=True),
}
WIRING_PARAM_BOUNDS: dict[str, Bound] = {  # the ``params`` of Wiring.to_dict(), every kind
    **NCP_BOUNDS, "units": NEURONS, "output_dim": IntRange(1, MAX_NEURONS, optional=True),
    "output_size": NEURONS, "erev_init_seed": SEED, "random_seed": SEED, "self_connections": FLAG,
    "sparsity_level": FloatRange(0.0, 1.0),
}


@dataclass(frozen=True)
class WiringBound(Bound):
    """A liquid head's ``wiring``: None, NCP arguments, or ``Wiring.to_dict()`` output with its matrices."""

    optional: bool = True

    def describe(self) -> str:
        return "NCP arguments or a wiring dict (Wiring.to_dict())"

    def accepts(self, value: Any) -> bool:
        return isinstance(value, Mapping)

    def check(self, value: Any, where: str) -> None:
        super().check(value, where)
        if value is None:
            return
        if "adjacency_matrix" in value:
            _check_wiring_dict(value, where)
        else:
            _check_keys(value, NCP_ARGUMENT_KEYS, where)
            _check_bounds(value, NCP_BOUNDS, where)
            _check_neuron_total(value, where)


def _check_neuron_total(ncp: Mapping[str, Any], where: str) -> None:
    total = sum(ncp.get(k) or ncp.get(f"{k}_neurons") or 0 for k in ("inter", "command", "motor"))
    if total > MAX_NEURONS:
        raise UnsafeConfig(f"{where}: {total} neurons (inter + command + motor), at most {MAX_NEURONS} are allowed")


def _check_wiring_dict(wiring: Mapping[str, Any], where: str) -> None:
    _check_keys(wiring, WIRING_DICT_KEYS, where)
    OneOf(WIRING_KINDS).check(wiring.get("kind"), f"{where}.kind")
    params = _mapping(wiring.get("params", {}), f"{where}.params")
    _check_keys(params, WIRING_PARAM_BOUNDS, f"{where}.params")
    _check_bounds(params, WIRING_PARAM_BOUNDS, f"{where}.params")
    if wiring.get("kind") == NCP.kind:
        _check_neuron_total(params, f"{where}.params")
    input_dim = wiring.get("input_dim")
    IntRange(1, MAX_WIDTH, optional=True).check(input_dim, f"{where}.input_dim")
    units = _check_matrix(wiring["adjacency_matrix"], f"{where}.adjacency_matrix", MAX_NEURONS)
    sensory = wiring.get("sensory_adjacency_matrix")
    if sensory is not None:
        _check_matrix(sensory, f"{where}.sensory_adjacency_matrix", MAX_WIDTH, rows=input_dim, columns=units)


def _check_matrix(matrix: Any, where: str, max_rows: int, rows: Optional[int] = None,
                  columns: Optional[int] = None) -> int:
    """Rows (lists) of -1, 0 and 1: ``rows`` x ``columns``, or square; returns the number of rows."""
    if not isinstance(matrix, (list, tuple)) or not 1 <= len(matrix) <= max_rows:
        raise UnsafeConfig(f"{where}: expected a matrix of 1 to {max_rows} rows of -1, 0 and 1, got {_shown(matrix)}")
    if rows is not None and len(matrix) != rows:
        raise UnsafeConfig(f"{where}: expected {rows} rows (input_dim), got {len(matrix)}")
    width = len(matrix) if columns is None else columns
    for i, row in enumerate(matrix):
        if not isinstance(row, (list, tuple)) or len(row) != width:
            raise UnsafeConfig(f"{where}[{i}]: expected a row of {width} items, got {_shown(row)}")
        if any(type(v) is not int or not -1 <= v <= 1 for v in row):
            raise UnsafeConfig(f"{where}[{i}]: expected -1, 0 or 1 in every item, got {_shown(row)}")
    return len(matrix)


def _tcn_reach(settings: Mapping[str, Any], where: str) -> None:
    """A TCN's receptive field (its closed-loop buffer) stays under MAX_RECEPTIVE_FIELD frames."""
    kernel, dilations = settings.get("kernel_size", 2), settings.get("dilations", (1, 2, 4, 8, 16))
    field_ = 1 + 2 * (kernel - 1) * sum(dilations)
    if field_ > MAX_RECEPTIVE_FIELD:
        raise UnsafeConfig(f"{where}: a receptive field of {field_} frames (1 + 2 (kernel_size - 1) sum(dilations)), "
                           f"at most {MAX_RECEPTIVE_FIELD} are allowed; use a smaller kernel_size or dilations")


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


def check_trunk_config(trunk: Any, where: str = "model.trunk", image_hw: Optional[Sequence[int]] = None) -> None:
    """Known keys in bounds, equal lengths; with ``image_hw``, its weights and largest feature map in bounds."""
    trunk = _mapping(trunk, where)
    _check_keys(trunk, TRUNK_KEYS, where)
    _plain(trunk, where)
    _check_bounds(trunk, TRUNK_BOUNDS, where)
    lengths = {key: len(trunk[key]) for key in ("channels", "kernels", "strides") if key in trunk}
    if len(set(lengths.values())) > 1:
        raise UnsafeConfig(f"{where}: channels, kernels and strides must have the same length (one per "
                           f"convolution), got {lengths}")
    if image_hw is None:
        return
    hw = check_image_hw(image_hw)
    parameters, activations = trunk_size(trunk, hw)
    if parameters > MAX_TRUNK_PARAMETERS or activations > MAX_TRUNK_ACTIVATIONS:
        raise UnsafeConfig(f"{where}: at a {hw[1]}x{hw[0]} camera this trunk has {parameters:,} weights and a "
                           f"largest feature map of {activations:,} numbers per frame; at most "
                           f"{MAX_TRUNK_PARAMETERS:,} and {MAX_TRUNK_ACTIVATIONS:,} are allowed: use fewer channels, "
                           f"larger strides or a smaller camera")


def trunk_size(trunk: Mapping[str, Any], image_hw: tuple[int, int]) -> tuple[int, int]:
    """``(weights, largest feature map of one frame)`` of a ConvTrunk config, computed without building it."""
    defaults = {key: p.default for key, p in inspect.signature(ConvTrunk).parameters.items()}
    settings = {**defaults, **trunk}
    height, width = image_hw
    c_in, weights, largest = 3, 0, 3 * height * width
    for c_out, k, s in zip(settings["channels"], settings["kernels"], settings["strides"]):
        height = (height + 2 * (k // 2) - k) // s + 1
        width = (width + 2 * (k // 2) - k) // s + 1
        weights += c_in * c_out * k * k + c_out
        largest = max(largest, c_out * height * width)
        c_in = c_out
    features = settings["feature_dim"]
    return weights + c_in * height * width * features + features, largest


def check_image_hw(image_hw: Any, where: str = "image_hw") -> tuple[int, int]:
    """A camera size ``(height, width)``: two positive integers <= ``MAX_IMAGE_SIDE``."""
    if not isinstance(image_hw, (list, tuple)) or len(image_hw) != 2:
        raise UnsafeConfig(f"{where}: expected (height, width), two positive integers, got {_shown(image_hw)}")
    for i, side in enumerate(image_hw):
        IMAGE_SIDE.check(side, f"{where}[{i}]")
    return int(image_hw[0]), int(image_hw[1])


def check_action_dim(action_dim: Any, where: str = "action_dim") -> int:
    """A number of actions: a positive integer <= ``MAX_ACTIONS``."""
    ACTION_COUNT.check(action_dim, where)
    return int(action_dim)


def _check_bounds(settings: Mapping[str, Any], bounds: Mapping[str, Bound], where: str) -> None:
    for key, value in settings.items():
        bound = bounds.get(key)
        if bound is not None:
            bound.check(value, f"{where}.{key}")
        else:
            _check_generic(key, value, f"{where}.{key}")


def _size_like(key: str) -> bool:
    return any(part[:-1] in SIZE_WORDS if part.endswith("s") else part in SIZE_WORDS for part in key.split("_"))


def _check_generic(key: str, value: Any, where: str) -> None:
    """The rule for settings without a declared bound: integers named like sizes are positive and at
    most MAX_WIDTH, other integers at most MAX_INTEGER in magnitude, lists at most MAX_LIST_ITEMS long."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return  # floats: finiteness is checked with the plain data
    if isinstance(value, int):
        (POSITIVE_WIDTH if _size_like(key) else INTEGER).check(value, where)
    elif isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST_ITEMS:
            raise UnsafeConfig(f"{where}: a list of {len(value)} items, at most {MAX_LIST_ITEMS} are allowed")
        for i, item in enumerate(value):
            _check_generic(key, item, f"{where}[{i}]")
    elif isinstance(value, Mapping):
        for sub, item in value.items():
            _check_generic(str(sub), item, f"{where}.{sub}")


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnsafeConfig(f"{where}: expected a mapping, got {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise UnsafeConfig(f"{where}: keys must be strings, got {_shown(bad[0])}")
    return dict(value)


def _check_keys(config: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    for key in config:
        if key == TARGET_KEY:
            raise UnsafeConfig(f"{where}.{key}: a {TARGET_KEY} in a file is refused (only conf/ files may name code)")
        if key not in allowed:
            raise UnsafeConfig(f"{where}.{key}: unknown key; allowed keys are {sorted(allowed)}")


def _plain(value: Any, where: str) -> None:
    """Plain data only: None, bool, int, finite float, str, and lists/dicts of them; no ``_target_``."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            shown = "NaN" if math.isnan(value) else repr(value)
            raise UnsafeConfig(f"{where}: {shown} is not a valid setting (numbers must be finite)")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _plain(item, f"{where}[{i}]")
        return
    if isinstance(value, Mapping):
        for key, item in _mapping(value, where).items():
            if key == TARGET_KEY:
                raise UnsafeConfig(f"{where}.{key}: a {TARGET_KEY} in a file is refused (only conf/ files may name code)")
            _plain(item, f"{where}.{key}")
        return
    raise UnsafeConfig(f"{where}: {type(value).__name__} is not plain data (None, bool, int, float, str, list, dict)")


def _path(cls: Any) -> str:
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', repr(cls))}"
