"""Checkpoints are data: a crafted model config is refused, names its key, and leaves no trace."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.checkpoint import load_policy, read_checkpoint, save_checkpoint
from navlnn.policies.heads import Head
from navlnn.policies.policy import build_policy
from navlnn.policies.registry import HEADS, UnsafeConfig, check_model_config, register_head

CONF = Path(__file__).resolve().parents[2] / "conf"
HW = (36, 64)


def _model_cfg(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="wiring", overrides=[f"+model={name}", *overrides]).model


@pytest.fixture(scope="module")
def good_payload(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("ckpt") / "good.pt"
    save_checkpoint(path, build_policy(_model_cfg("ncp_cfc"), HW))
    return torch.load(path, weights_only=True)


def _crafted(payload: dict, tmp_path: Path, edit) -> Path:
    payload = copy.deepcopy(payload)
    edit(payload["model"])
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


def _set(path: tuple, value):
    def edit(model):
        node = model
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return edit


def test_a_file_writing_head_target_is_refused_and_writes_nothing(good_payload, tmp_path):
    victim = tmp_path / "written-by-checkpoint.txt"
    path = _crafted(good_payload, tmp_path,
                    _set(("head",), {"_target_": "builtins.open", "_args_": [str(victim), "w"]}))
    for load in (load_policy, read_checkpoint):
        with pytest.raises(ValueError, match=r"model\.head\._target_: unknown head 'builtins\.open'"):
            load(path)
    assert not victim.exists()


@pytest.mark.parametrize("where", [
    ("head", "wiring"),             # a nested object in the head's wiring
    ("head", "mode"),               # in place of a plain head setting
    ("trunk", "channels"),          # in the trunk
    ("name",),                      # in the model's name
])
def test_a_nested_target_anywhere_is_refused_and_imports_nothing(good_payload, tmp_path, where):
    victim = tmp_path / "nested.txt"
    assert "wave" not in sys.modules  # a stdlib module nothing in navlnn imports
    crafted = {"_target_": "wave.open", "f": str(victim), "mode": "wb"}
    path = _crafted(good_payload, tmp_path, _set(where, crafted if where != ("trunk", "channels") else [crafted]))
    with pytest.raises(ValueError) as info:
        load_policy(path)
    message = str(info.value)
    assert "refused" in message and message.count("\n") == 0
    assert ".".join(where) in message
    assert "wave" not in sys.modules and not victim.exists()


def test_os_system_as_the_head_is_refused(good_payload, tmp_path):
    marker = tmp_path / "ran"
    path = _crafted(good_payload, tmp_path, _set(("head", "_target_"), "os.system"))
    payload = torch.load(path, weights_only=True)
    payload["model"]["head"]["_args_"] = [f"touch {marker}"]
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"unknown head 'os\.system'"):
        load_policy(path)
    assert not marker.exists()


@pytest.mark.parametrize("edit,match", [
    (_set(("head", "_target_"), "navlnn.policies.heads.NoSuchHead"), r"unknown head 'navlnn\.policies\.heads\.NoSuchHead'"),
    (_set(("head", "hidden_size"), 64), r"model\.head\.hidden_size: unknown key"),
    (_set(("trunk", "activation"), "relu"), r"model\.trunk\.activation: unknown key"),
    (_set(("optimizer",), "adam"), r"model\.optimizer: unknown key"),
    (_set(("head", "wiring", "params", "seed"), float("nan")), r"model\.head\.wiring\.params\.seed: NaN"),
    (_set(("head", "time_scale"), torch.ones(1)), r"model\.head\.time_scale: Tensor is not plain data"),
])
def test_unknown_heads_keys_and_values_are_named(good_payload, tmp_path, edit, match):
    with pytest.raises(UnsafeConfig, match=match):
        load_policy(_crafted(good_payload, tmp_path, edit))


def test_a_genuine_checkpoint_still_loads_with_the_same_weights(good_payload, tmp_path):
    path = tmp_path / "genuine.pt"
    torch.save(good_payload, path)
    policy = load_policy(path)
    for key, value in good_payload["state_dict"].items():
        torch.testing.assert_close(policy.state_dict()[key], value)


def test_every_shipped_model_config_passes_the_check():
    for name in ["ncp_cfc", "ncp_ltc", "cfc", "lstm", "gru", "cnn"]:
        policy = build_policy(_model_cfg(name), HW)
        check_model_config(policy.config)
        assert policy.config["head"]["_target_"].startswith("navlnn.policies.heads.")


class _OwnHead(Head):
    def __init__(self, feature_dim: int, action_dim: int, width: int = 3) -> None:
        super().__init__()
        self.readout = torch.nn.Linear(feature_dim, action_dim)
        self.state_size = 1

    def forward(self, features, dt, state=None):
        return self.readout(features), features.new_zeros(features.shape[0], 1)


def test_a_conf_head_of_ones_own_loads_once_registered(tmp_path):
    cfg = _model_cfg("cnn")
    model = {"name": "own", "trunk": dict(cfg.trunk), "head": {"_target_": f"{__name__}._OwnHead", "width": 5}}
    with pytest.raises(UnsafeConfig, match="unknown head"):
        build_policy(model, HW)  # a config from a file may not name code
    policy = build_policy(model, HW, allow_targets=True)  # one written in conf/ may
    path = save_checkpoint(tmp_path / "own.pt", policy)
    with pytest.raises(UnsafeConfig, match="register_head"):
        load_policy(path)
    register_head("own_test_head", _OwnHead, {"width"})
    try:
        assert isinstance(load_policy(path).head, _OwnHead)
    finally:
        HEADS.pop("own_test_head")


# ------------------------------------------------------------------------------------------------
# Types and ranges: every number of a model config is checked before anything is allocated.

FAST_S = 5.0  # generous on a busy machine; a refused file takes milliseconds, the allocations it asks for never end


@pytest.fixture
def nothing_built(monkeypatch):
    """Building a trunk fails the test: a refusal must come before anything is allocated."""
    import navlnn.policies.policy as policy_module

    def built(*args, **kwargs):
        raise AssertionError("a trunk was built before the config was refused")

    monkeypatch.setattr(policy_module, "ConvTrunk", built)


@pytest.fixture(scope="module")
def payloads(tmp_path_factory) -> dict:
    """A genuine checkpoint's contents for each built-in head family."""
    folder = tmp_path_factory.mktemp("heads")
    out = {}
    for name in ["ncp_cfc", "cfc", "ltc", "lstm", "cnn", "gru_ode", "ctrnn", "tcn"]:
        path = save_checkpoint(folder / f"{name}.pt", build_policy(_model_cfg(name), HW))
        out[name] = torch.load(path, weights_only=True)
    return out


