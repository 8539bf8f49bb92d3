"""navlnn show-data: labels drawn where they point, contact sheet, H.264 video, histograms."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from navlnn.data.show import ARC_SHARE, ARROW_SHARE, LABEL_RGB, ORIGIN_SHARE, draw_label


def _label_pixels(img: np.ndarray) -> np.ndarray:
    return np.argwhere(np.all(np.abs(img.astype(int) - LABEL_RGB) < 40, axis=-1))


@pytest.mark.parametrize("label,where", [
    ([1, 0, 0, 0], "up"), ([0, 1, 0, 0], "left"), ([0, -1, 0, 0], "right"), ([-1, 0, 0, 0], "down"),
])
def test_velocity_arrow_points_the_way(label, where):
    blank = np.zeros((36, 64, 3), np.uint8)
    img = draw_label(blank, np.array(label, np.float32), scale=4)
    h, w = img.shape[:2]
    oy, ox = int(ORIGIN_SHARE * h), w // 2
    pts = _label_pixels(img)
    pts = pts[pts[:, 1] < w - 20]  # leave out the vertical-speed bar
    far = pts[np.argmax(np.hypot(pts[:, 0] - oy, pts[:, 1] - ox))]
    dy, dx = far[0] - oy, far[1] - ox
    assert np.hypot(dy, dx) == pytest.approx(ARROW_SHARE * h, rel=0.15)
    assert {"up": dy < 0, "down": dy > 0, "left": dx < 0, "right": dx > 0}[where]


def test_yaw_arc_sweeps_left_for_a_left_turn():
    blank = np.zeros((36, 64, 3), np.uint8)
    h, w = 36 * 4, 64 * 4
    oy, ox = int(ORIGIN_SHARE * h), w // 2
    for yaw, side in ((1.0, -1), (-1.0, 1)):
        pts = _label_pixels(draw_label(blank, np.array([0, 0, 0, yaw], np.float32), scale=4))
        pts = pts[pts[:, 1] < w - 20]
        ring = pts[np.abs(np.hypot(pts[:, 0] - oy, pts[:, 1] - ox) - ARC_SHARE * h) < 3]
        assert len(ring) > 20
        assert np.sign(np.mean(ring[:, 1]) - ox) == side  # a quarter turn to that side
        assert ring[:, 0].max() <= oy + 4  # above the origin


def test_show_data_writes_sheet_video_and_histograms(dataset, tmp_path):
    folder = dataset[0]
    result = subprocess.run([sys.executable, "-m", "navlnn.cli", "show-data", f"data={folder}", "format=both",
                             "episodes=[0,2]", "frames_per_episode=5", "scale=2", f"hydra.run.dir={tmp_path}"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    import av
    import cv2

    sheet = cv2.imread(str(tmp_path / "episodes.png"))
    assert sheet.shape[0] == 2 * 36 * 2 + 4 and sheet.shape[1] == 5 * 64 * 2 + 4 * 4
    with av.open(str(tmp_path / "episodes.mp4")) as video:
        stream = video.streams.video[0]
        assert stream.codec_context.name == "h264"
        frames = sum(1 for _ in video.decode(stream))
    steps = {e["index"]: e["steps"] for e in dataset[1]["episodes"]}
    assert frames == steps[0] + steps[2]
    assert (tmp_path / "actions.png").read_bytes()[:4] == b"\x89PNG"
    for name in ("episodes.png", "episodes.mp4", "actions.png"):
        assert str((tmp_path / name).resolve()) in result.stdout


def test_show_data_on_a_missing_dataset_says_so(tmp_path):
    result = subprocess.run([sys.executable, "-m", "navlnn.cli", "show-data", f"data={tmp_path / 'none'}",
                             f"hydra.run.dir={tmp_path}"], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "does not exist" in result.stdout + result.stderr
