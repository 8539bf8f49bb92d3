"""Policies: every model config builds, sequence and step agree, state handling, checkpoints, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from navlnn.policies.heads import LiquidHead
from navlnn.policies.policy import build_policy

CONF = Path(__file__).resolve().parents[2] / "conf"
MODELS = ["ncp_cfc", "ncp_ltc", "cfc", "lstm", "gru", "cnn", "ltc", "cfc_mixed", "gru_ode", "ctrnn", "tcn"]
HW = (36, 64)  # a small camera keeps the tests fast


def _model_cfg(name: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="wiring", overrides=[f"+model={name}"]).model


def _policy(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return build_policy(_model_cfg(name), HW)


def _frames(batch: int, steps: int, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (batch, steps, *HW, 3), dtype=torch.uint8, generator=gen)
    dt = (1 / 15) * (0.5 + torch.rand(batch, steps, generator=gen))  # irregular frame timing
    return images, dt


@pytest.mark.parametrize("name", MODELS)
def test_sequence_and_stepwise_give_the_same_actions(name):
    policy = _policy(name)
    images, dt = _frames(2, 6)
    actions, state = policy(images, dt)
    assert actions.shape == (2, 6, 4) and state.shape == (2, policy.state_size)
    step_state = None
    with torch.no_grad():
        for t in range(6):
            action, step_state = policy.step(images[:, t], step_state, dt[:, t])
            torch.testing.assert_close(action, actions[:, t], atol=1e-5, rtol=0)
    torch.testing.assert_close(step_state, state, atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", MODELS)
def test_overlapping_windows_through_a_frame_index_give_the_windows_actions_and_gradients(name):
    """Training's segments: frames once through the trunk, windows picked by index, same as whole windows."""
    policy = _policy(name)
    frames, _ = _frames(1, 10)
    frames = frames[0]                                            # (10, H, W, 3): one stretch of an episode
    index = torch.tensor([[0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7], [4, 5, 6, 7, 8, 9]])   # overlapping windows
    dt = torch.full(index.shape, 1 / 15)
    shared, _ = policy(frames, dt, index=index)
    shared.square().sum().backward()
    grads = {n: p.grad.clone() for n, p in policy.named_parameters() if p.grad is not None}
    policy.zero_grad()
    whole, _ = policy(frames[index], dt)
    whole.square().sum().backward()
    torch.testing.assert_close(shared, whole, atol=1e-6, rtol=1e-5)
    for n, p in policy.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(grads[n], p.grad, atol=1e-6, rtol=1e-4)
    with pytest.raises(ValueError, match="with index"):
        policy(frames[None], dt, index=index)


@pytest.mark.parametrize("name", MODELS)
def test_reset_and_act_carry_state_between_frames(name):
    policy = _policy(name)
    images, dt = _frames(1, 4)
    with torch.no_grad():
        expected, _ = policy(images, dt)
    policy.reset()
    acted = [policy.act(images[0, t].numpy(), float(dt[0, t])) for t in range(4)]
    np.testing.assert_allclose(np.stack(acted), expected[0].clamp(-1, 1).numpy(), atol=1e-5)
    policy.reset()
    np.testing.assert_allclose(policy.act(images[0, 0].numpy(), float(dt[0, 0])), acted[0], atol=1e-6)


@pytest.mark.parametrize("name", ["ncp_cfc", "ncp_ltc", "lstm"])
def test_memory_and_frame_timing_matter(name):
    policy = _policy(name)
    images, dt = _frames(1, 5)
    with torch.no_grad():
        a, _ = policy(images, dt)
        b, _ = policy(images, dt * 2.0)
        fresh, _ = policy(images[:, -1:], dt[:, -1:])
    assert (a - b).abs().max() > 1e-6  # dt reaches the head
    assert (a[:, -1] - fresh[:, 0]).abs().max() > 1e-6  # the state carries history


def test_parameter_counts_split_trunk_and_head():
    policy = _policy("ncp_cfc")
    counts = policy.parameter_counts()
    assert counts["trunk"] + counts["head"] == counts["total"] == sum(p.numel() for p in policy.parameters())
    assert counts["head_effective"] < counts["head"]
    assert "trunk" in policy.describe() and "ncp_cfc" in policy.describe()
    assert isinstance(policy.head, LiquidHead) and policy.head.wiring.units == 34


@pytest.mark.parametrize("name", ["ncp_cfc", "gru"])
def test_checkpoint_round_trip_weights_only(name, tmp_path):
    policy = _policy(name, seed=3)
    torch.save({"model": policy.config, "state_dict": policy.state_dict(), "image_hw": list(policy.image_hw)},
               tmp_path / "policy.pt")
    checkpoint = torch.load(tmp_path / "policy.pt", weights_only=True)
    torch.manual_seed(99)  # a different init: the circuit and weights must come from the checkpoint
    rebuilt = build_policy(checkpoint["model"], tuple(checkpoint["image_hw"]))
    rebuilt.load_state_dict(checkpoint["state_dict"])
    images, dt = _frames(1, 3)
    with torch.no_grad():
        torch.testing.assert_close(rebuilt(images, dt)[0], policy(images, dt)[0])


@pytest.mark.parametrize("name", ["ncp_cfc", "ncp_ltc", "lstm", "cnn", "ltc", "cfc_mixed", "gru_ode", "ctrnn", "tcn"])
def test_onnx_policy_step_matches_torch(name, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from navlnn.policies.export import export_policy_onnx

    policy = _policy(name)
    path = export_policy_onnx(policy, tmp_path / "policy.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["action", "state_out"]
    images, dt = _frames(3, 4)
    state_t = torch.zeros(3, policy.state_size)
    state_o = state_t.numpy()
    for t in range(4):  # closed loop, the state fed back, a batch size other than the exported one
        with torch.no_grad():
            action_t, state_t = policy.step(images[:, t], state_t, dt[:, t])
        action_o, state_o = session.run(None, {"image": images[:, t].numpy(), "state": state_o,
                                               "dt": dt[:, t:t + 1].numpy()})
        np.testing.assert_allclose(action_o, action_t.numpy(), atol=1e-4, rtol=0)
        np.testing.assert_allclose(state_o, state_t.numpy(), atol=1e-4, rtol=0)


def test_wrong_camera_size_is_named():
    policy = _policy("ncp_cfc")
    with pytest.raises(ValueError, match=r"built for a 64x36 camera"):
        policy(torch.zeros(1, 2, 72, 128, 3, dtype=torch.uint8), torch.ones(1, 2))
    with pytest.raises(ValueError, match=r"dt: expected shape \(1, 2\)"):
        policy(torch.zeros(1, 2, *HW, 3, dtype=torch.uint8), torch.ones(2))


def test_wiring_must_have_one_motor_neuron_per_action():
    cfg = _model_cfg("ncp_cfc")
    cfg.head.wiring.motor = 3
    with pytest.raises(ValueError, match="motor neurons"):
        build_policy(cfg, HW)
