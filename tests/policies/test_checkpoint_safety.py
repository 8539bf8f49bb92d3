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


def _model_cfg(name: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="wiring", overrides=[f"+model={name}"]).model


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
