"""The MIT comparison heads (dense LTC, mixed-memory CfC, GRU-ODE, CT-RNN, TCN): stepping against
the sequence call, the ODEs and the TCN's buffer, gradients, sizes, checkpoints, training (ONNX parity: tests/liquid/test_policy.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.heads import CTRNNHead, GRUODEHead, TCNHead
from navlnn.policies.checkpoint import load_policy, save_checkpoint
from navlnn.policies.heads import LiquidHead
from navlnn.policies.policy import build_policy
from navlnn.policies.registry import UnsafeConfig, check_model_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from synthetic_windows import HW as SMALL_HW, NO_AUGMENT, Windows, small_policy  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "conf"
HEADS = ["ltc", "cfc_mixed", "gru_ode", "ctrnn", "tcn"]
HW = (36, 64)
# head parameters at the default trunk (32 features) and 4 actions: the table in docs/policies.md
HEAD_PARAMETERS = {"ltc": 9_214, "cfc_mixed": 22_380, "gru_ode": 18_884, "ctrnn": 6_532, "tcn": 22_084}


def _model_cfg(name: str, *overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="wiring", overrides=[f"+model={name}", *overrides]).model


def _policy(name: str, seed: int = 0, hw: tuple[int, int] = HW):
    torch.manual_seed(seed)
    return build_policy(_model_cfg(name), hw)


def _inputs(batch: int, steps: int, features: int, state_size: int, seed: int = 0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, features, generator=gen, dtype=dtype)
    dt = (1 / 15) * (0.5 + torch.rand(batch, steps, generator=gen, dtype=dtype))  # irregular frame timing
    state = 0.2 * torch.randn(batch, state_size, generator=gen, dtype=dtype)
    return x, dt, state


@pytest.mark.parametrize("name", HEADS)
def test_stepping_reproduces_the_sequence_call_in_float64(name):
    head = _policy(name).head.double()
    x, dt, state = _inputs(2, 9, 32, head.state_size)
    actions, last = head(x, dt, state)
    assert actions.shape == (2, 9, 4) and last.shape == (2, head.state_size)
    stepped = state
    with torch.no_grad():
        for t in range(9):
            action, stepped = head.step(x[:, t], dt[:, t], stepped)
            torch.testing.assert_close(action, actions[:, t], atol=1e-12, rtol=0)
    torch.testing.assert_close(stepped, last, atol=1e-12, rtol=0)
    # two halves carried through the state are the whole sequence
    first, mid = head(x[:, :4], dt[:, :4], state)
    second, end = head(x[:, 4:], dt[:, 4:], mid)
    torch.testing.assert_close(torch.cat([first, second], 1), actions, atol=1e-12, rtol=0)
    torch.testing.assert_close(end, last, atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", HEADS)
def test_frame_timing_and_memory_reach_the_actions(name):
    head = _policy(name).head.double()
    x, dt, _ = _inputs(1, 6, 32, head.state_size)
    with torch.no_grad():
        a, _ = head(x, dt)
        b, _ = head(x, 2 * dt)
        fresh, _ = head(x[:, -1:], dt[:, -1:])
    assert (a - b).abs().max() > 1e-6
    assert (a[:, -1] - fresh[:, 0]).abs().max() > 1e-6


def test_dense_ltc_normalises_its_features_so_large_ones_still_steer():
    # Trained without the norm, the dense LTC drove the trunk's features to hundreds; there the
    # sensory sigmoids saturate, the gradient to the image vanishes and the command is constant.
    head = _policy("ltc").head.double()
    assert isinstance(head.norm, torch.nn.LayerNorm)
    x, dt, _ = _inputs(1, 6, 32, head.state_size)
    with torch.no_grad():
        torch.testing.assert_close(head(100 * x, dt)[0], head(x, dt)[0], atol=1e-4, rtol=0)  # LayerNorm eps
    torch.manual_seed(0)
    raw = LiquidHead("ltc", 32, 4, units=34).double()
    assert isinstance(raw.norm, torch.nn.Identity)  # off by default: the other liquid heads are unchanged

    def gradient(model) -> float:
        big = (300 * x).requires_grad_(True)
        model(big, dt)[0][:, -1].sum().backward()
        return float(big.grad.abs().max() * 300)  # per unit of the unscaled features

    assert gradient(raw) < 1e-6 < 1e-2 < gradient(head)


@pytest.mark.parametrize("name", ["lstm", "gru", "cnn", "ncp_cfc"])
def test_every_study_head_takes_the_recipes_input_norm_and_steps_alike(name, tmp_path):
    # data_photometric_erasing_norm sets model.head.input_norm for the whole study: each head must
    # have the key, normalise only the features (a scale of them changes nothing, dt still counts),
    # and survive a checkpoint's trip through the registry.
    cfg = _model_cfg(name, "model.head.input_norm=true")
    torch.manual_seed(0)
    policy = build_policy(cfg, HW)
    head = policy.head.double()
    assert isinstance(head.norm, torch.nn.LayerNorm)
    x, dt, state = _inputs(2, 5, 32, head.state_size)
    with torch.no_grad():
        actions = head(x, dt, state)[0]
        torch.testing.assert_close(head(50 * x, dt, state)[0], actions, atol=1e-4, rtol=0)  # LayerNorm eps
        assert (head(x, 3 * dt, state)[0] - actions).abs().max() > 1e-6
        stepped = head.step(x[:, 0], dt[:, 0], state)[0]
    torch.testing.assert_close(stepped, actions[:, 0], atol=1e-12, rtol=0)
    plain = build_policy(_model_cfg(name), HW).head
    assert isinstance(plain.norm, torch.nn.Identity)  # off by default: earlier checkpoints load unchanged
    loaded = load_policy(save_checkpoint(tmp_path / "norm.pt", policy.float()))
    assert isinstance(loaded.head.norm, torch.nn.LayerNorm)
    torch.testing.assert_close(loaded.head.norm.weight, policy.head.norm.weight)


def test_dense_ltc_is_fully_connected_with_four_motor_neurons():
    head = _policy("ltc").head
    assert isinstance(head, LiquidHead) and head.kind == "ltc"
    wiring = head.wiring
    assert wiring.units == 34 and wiring.output_dim == 4
    assert np.count_nonzero(wiring.adjacency_matrix) == 34 * 34
    assert np.count_nonzero(wiring.sensory_adjacency_matrix) == 32 * 34
    with pytest.raises(ValueError, match="at least 4 neurons"):
        LiquidHead("ltc", 32, 4, wiring=None, units=3)


def test_mixed_cfc_state_is_h_then_c():
    head = _policy("cfc_mixed").head
    assert isinstance(head, LiquidHead) and head.cell.use_mixed and head.wiring is None
    assert head.state_size == 2 * 34


@pytest.mark.parametrize("cls", [GRUODEHead, CTRNNHead])
def test_ode_heads_hold_their_state_over_no_time_and_converge_with_unfolds(cls):
    torch.manual_seed(0)
    head = cls(6, 4, hidden_size=5).double()
    x, dt, state = _inputs(3, 1, 6, 5)
    with torch.no_grad():
        _, held = head(x, torch.zeros_like(dt), state)
        torch.testing.assert_close(held, state, atol=0, rtol=0)  # dt = 0: the ODE does not move
        spans = dt * 3.0  # long frames, where the integration error shows

        def end_state(unfolds: int) -> torch.Tensor:
            head.ode_unfolds = unfolds
            return head(x, spans, state)[1]

        coarse, fine, finer = end_state(2), end_state(200), end_state(400)
    # a consistent integrator: refining the sub-steps converges (first order), far from the coarse answer
    assert (fine - finer).abs().max() < 0.05 * (coarse - finer).abs().max()
    assert (coarse - finer).abs().max() > 1e-4


def test_ctrnn_time_constants_are_positive_and_learned():
    head = _policy("ctrnn").head
    assert isinstance(head, CTRNNHead)
    torch.testing.assert_close(head.tau, torch.ones(64))
    assert head.tau_raw.requires_grad


def test_tcn_receptive_field_and_buffer_state():
    head = _policy("tcn").head.double()
    assert isinstance(head, TCNHead)
    r = head.receptive_field
    assert r == 63 and r >= 32 and head.state_size == (r - 1) * 33
    assert list(head.buffers()) == []  # the frame buffer is state, not parameters
    x, dt, _ = _inputs(1, r + 6, 32, head.state_size, seed=2)
    with torch.no_grad():
        base, state = head(x, dt)
        changed = x.clone()
        changed[:, 3] += 1.0
        moved, _ = head(changed, dt)
    diff = (moved - base).abs().amax(-1)[0]
    assert diff[:3].max() == 0  # causal: nothing before the change moves
    assert diff[3 + r - 1] > 0  # the oldest frame inside the receptive field still counts
    assert diff[3 + r:].max() == 0  # nothing beyond the receptive field
    # the state is the last r - 1 frames (features, dt), oldest first
    frames = torch.cat([x, dt.unsqueeze(-1)], -1)[:, -(r - 1):]
    torch.testing.assert_close(state, frames.reshape(1, -1), atol=0, rtol=0)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"kernel_size": 1}, "kernel_size must be 2 or more"),
        ({"dilations": []}, "dilations must be a non-empty list"),
        ({"dilations": [1, 0]}, "dilations"),
        ({"channels": 0}, "channels must be a positive integer"),
    ],
)
def test_tcn_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TCNHead(8, 4, **kwargs)


@pytest.mark.parametrize("cls", [GRUODEHead, CTRNNHead])
def test_ode_heads_bad_settings_are_named(cls):
    with pytest.raises(ValueError, match="ode_unfolds must be a positive integer"):
        cls(8, 4, ode_unfolds=0)
    with pytest.raises(ValueError, match="time_scale must be a positive number"):
        cls(8, 4, time_scale=0.0)


def _tiny_head(name: str):
    torch.manual_seed(0)
    if name == "ltc":
        return LiquidHead("ltc", 3, 2, units=4, ode_unfolds=2)
    if name == "cfc_mixed":
        return LiquidHead("cfc", 3, 2, units=4, backbone_units=5, mixed_memory=True)
    if name == "gru_ode":
        return GRUODEHead(3, 2, hidden_size=4, ode_unfolds=2)
    if name == "ctrnn":
        return CTRNNHead(3, 2, hidden_size=4, ode_unfolds=2)
    return TCNHead(3, 2, channels=3, kernel_size=2, dilations=[1, 2])


@pytest.mark.parametrize("name", HEADS)
def test_gradients_match_finite_differences(name):
    # the dense LTC trains through navlnn's LTC kernel, whose backward is hand-written; the others are plain autograd
    head = _tiny_head(name).double()
    x, dt, state = _inputs(2, 3, 3, head.state_size, seed=1)
    if name == "tcn":
        x = x + 3.0  # away from the ReLU kinks, where finite differences are not defined
        state = state + 3.0
    x.requires_grad_(True)
    state.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, s: head(x, dt, s), (x, state))
    weight_name, weight = next((n, p) for n, p in head.named_parameters() if p.dim() == 2)

    def through_weight(w):
        return torch.func.functional_call(head, {weight_name: w}, (x.detach(), dt, state.detach()))

    assert torch.autograd.gradcheck(through_weight, (weight.detach().clone().requires_grad_(True),))


@pytest.mark.parametrize("name", HEADS)
def test_describe_counts_head_parameters(name):
    policy = _policy(name, hw=(72, 128))
    counts = policy.parameter_counts()
    assert counts["head"] == HEAD_PARAMETERS[name] == sum(p.numel() for p in policy.head.parameters())
    assert counts["total"] == counts["trunk"] + counts["head"]
    text = policy.describe()
    assert text.startswith(f"{name}: ") and f"head {counts['head']:,}" in text
    assert f"state {policy.state_size}" in text


@pytest.mark.parametrize("name", HEADS)
def test_checkpoint_round_trip_through_the_registry(name, tmp_path):
    policy = _policy(name, seed=3)
    check_model_config(policy.config)
    path = save_checkpoint(tmp_path / "best.pt", policy)
    torch.manual_seed(99)  # a different init: everything must come from the file
    loaded = load_policy(path, image_hw=HW)
    assert type(loaded.head) is type(policy.head) and loaded.state_size == policy.state_size
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (2, 3, *HW, 3), dtype=torch.uint8, generator=gen)
    dt = torch.full((2, 3), 1 / 15)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images, dt)[0], policy(images, dt)[0], atol=0, rtol=0)


@pytest.mark.parametrize("name,key", [("tcn", "padding"), ("gru_ode", "mixed_memory"), ("ctrnn", "kind")])
def test_unknown_keys_of_the_new_heads_are_refused(name, key):
    config = _policy(name).config
    config["head"][key] = 1
    with pytest.raises(UnsafeConfig, match=rf"model\.head\.{key}: unknown key"):
        check_model_config(config)


@pytest.mark.parametrize("name", HEADS)
def test_every_new_head_trains_through_fit(name, tmp_path):
    from navlnn.training.loop import TrainConfig, fit

    policy = small_policy(model=name)
    before = {k: v.clone() for k, v in policy.head.state_dict().items()}
    cfg = TrainConfig(epochs=1, batch_size=4, lr=3e-3, warmup_steps=1, seed=0, augment=NO_AUGMENT)
    result = fit(policy, Windows(8), Windows(4, seed=1), cfg, tmp_path, progress=False)
    assert np.isfinite(result.history[-1]["val_loss"])
    moved = [k for k, v in policy.head.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert moved  # the head's weights were updated
    assert type(load_policy(result.best, image_hw=SMALL_HW).head) is type(policy.head)


def _navlnn(*args: str, cwd: Path):
    import subprocess

    return subprocess.run([sys.executable, "-m", "navlnn.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=900)


@pytest.mark.e2e
def test_the_five_heads_train_and_export_through_the_cli(tmp_path):
    data = tmp_path / "data"
    collect = _navlnn("collect", "episodes=3", "workers=1", "progress=false", f"data={data}",
                      "drone.camera.width=64", "drone.camera.height=36", f"hydra.run.dir={tmp_path / 'collect'}",
                      cwd=tmp_path)
    assert collect.returncode == 0, collect.stderr[-3000:]
    sweep = tmp_path / "sweep"
    train = _navlnn("train", "-m", f"data={data}", f"model={','.join(HEADS)}", "seed=0", "train.epochs=1",
                    "model.trunk.channels=[8,8,8,8,8]", "train.seq_len=8", "train.stride=4", "train.batch_size=4",
                    "train.warmup_steps=2", "logger.mode=disabled", "progress=false", f"hydra.sweep.dir={sweep}",
                    cwd=tmp_path)
    assert train.returncode == 0, train.stderr[-3000:]
    for name in HEADS:
        best = sweep / f"{name}-seed0" / "checkpoints" / "best.pt"
        assert torch.load(best, weights_only=True)["model"]["name"] == name
        out = tmp_path / "export" / name
        export = _navlnn("export", f"checkpoint={best}", "latency_steps=5", f"hydra.run.dir={out}", cwd=tmp_path)
        assert export.returncode == 0, f"{name}: {export.stderr[-3000:]}"
        assert (out / "policy.onnx").stat().st_size > 10_000
        assert "onnxruntime matches torch" in export.stdout and f"{name}: trunk" in export.stdout