def _refused_fast(path: Path, message: str) -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(UnsafeConfig) as info:
        load_policy(path)
    assert time.perf_counter() - started < FAST_S
    assert message in str(info.value), str(info.value)
    assert str(info.value).startswith(f"checkpoint {path}: refused, ") and "\n" not in str(info.value)


def _with_image_hw(payload: dict, tmp_path: Path, hw) -> Path:
    payload = copy.deepcopy(payload)
    payload["image_hw"] = hw
    path = tmp_path / "crafted.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("where,value,message", [
    (("trunk", "channels"), [16, 10**7, 32, 48, 48], "model.trunk.channels[1]: expected a positive integer <= 4096, got 10000000"),
    (("trunk", "channels"), [-8, 24, 32, 48, 48], "model.trunk.channels[0]: expected a positive integer <= 4096, got -8"),
    (("trunk", "channels"), [16] * 40, "model.trunk.channels: expected a list of 1 to 16 items"),
    (("trunk", "kernels"), [5, 3, "3", 3, 3], "model.trunk.kernels[2]: expected a positive integer <= 31, got '3'"),
    (("trunk", "kernels"), [5, 3, 3.0, 3, 3], "model.trunk.kernels[2]: expected a positive integer <= 31, got 3.0"),
    (("trunk", "strides"), [2, 2, 0, 2, 1], "model.trunk.strides[2]: expected a positive integer <= 16, got 0"),
    (("trunk", "strides"), [2, 2, 2], "model.trunk: channels, kernels and strides must have the same length"),
    (("trunk", "feature_dim"), 10**9, "model.trunk.feature_dim: expected a positive integer <= 4096, got 1000000000"),
    (("trunk", "feature_dim"), True, "model.trunk.feature_dim: expected a positive integer <= 4096, got True"),
    (("trunk", "dropout"), 1.0, "model.trunk.dropout: expected a finite number in [0, 1), got 1.0"),
    (("trunk", "dropout"), float("inf"), "model.trunk.dropout: inf is not a valid setting"),
    (("head", "time_scale"), float("inf"), "model.head.time_scale: inf is not a valid setting"),
    (("head", "time_scale"), -1.0, "model.head.time_scale: expected a positive finite number <= 10000, got -1.0"),
    (("head", "mode"), 3, "model.head.mode: expected a string, got 3"),
    (("head", "input_norm"), 1, "model.head.input_norm: expected one of True, False, got 1"),
])
def test_trunk_and_head_values_out_of_range_are_refused_before_building(payloads, tmp_path, nothing_built,
                                                                         where, value, message):
    _refused_fast(_crafted(payloads["ncp_cfc"], tmp_path, _set(where, value)), message)


