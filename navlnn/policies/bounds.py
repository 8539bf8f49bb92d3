"""The bounds of every value a model config may hold, and the checks that apply them.

A checkpoint is data that people download and share: before anything is built from its model
config, every number in it is checked here. Sizes are positive integers under the ``MAX_*``
bounds below, floats are finite and in range, lists have bounded lengths, and the trunk's size at
its camera is computed without building it (docs/policies.md, "What a model config may hold").
The bounds refuse absurd or crafted files; they are far above every model of this project.
:mod:`navlnn.policies.registry` applies them to the heads it knows.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional, Sequence

from navlnn.liquid.wirings import NCP, AutoNCP, FullyConnected, Random, Wiring
from navlnn.policies.trunk import ConvTrunk

TARGET_KEY = "_target_"
TRUNK_KEYS = frozenset({"channels", "kernels", "strides", "feature_dim", "dropout"})
WIRING_DICT_KEYS = frozenset({"kind", "params", "input_dim", "adjacency_matrix", "sensory_adjacency_matrix"})
NCP_ARGUMENT_KEYS = frozenset({
    "inter", "command", "motor", "sensory_fanout", "inter_fanout", "recurrent_command_synapses", "motor_fanin", "seed",
    "inter_neurons", "command_neurons", "motor_neurons",  # ncps's names of the first three
})

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
