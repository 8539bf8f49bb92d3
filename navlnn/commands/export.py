"""``navlnn export``: a trained policy's closed-loop step as ONNX, checked and timed on CPU."""

from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from navlnn.policies.export import export_policy_onnx
from navlnn.policies.checkpoint import load_policy

FORMATS = ("onnx",)
EXPORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")  # the `export` extra of pyproject.toml


def missing_export_packages() -> list[str]:
    """The packages of the ``export`` extra that are not installed."""
    return [name for name in EXPORT_PACKAGES if importlib.util.find_spec(name) is None]


def run(cfg: DictConfig) -> list[Path]:
    if cfg.format not in FORMATS:
        raise ValueError(f"format: unknown '{cfg.format}'; valid formats: {list(FORMATS)}")
    missing = missing_export_packages()
    if missing:
        raise ModuleNotFoundError(f"ONNX export needs {', '.join(missing)}, not installed here; "
                                  f'install them with: pip install "navlnn[export]"')
    policy = load_policy(cfg.checkpoint)
    print(policy.describe())
    path = export_policy_onnx(policy, Path(HydraConfig.get().runtime.output_dir) / cfg.output)
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(cfg.threads)
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    gen = torch.Generator().manual_seed(int(cfg.seed))
    height, width = policy.image_hw
    frames = torch.randint(0, 256, (int(cfg.check_frames), 1, height, width, 3), dtype=torch.uint8, generator=gen)
    dt = torch.full((1, 1), 1.0 / 15.0)
    state_t, state_o = policy.initial_state(1), np.zeros((1, policy.state_size), np.float32)
    worst = 0.0
    with torch.inference_mode():
        for frame in frames:
            action_t, state_t = policy.step(frame, state_t, dt)
            action_o, state_o = session.run(None, {"image": frame.numpy(), "state": state_o, "dt": dt.numpy()})
            worst = max(worst, float(np.abs(action_o - action_t.numpy()).max()))
    if worst > cfg.tolerance:
        raise RuntimeError(f"ONNX and torch actions differ by {worst:.2e} (> {cfg.tolerance}); the export is wrong")
    feed = {"image": frames[0].numpy(), "state": state_o, "dt": dt.numpy()}
    for _ in range(20):
        session.run(None, feed)
    times = []
    for _ in range(int(cfg.latency_steps)):
        start = time.perf_counter()
        session.run(None, feed)
        times.append(time.perf_counter() - start)
    print(f"onnxruntime matches torch (max |action difference| {worst:.1e}); CPU latency per step at batch 1, "
          f"{cfg.threads} thread(s): median {1e3 * statistics.median(times):.2f} ms, "
          f"p90 {1e3 * float(np.percentile(times, 90)):.2f} ms")
    return [path]