@pytest.mark.parametrize("hw,message", [
    ([10**6, 10**6], "image_hw[0]: expected a positive integer <= 4096, got 1000000"),
    ([36, -64], "image_hw[1]: expected a positive integer <= 4096, got -64"),
    ([36, 64.0], "image_hw[1]: expected a positive integer <= 4096, got 64.0"),
    ([36], "image_hw: expected (height, width), two positive integers, got [36]"),
])
def test_a_camera_size_out_of_range_is_refused(payloads, tmp_path, nothing_built, hw, message):
    _refused_fast(_with_image_hw(payloads["ncp_cfc"], tmp_path, hw), message)


def test_a_trunk_too_large_for_its_camera_is_refused(payloads, tmp_path, nothing_built):
    payload = copy.deepcopy(payloads["ncp_cfc"])
    payload["model"]["trunk"].update(channels=[4096] * 5, strides=[1] * 5)
    path = _with_image_hw(payload, tmp_path, [4096, 4096])
    _refused_fast(path, "model.trunk: at a 4096x4096 camera this trunk has")


@pytest.mark.parametrize("model,key,value,message", [
    ("cfc", "units", 10**6, "model.head.units: expected a positive integer <= 1024, got 1000000"),
    ("cfc", "backbone_units", 10**7, "model.head.backbone_units: expected a positive integer <= 4096, got 10000000"),
    ("cfc", "backbone_layers", -1, "model.head.backbone_layers: expected a non-negative integer <= 8, got -1"),
    ("cfc", "backbone_dropout", 1.5, "model.head.backbone_dropout: expected a finite number in [0, 1), got 1.5"),
    ("ltc", "ode_unfolds", 10**6, "model.head.ode_unfolds: expected a positive integer <= 64, got 1000000"),
    ("ltc", "epsilon", -1e-3, "model.head.epsilon: expected a finite number in [0, 1], got -0.001"),
    ("ltc", "epsilon", float("-inf"), "model.head.epsilon: -inf is not a valid setting"),
    ("lstm", "hidden_size", 10**8, "model.head.hidden_size: expected a positive integer <= 4096, got 100000000"),
    ("lstm", "kind", "rnn", "model.head.kind: expected one of 'lstm', 'gru', got 'rnn'"),
    ("cnn", "hidden_size", "64", "model.head.hidden_size: expected a positive integer <= 4096, got '64'"),
    ("gru_ode", "time_scale", 0.0, "model.head.time_scale: expected a positive finite number <= 10000, got 0.0"),
    ("gru_ode", "ode_unfolds", 0, "model.head.ode_unfolds: expected a positive integer <= 64, got 0"),
    ("ctrnn", "hidden_size", -5, "model.head.hidden_size: expected a positive integer <= 4096, got -5"),
    ("tcn", "channels", 10**7, "model.head.channels: expected a positive integer <= 4096, got 10000000"),
    ("tcn", "kernel_size", 1, "model.head.kernel_size: expected an integer in [2, 31], got 1"),
    ("tcn", "dilations", [1, 10**6], "model.head.dilations[1]: expected a positive integer <= 1024, got 1000000"),
    ("tcn", "dilations", [1] * 100, "model.head.dilations: expected a list of 1 to 16 items"),
    ("tcn", "dilations", [512] * 16, "model.head: a receptive field of 16385 frames"),
])
def test_every_built_in_heads_numbers_are_bounded(payloads, tmp_path, nothing_built, model, key, value, message):
    _refused_fast(_crafted(payloads[model], tmp_path, _set(("head", key), value)), message)


def _wiring_edit(edit):
    def apply(model):
        edit(model["head"]["wiring"])
    return apply


