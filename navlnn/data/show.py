"""Pictures of demonstrations: frames with their labels drawn, contact sheets, videos, histograms.

On each frame the expert's label is drawn from a point low in the image: an arrow for the
horizontal velocity (up: forward, left: left; full length at the drone's top speed), a bar at
the right edge for the vertical velocity, and an arc for the yaw rate (sweeping left for a
left turn; a quarter turn at the top yaw rate). Where noise was injected, the executed action
is drawn too, thinner, in orange.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np

LABEL_RGB = (60, 230, 60)
ACTION_RGB = (255, 150, 30)
TEXT_RGB = (255, 255, 255)
ARROW_SHARE = 0.35  # arrow length at top speed, as a share of the image height
ORIGIN_SHARE = 0.6  # where the arrows start, as a share of the image height from the top
ARC_SHARE = 0.24  # arc radius, as a share of the image height
ARC_DEG_AT_MAX = 90.0  # arc sweep at the top yaw rate


def draw_label(frame: np.ndarray, label: np.ndarray, action: np.ndarray | None = None, scale: int = 4,
               text: str | None = None) -> np.ndarray:
    """``frame`` (H x W x 3 RGB) enlarged ``scale`` times with ``label`` (and ``action``) drawn."""
    img = cv2.resize(frame, (frame.shape[1] * scale, frame.shape[0] * scale), interpolation=cv2.INTER_NEAREST)
    img = np.ascontiguousarray(img)
    h, w = img.shape[:2]
    origin = (w // 2, int(ORIGIN_SHARE * h))
    thick = max(1, scale // 2)
    if action is not None:
        _draw_one(img, np.asarray(action, float), origin, ACTION_RGB, max(1, thick // 2), h, w)
    _draw_one(img, np.asarray(label, float), origin, LABEL_RGB, thick, h, w)
    if text:
        org, size = (4, 4 + int(10 * max(1.0, scale / 3))), 0.3 * max(1.0, scale / 2.5)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, size, TEXT_RGB, 1, cv2.LINE_AA)
    return img


def _draw_one(img: np.ndarray, a: np.ndarray, origin: tuple[int, int], rgb, thick: int, h: int, w: int) -> None:
    vx, vy, vz, yaw = np.clip(a, -1.0, 1.0)
    length = ARROW_SHARE * h
    tip = (int(round(origin[0] - vy * length)), int(round(origin[1] - vx * length)))
    if tip != origin:
        cv2.arrowedLine(img, origin, tip, rgb, thick, cv2.LINE_AA, tipLength=0.25)
    cv2.circle(img, origin, thick + 1, rgb, -1, cv2.LINE_AA)
    # yaw rate: an arc from straight ahead, sweeping left for a left turn (positive yaw rate)
    radius = int(ARC_SHARE * h)
    sweep = ARC_DEG_AT_MAX * yaw
    if abs(sweep) >= 1.0:
        start = -90.0
        end = start - sweep
        cv2.ellipse(img, origin, (radius, radius), 0.0, start, end, rgb, thick, cv2.LINE_AA)
        ang = math.radians(end)
        tipx, tipy = origin[0] + radius * math.cos(ang), origin[1] + radius * math.sin(ang)
        # arrow head along the arc's direction of travel
        dirn = -1.0 if sweep > 0 else 1.0
        tx, ty = -math.sin(ang) * dirn, math.cos(ang) * dirn
        head = max(4, radius // 4)
        for side in (0.5, -0.5):
            c, s = math.cos(side), math.sin(side)
            bx, by = -(tx * c - ty * s), -(tx * s + ty * c)
            cv2.line(img, (int(tipx), int(tipy)), (int(tipx + head * bx), int(tipy + head * by)), rgb, thick, cv2.LINE_AA)
    # vertical speed: a bar at the right edge, up for climbing
    x = w - 6 - thick
    mid = h // 2
    cv2.line(img, (x - 3, mid), (x + 3, mid), rgb, 1)
    if abs(vz) > 0.02:
        cv2.line(img, (x, mid), (x, int(mid - vz * 0.4 * h)), rgb, thick + 1)


def episode_frames(arrays: Mapping[str, np.ndarray], steps: Sequence[int], scale: int, title: str = "",
                   dt: float | None = None) -> list[np.ndarray]:
    """The frames ``steps`` of one episode with labels (and executed actions where noisy) drawn."""
    out = []
    for t in steps:
        noisy = bool(arrays["noise_on"][t]) if "noise_on" in arrays else False
        text = f"{title} t={float(arrays['time'][t]):.1f}s" if "time" in arrays else title
        out.append(draw_label(arrays["image"][t], arrays["label"][t], arrays["action"][t] if noisy else None,
                              scale, text.strip() + (" noise" if noisy else "")))
    return out


def contact_sheet(rows: Sequence[Sequence[np.ndarray]], gap: int = 4) -> np.ndarray:
    """Tile frames: one row per episode (rows may be shorter; the rest is black)."""
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    sheet = np.zeros((len(rows) * (h + gap) - gap, cols * (w + gap) - gap, 3), np.uint8)
    for i, row in enumerate(rows):
        for j, frame in enumerate(row):
            sheet[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = frame
    return sheet


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an RGB image as PNG."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.ascontiguousarray(rgb[..., ::-1])):
        raise OSError(f"could not write '{path}'")
    return path


def write_mp4(path: Path, frames: Sequence[np.ndarray], fps: float) -> Path:
    """Write RGB frames as an H.264 MP4 (yuv420p: plays in browsers)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    h2, w2 = h - h % 2, w - w % 2  # yuv420p needs even sizes
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=max(1, round(fps)))
        stream.width, stream.height, stream.pix_fmt = w2, h2, "yuv420p"
        stream.options = {"crf": "20"}
        for frame in frames:
            video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h2, :w2]), format="rgb24")
            for packet in stream.encode(video):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def action_histograms(path: Path, labels: np.ndarray, actions: np.ndarray, scale: Sequence[float],
                      names: Sequence[str], units: Sequence[str], bins: int = 41, title: str = "") -> Path:
    """One panel per action axis: the labels and the executed actions, in physical units."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3.2), constrained_layout=True)
    for i, ax in enumerate(np.atleast_1d(axes)):
        edges = np.linspace(-scale[i], scale[i], bins + 1)
        ax.hist(actions[:, i] * scale[i], bins=edges, color="tab:orange", alpha=0.45, label="executed")
        ax.hist(labels[:, i] * scale[i], bins=edges, color="tab:green", alpha=0.7, label="label (expert)")
        ax.set_xlabel(f"{names[i]} ({units[i]})")
        ax.set_yscale("log")
        ax.set_title(f"{names[i]}: mean {np.mean(labels[:, i] * scale[i]):+.2f}, std {np.std(labels[:, i] * scale[i]):.2f}",
                     fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("steps")
    np.atleast_1d(axes)[-1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
