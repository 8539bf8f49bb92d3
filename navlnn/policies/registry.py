"""The registry of policy parts that a model config read from a file may name.

A checkpoint is data that people download and share. What it holds must never choose code to
run: its model config is checked against this registry (known heads, known keys, plain values)
and the policy is rebuilt from the registered classes, never through Hydra's ``instantiate``
with a ``_target_`` read from the file. ``_target_`` remains available for the configs people
write in ``conf/`` (see :func:`navlnn.policies.policy.build_policy`).

A head of one's own becomes loadable from checkpoints by registering it in code::

    from navlnn.policies.registry import register_head
    register_head("my_head", MyHead, keys={"hidden_size"})
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from navlnn.policies.heads import CTRNNHead, GRUODEHead, TCNHead
from navlnn.policies.heads import FeedForwardHead, Head, LiquidHead, RecurrentHead

TARGET_KEY = "_target_"
MODEL_KEYS = frozenset({"name", "trunk", "head"})
TRUNK_KEYS = frozenset({"channels", "kernels", "strides", "feature_dim", "dropout"})
WIRING_DICT_KEYS = frozenset({"kind", "params", "input_dim", "adjacency_matrix", "sensory_adjacency_matrix"})
NCP_ARGUMENT_KEYS = frozenset({
    "inter", "command", "motor", "sensory_fanout", "inter_fanout", "recurrent_command_synapses", "motor_fanin", "seed",
    "inter_neurons", "command_neurons", "motor_neurons",  # ncps's names of the first three
})


class UnsafeConfig(ValueError):
    """A model config read from a file names something that is not a known, plain setting."""


@dataclass(frozen=True)
class HeadEntry:
    """A registered head: its class and the config keys it accepts (besides feature and action sizes)."""

    name: str
    cls: type[Head]
    keys: frozenset[str]
    aliases: frozenset[str] = frozenset()  # earlier class paths, named by older checkpoints and configs

    @property
    def target(self) -> str:
        """The dotted class path a ``conf/model`` file names in ``_target_``."""
        return f"{self.cls.__module__}.{self.cls.__qualname__}"


_CFC_KEYS = {"mode", "mixed_memory", "activation", "backbone_units", "backbone_layers", "backbone_dropout"}
_LTC_KEYS = {"mixed_memory", "input_mapping", "output_mapping", "ode_unfolds", "epsilon", "implicit_param_constraints"}

HEADS: dict[str, HeadEntry] = {}


def register_head(name: str, cls: type[Head], keys: Iterable[str], aliases: Iterable[str] = ()) -> HeadEntry:
    """Make ``cls`` rebuildable from checkpoints under ``name`` (and its class path, and ``aliases``)."""
    if not (isinstance(cls, type) and issubclass(cls, Head)):
        raise TypeError(f"register_head({name!r}): {cls!r} is not a navlnn.policies.heads.Head subclass")
    entry = HeadEntry(name, cls, frozenset(keys), frozenset(aliases))
    if cls.__module__.startswith("navlnn.policies.heads."):  # also known by the package's re-export
        entry = HeadEntry(name, cls, entry.keys, entry.aliases | {f"navlnn.policies.heads.{cls.__qualname__}"})
    HEADS[name] = entry
    return entry


# The aliases are the class paths of the release before the heads moved to navlnn.policies.heads;
# checkpoints written by it name them.
register_head("liquid", LiquidHead, {"kind", "wiring", "units", "time_scale", "input_norm", *_CFC_KEYS, *_LTC_KEYS},
              aliases={"navlnn.nn.heads.LiquidHead"})
register_head("recurrent", RecurrentHead, {"kind", "hidden_size", "input_norm"}, aliases={"navlnn.nn.heads.RecurrentHead"})
register_head("feedforward", FeedForwardHead, {"hidden_size", "input_norm"}, aliases={"navlnn.nn.heads.FeedForwardHead"})
register_head("gru_ode", GRUODEHead, {"hidden_size", "time_scale", "ode_unfolds"}, aliases={"navlnn.nn.baselines.GRUODEHead"})
register_head("ctrnn", CTRNNHead, {"hidden_size", "time_scale", "ode_unfolds"}, aliases={"navlnn.nn.baselines.CTRNNHead"})
register_head("tcn", TCNHead, {"channels", "kernel_size", "dilations"}, aliases={"navlnn.nn.baselines.TCNHead"})


def head_entry(target: Any, where: str = "model.head") -> HeadEntry:
    """The registered head named by ``target`` (a registry name or a registered class path)."""
    if isinstance(target, str):
        for entry in HEADS.values():
            if target in (entry.name, entry.target) or target in entry.aliases:
                return entry
    known = ", ".join(f"{e.name} ({e.target})" for e in HEADS.values())
    raise UnsafeConfig(f"{where}.{TARGET_KEY}: unknown head {target!r}; known heads: {known}. "
                       f"A head of your own loads once registered with navlnn.policies.registry.register_head")


def check_model_config(model: Any, where: str = "model") -> dict[str, Any]:
    """Check a model config read from a file; returns it, or raises :class:`UnsafeConfig` naming the key.

    Allowed: the keys ``name``, ``trunk`` and ``head``; trunk keys of :class:`ConvTrunk`; a head whose
    ``_target_`` is a registered head with that head's keys; a wiring as ``Wiring.to_dict()`` output
    or NCP arguments. Every value is plain data (None, bool, int, float, str, lists, dicts), and no
    ``_target_`` appears anywhere but as the head's registry key.
    """
    model = _mapping(model, where)
    _known(model, MODEL_KEYS, where)
    for key in ("trunk", "head"):
        if key not in model:
            raise UnsafeConfig(f"{where}: no '{key}' section; a navlnn model config has {sorted(MODEL_KEYS)}")
    if not isinstance(model.get("name", ""), str):
        raise UnsafeConfig(f"{where}.name: expected a string, got {type(model['name']).__name__}")
    trunk = _mapping(model["trunk"], f"{where}.trunk")
    _known(trunk, TRUNK_KEYS, f"{where}.trunk")
    _plain(trunk, f"{where}.trunk")
    head = _mapping(model["head"], f"{where}.head")
    if TARGET_KEY not in head:
        raise UnsafeConfig(f"{where}.head: no {TARGET_KEY}; name a registered head ({', '.join(HEADS)})")
    entry = head_entry(head[TARGET_KEY], f"{where}.head")
    settings = {k: v for k, v in head.items() if k != TARGET_KEY}
    _known(settings, entry.keys, f"{where}.head")
    wiring = settings.pop("wiring", None)
    _plain(settings, f"{where}.head")
    if wiring is not None:
        wiring = _mapping(wiring, f"{where}.head.wiring")
        allowed = WIRING_DICT_KEYS if "adjacency_matrix" in wiring else NCP_ARGUMENT_KEYS
        _known(wiring, allowed, f"{where}.head.wiring")
        _plain(wiring, f"{where}.head.wiring")
    return model


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise UnsafeConfig(f"{where}: expected a mapping, got {type(value).__name__}")
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise UnsafeConfig(f"{where}: keys must be strings, got {bad[0]!r}")
    return dict(value)


def _known(config: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    for key in config:
        if key == TARGET_KEY:
            raise UnsafeConfig(f"{where}.{key}: a {TARGET_KEY} in a file is refused (only conf/ files may name code)")
        if key not in allowed:
            raise UnsafeConfig(f"{where}.{key}: unknown key; allowed keys are {sorted(allowed)}")


def _plain(value: Any, where: str) -> None:
    """Plain data only: None, bool, int, finite-or-not float, str, and lists/dicts of them; no ``_target_``."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if math.isnan(value):
            raise UnsafeConfig(f"{where}: NaN is not a valid setting")
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