@pytest.mark.parametrize("edit,message", [
    (lambda w: w["params"].update(inter=10**6), "model.head.wiring.params.inter: expected a positive integer <= 1024"),
    (lambda w: w["params"].update(inter=600, command=600), "model.head.wiring.params: 1204 neurons (inter + command + motor)"),
    (lambda w: w["params"].update(seed=-1), "model.head.wiring.params.seed: expected a non-negative integer <= 4294967295, got -1"),
    (lambda w: w.update(input_dim=10**9), "model.head.wiring.input_dim: expected a positive integer <= 4096"),
    (lambda w: w.update(kind="Lattice"), "model.head.wiring.kind: expected one of 'Wiring', 'FullyConnected'"),
    (lambda w: w.update(adjacency_matrix=[[0] * 2000] * 2000), "model.head.wiring.adjacency_matrix: expected a matrix of 1 to 1024 rows"),
    (lambda w: w.update(adjacency_matrix=w["adjacency_matrix"][:-1]), "model.head.wiring.adjacency_matrix[0]: expected a row of 33 items"),
    (lambda w: w["adjacency_matrix"][3].__setitem__(2, 7), "model.head.wiring.adjacency_matrix[3]: expected -1, 0 or 1"),
    (lambda w: w.update(sensory_adjacency_matrix=w["sensory_adjacency_matrix"][:5]),
     "model.head.wiring.sensory_adjacency_matrix: expected 32 rows (input_dim), got 5"),
])
def test_wiring_sizes_and_matrices_are_bounded(payloads, tmp_path, nothing_built, edit, message):
    _refused_fast(_crafted(payloads["ncp_cfc"], tmp_path, _wiring_edit(edit)), message)


def test_the_huge_allocations_are_refused_under_a_tight_address_space_limit(payloads, tmp_path):
    """In a process that may not map 1 GiB more than it has, the three files that asked for 17 GB,
    7.7 TB and 12 TB each end with the bound's message, not with torch's allocation error."""
    import subprocess

    cases = {"channels.pt": _set(("trunk", "channels"), [16, 10**7, 32, 48, 48]),
             "features.pt": _set(("trunk", "feature_dim"), 10**9)}
    for name, edit in cases.items():
        _crafted(payloads["ncp_cfc"], tmp_path, edit).rename(tmp_path / name)
    _with_image_hw(payloads["ncp_cfc"], tmp_path, [10**6, 10**6]).rename(tmp_path / "camera.pt")
    script = """
import resource, sys
from navlnn.policies.checkpoint import load_policy
from navlnn.policies.registry import UnsafeConfig
with open("/proc/self/status") as f:
    size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, resource.getrlimit(resource.RLIMIT_AS)[1]))
for path in sys.argv[1:]:
    try:
        load_policy(path)
    except UnsafeConfig as exc:
        print(str(exc).split("refused, ")[1])
"""
    files = [str(tmp_path / n) for n in ("channels.pt", "features.pt", "camera.pt")]
    result = subprocess.run([sys.executable, "-c", script, *files], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.splitlines() == [
        "model.trunk.channels[1]: expected a positive integer <= 4096, got 10000000",
        "model.trunk.feature_dim: expected a positive integer <= 4096, got 1000000000",
        "image_hw[0]: expected a positive integer <= 4096, got 1000000",
    ]


def test_configs_written_in_conf_go_through_the_same_bounds():
    with pytest.raises(UnsafeConfig, match=r"model\.head\.wiring\.inter: expected a positive integer <= 1024"):
        build_policy(_model_cfg("ncp_cfc", "model.head.wiring.inter=100000"), HW, allow_targets=True)
    with pytest.raises(UnsafeConfig, match=r"model\.head\.wiring: 1800 neurons \(inter \+ command \+ motor\)"):
        build_policy(_model_cfg("ncp_cfc", "model.head.wiring.inter=900", "model.head.wiring.command=896"), HW)
    with pytest.raises(UnsafeConfig, match=r"model\.head\.kernel_size: expected an integer in \[2, 31\], got 1000"):
        build_policy(_model_cfg("tcn", "model.head.kernel_size=1000"), HW, allow_targets=True)
    with pytest.raises(UnsafeConfig, match=r"action_dim: expected a positive integer <= 64, got 1000000"):
        build_policy(_model_cfg("cnn"), HW, action_dim=10**6)
    # a head class of one's own named in conf/ (Hydra instantiates it) still has its trunk and camera checked
    own = {"name": "own", "trunk": {**dict(_model_cfg("cnn").trunk), "channels": [8, 10**7, 8, 8, 8]},
           "head": {"_target_": f"{__name__}._OwnHead"}}
    with pytest.raises(UnsafeConfig, match=r"model\.trunk\.channels\[1\]: expected a positive integer <= 4096"):
        build_policy(own, HW, allow_targets=True)
    with pytest.raises(UnsafeConfig, match=r"image_hw\[0\]: expected a positive integer <= 4096"):
        build_policy({**own, "trunk": dict(_model_cfg("cnn").trunk)}, (10**5, 64), allow_targets=True)
