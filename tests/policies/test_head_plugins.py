"""Heads of installed packages register through the 'navlnn.heads' entry-point group: lazily, once, by
name and class path, with keys read from the constructor; a broken or clashing entry point warns and
leaves every other head working. The installed distributions here are dist-info folders on sys.path."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import warnings

import pytest
import torch
from _plugin_package import HEAD_MODULE, write_dist_info

from navlnn.policies import registry
from navlnn.policies.checkpoint import load_policy, save_checkpoint
from navlnn.policies.heads import Head, LiquidHead
from navlnn.policies.policy import build_policy
from navlnn.policies.registry import (FloatRange, HeadPluginWarning, UnsafeConfig, constructor_keys, find_head,
                                      head_entry, register_head, registered_heads)

HW = (36, 64)
TRUNK = {"channels": [4, 4], "kernels": [3, 3], "strides": [2, 2], "feature_dim": 8}


@pytest.fixture
def site(tmp_path, monkeypatch):
    """A folder on sys.path for dist-info folders and modules; the registry as if nothing was loaded yet."""
    heads, problems, loaded = dict(registry.HEADS), dict(registry._PLUGIN_PROBLEMS), registry._plugins_loaded
    modules = set(sys.modules)
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    registry._plugins_loaded = False
    registry._PLUGIN_PROBLEMS.clear()
    yield folder
    registry.HEADS.clear()
    registry.HEADS.update(heads)
    registry._PLUGIN_PROBLEMS.clear()
    registry._PLUGIN_PROBLEMS.update(problems)
    registry._plugins_loaded = loaded
    for name in set(sys.modules) - modules:
        if name.startswith("plug_"):
            del sys.modules[name]


def _model(target: str, **settings) -> dict:
    return {"name": "own", "trunk": dict(TRUNK), "head": {"_target_": target, **settings}}


def test_an_entry_point_registers_its_head_by_name_and_class_path(site, tmp_path):
    write_dist_info(site, "plugheads", {"mlp": "plug_mlp:MLPHead"}, {"plug_mlp": HEAD_MODULE})
    assert "plug_mlp" not in sys.modules  # nothing loaded before the first lookup
    entry = find_head("mlp")
    assert entry is not None and entry.cls.__module__ == "plug_mlp" and "plug_mlp" in sys.modules
    assert find_head("plug_mlp.MLPHead") is entry
    assert entry.keys == {"width", "gain"} and "plugheads 0.1.0" in entry.source and not entry.builtin
    policy = build_policy(_model("mlp", width=8), HW)  # a config from a file may name it: it is registered
    assert type(policy.head).__name__ == "MLPHead" and policy.head.mlp[0].out_features == 8
    assert policy.config["head"]["_target_"] == "plug_mlp.MLPHead"  # what the checkpoint stores
    loaded = load_policy(save_checkpoint(tmp_path / "mlp.pt", policy))
    for key, value in policy.state_dict().items():
        torch.testing.assert_close(loaded.state_dict()[key], value)


def test_importing_navlnn_policies_loads_no_plugin(site):
    write_dist_info(site, "pluglazy", {"lazy": "plug_lazy:MLPHead"}, {"plug_lazy": HEAD_MODULE})
    script = ("import sys, navlnn.policies; from navlnn.policies import registry; "
              "assert not registry._plugins_loaded and 'plug_lazy' not in sys.modules; "
              "assert registry.find_head('lazy').cls.__module__ == 'plug_lazy' and 'plug_lazy' in sys.modules")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]


class _KeywordOnly(Head):
    def __init__(self, feature_dim: int, action_dim: int, *, depth: int = 2, scale: float = 1.0) -> None:
        super().__init__()


class _DeclaredKeys(Head):
    config_keys = ("width", "feature_dim")

    def __init__(self, **kwargs) -> None:
        super().__init__()


class _Kwargs(Head):
    def __init__(self, feature_dim: int, action_dim: int, **settings) -> None:
        super().__init__()


class _NoActionDim(Head):
    def __init__(self, feature_dim: int, width: int = 4) -> None:
        super().__init__()


def test_the_keys_are_the_constructors_keyword_arguments():
    assert constructor_keys(_KeywordOnly) == {"depth", "scale"}
    assert constructor_keys(_DeclaredKeys) == {"width"}  # declared keys stand for **kwargs
    with pytest.raises(TypeError, match=r"takes \*\*settings.*config_keys = \("):
        constructor_keys(_Kwargs)
    with pytest.raises(TypeError, match="must accept feature_dim and action_dim"):
        constructor_keys(_NoActionDim)


def test_a_kwargs_head_through_an_entry_point_is_refused_with_the_fix(site):
    source = "from navlnn.policies.heads import Head\nclass Loose(Head):\n    def __init__(self, **kw):\n        super().__init__()\n"
    write_dist_info(site, "plugloose", {"loose": "plug_loose:Loose"}, {"plug_loose": source})
    with pytest.warns(HeadPluginWarning) as record:
        assert find_head("loose") is None
    message = str(record[0].message)
    assert len(record) == 1 and "entry point loose = plug_loose:Loose" in message and "plugloose 0.1.0" in message
    assert "config_keys" in message


def test_a_broken_entry_point_warns_once_and_leaves_the_other_heads(site):
    write_dist_info(site, "plugbroken", {"broken": "plug_broken:MLPHead", "missing": "plug_fine:NoSuchHead",
                                         "fine": "plug_fine:MLPHead"},
                    {"plug_broken": "raise ImportError('needs torch_extra, not installed')\n", "plug_fine": HEAD_MODULE})
    with pytest.warns(HeadPluginWarning) as record:
        heads = registered_heads()
    messages = sorted(str(w.message) for w in record)
    assert len(messages) == 2
    assert "entry point broken = plug_broken:MLPHead (from distribution plugbroken 0.1.0) failed to load: " \
           "ImportError: needs torch_extra" in messages[0]
    assert "entry point missing = plug_fine:NoSuchHead" in messages[1] and "AttributeError" in messages[1]
    assert {"liquid", "tcn", "fine"} <= set(heads) and "broken" not in heads
    assert type(build_policy(_model("liquid", kind="cfc", units=8), HW).head) is LiquidHead
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # loaded once: no second warning
        registered_heads()
        with pytest.raises(UnsafeConfig, match=r"unknown head 'broken'.*note: .*broken = plug_broken:MLPHead.*failed"):
            head_entry("broken")


def test_a_plugin_may_not_replace_a_built_in_head_or_another_plugin(site):
    write_dist_info(site, "plugclash", {"liquid": "plug_clash:MLPHead"}, {"plug_clash": HEAD_MODULE})
    write_dist_info(site, "plugtwin", {"twin": "plug_twin_a:MLPHead"}, {"plug_twin_a": HEAD_MODULE})
    write_dist_info(site, "plugtwin2", {"twin": "plug_twin_b:MLPHead"}, {"plug_twin_b": HEAD_MODULE})
    with pytest.warns(HeadPluginWarning) as record:
        heads = registered_heads()
    messages = [str(w.message) for w in record]
    assert len(messages) == 2
    assert any("'liquid' already names the built-in head 'liquid'" in m and "plugclash" in m for m in messages)
    assert any("'twin' already names the head (from navlnn.heads entry point twin = plug_twin_a" in m for m in messages)
    assert heads["liquid"].cls is LiquidHead and heads["twin"].cls.__module__ == "plug_twin_a"
    with pytest.raises(ValueError, match="already names the built-in head 'tcn'"):
        register_head("tcn", _KeywordOnly)
    with pytest.raises(ValueError, match="already names the built-in head 'liquid'"):
        register_head("my_liquid", LiquidHead, keys={"kind"})  # its class path is the built-in's


class _Bounded(Head):
    config_bounds = {"scale": FloatRange(0.0, 2.0)}

    def __init__(self, feature_dim: int, action_dim: int, hidden_sizes: tuple = (8,), scale: float = 1.0,
                 offset: int = 0) -> None:
        super().__init__()
        self.readout = torch.nn.Linear(feature_dim, action_dim)
        self.state_size = 1

    def forward(self, features, dt, state=None):
        return self.readout(features), features.new_zeros(features.shape[0], 1)


@pytest.mark.parametrize("settings,match", [
    ({"hidden_sizes": [8, 10**7]}, r"model\.head\.hidden_sizes\[1\]: expected a positive integer <= 4096, got 10000000"),
    ({"hidden_sizes": [0]}, r"model\.head\.hidden_sizes\[0\]: expected a positive integer <= 4096, got 0"),
    ({"offset": 10**12}, r"model\.head\.offset: expected an integer in \[-2147483647, 2147483647\]"),
    ({"scale": math.inf}, r"model\.head\.scale: inf is not a valid setting"),
    ({"scale": 3.0}, r"model\.head\.scale: expected a finite number in \[0, 2\], got 3\.0"),  # its own bound
])
def test_the_numbers_of_a_registered_head_of_ones_own_are_bounded(site, settings, match):
    register_head("bounded", _Bounded)
    with pytest.raises(UnsafeConfig, match=match):
        build_policy(_model("bounded", **settings), HW)
    assert build_policy(_model("bounded", hidden_sizes=[64, 64], offset=-3, scale=0.5), HW).head.state_size == 1


class _Picky(Head):
    def __init__(self, feature_dim: int, action_dim: int, width: int = 8) -> None:
        super().__init__()
        if width % 2:
            raise ValueError(f"width must be even, got {width}")


def test_a_head_of_ones_own_refusing_its_settings_is_named_in_the_message(site):
    register_head("picky", _Picky)
    with pytest.raises(ValueError, match=rf"^model\.head \(picky, {__name__}\._Picky\): width must be even, got 3$"):
        build_policy(_model("picky", width=3), HW)
