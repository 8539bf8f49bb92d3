"""Videos: VisualBackProp maps, the MP4 writer (codec, size, frames, faststart), and navlnn video end to end."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from _tiny import HW, SHORT_TASK, tiny_policy

from navlnn.evaluation.video import Layout, neuron_groups, probe_mp4, saliency_overlay, write_mp4
from navlnn.policies.trunk import ConvTrunk, visual_backprop


def test_visual_backprop_shape_and_normalisation():
    torch.manual_seed(0)
    trunk = ConvTrunk(HW, channels=(8, 8, 8, 8, 8), kernels=(5, 3, 3, 3, 3), strides=(2, 2, 2, 2, 1))
    frames = torch.randint(0, 256, (3, *HW, 3), dtype=torch.uint8)
    maps = visual_backprop(trunk, frames)
    assert maps.shape == (3, *HW) and maps.dtype == torch.float32
    assert torch.all(maps >= 0) and torch.all(maps <= 1)
    assert torch.allclose(maps.flatten(1).max(1).values, torch.ones(3))
    assert torch.allclose(maps.flatten(1).min(1).values, torch.zeros(3))
    # odd sizes and strides that do not divide them come back at the input size
    odd = ConvTrunk((37, 61), channels=(4, 4), kernels=(5, 3), strides=(2, 3))
    assert visual_backprop(odd, torch.randint(0, 256, (1, 37, 61, 3), dtype=torch.uint8)).shape == (1, 37, 61)
    with pytest.raises(ValueError, match="expected"):
        visual_backprop(trunk, frames[:, :10])


def test_visual_backprop_follows_the_activations():
    """A trunk whose every filter responds to red sees a red square and nothing else."""
    trunk = ConvTrunk(HW, channels=(4, 4, 4), kernels=(3, 3, 3), strides=(2, 2, 1))
    with torch.no_grad():
        for i, layer in enumerate(m for m in trunk.convs if isinstance(m, torch.nn.Conv2d)):
            layer.weight.zero_()
            layer.bias.fill_(-1.0)
            if i == 0:
                layer.weight[:, 0] = 1.0  # red channel
            else:
                layer.weight[:] = 1.0
    frame = np.zeros((*HW, 3), np.uint8)
    frame[10:20, 40:52, 0] = 255
    sal = visual_backprop(trunk, torch.as_tensor(frame)[None])[0].numpy()
    inside = sal[10:20, 40:52].mean()
    outside = np.concatenate([sal[:, :30].ravel(), sal[28:].ravel()]).mean()
    assert inside > 0.2 and outside < 0.05 and inside > 10 * outside
    assert np.unravel_index(sal.argmax(), sal.shape)[1] in range(36, 56)


def test_saliency_overlay_keeps_the_frame_where_nothing_is_salient():
    frame = np.full((*HW, 3), 120, np.uint8)
    sal = np.zeros(HW, np.float32)
    np.testing.assert_array_equal(saliency_overlay(frame, sal, 0.6), frame)
    sal[5:10, 5:10] = 1.0
    out = saliency_overlay(frame, sal, 0.6)
    assert np.abs(out[7, 7].astype(int) - 120).max() > 30 and (out[30, 60] == 120).all()


def test_mp4_writer_makes_browser_playable_h264(tmp_path):
    frames = [np.full((101, 161, 3), (10 * i) % 255, np.uint8) for i in range(12)]  # odd sizes on purpose
    path = write_mp4(tmp_path / "clip.mp4", iter(frames), fps=15)
    info = probe_mp4(path)
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"]) == (160, 100)
    assert info["frames"] == 12 and info["fps"] == pytest.approx(15)
    assert info["faststart"]
    with pytest.raises(ValueError, match="no frames"):
        write_mp4(tmp_path / "empty.mp4", iter([]), fps=15)


def test_layout_rejects_odd_sizes_and_unknown_keys():
    with pytest.raises(ValueError, match="even"):
        Layout.from_config({"width": 1281})
    with pytest.raises(ValueError, match="unknown keys colour"):
        Layout.from_config({"colour": "red"})


def test_ncp_state_is_grouped_into_inter_command_motor():
    groups = neuron_groups(tiny_policy())
    assert [name for name, _ in groups] == ["inter", "command", "motor"]
    assert [n for _, n in groups] == [18, 12, 4]
    assert neuron_groups(tiny_policy("lstm")) == [("state", 128)]


@pytest.mark.e2e
def test_video_command_writes_an_h264_mp4(checkpoint, tmp_path):
    run_dir = tmp_path / "run"
    result = subprocess.run(
        [sys.executable, "-m", "navlnn.cli", "video", f"checkpoint={checkpoint}", "scenes=[winter]", "task=fly_to_target",
         f"task.time_limit_s={SHORT_TASK['time_limit_s']}", "episodes=1", "logger.mode=disabled",
         "chase_camera.width=160", "chase_camera.height=90", "layout.width=640", "layout.height=360",
         "layout.map_size=160", "layout.end_hold_s=0.2", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    info = probe_mp4(run_dir / "video.mp4")
    assert info["codec"] == "h264" and info["pix_fmt"] == "yuv420p" and (info["width"], info["height"]) == (640, 360)
    seconds = float(result.stdout.split(" after ")[1].split(" s")[0])
    steps = round(seconds * 15)  # 15 Hz policy rate
    assert info["frames"] == steps + 1 + 3  # one per state, then the final state held 0.2 s at 15 fps
    assert (run_dir / "poster.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert str((run_dir / "video.mp4").resolve()) in result.stdout


def test_video_of_a_missing_checkpoint_names_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "navlnn.cli", "video", f"checkpoint={tmp_path / 'gone.pt'}",
                             f"hydra.run.dir={tmp_path}"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "gone.pt: no such file" in result.stderr
