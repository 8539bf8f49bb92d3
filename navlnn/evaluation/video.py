"""Closed-loop videos: onboard view with VisualBackProp saliency, chase view, top-down map, traces.

Each video frame (``Layout``, 1280 x 720 by default) shows, for one step of one episode:

* top left: the frame the policy saw, enlarged, with its VisualBackProp saliency blended in;
* top right: the chase camera (``render_mode="rgb_array"``);
* bottom left: the top-down map (obstacle footprints, the sign and its approach zone, the path so far);
* bottom right: the commands ``[vx, vy, vz, yaw_rate]`` over time, and the activity of the
  policy's neurons (its state; for an NCP grouped as inter, command, motor) as a heat map.

:func:`write_mp4` writes H.264 (``yuv420p``, even sizes, ``faststart``): an MP4 browsers and W&B play.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from navlnn.evaluation.plots import box_corners, round_obstacles
from navlnn.rollout.flight import Flight
from navlnn.rollout.noise import known_keys

FONT = cv2.FONT_HERSHEY_SIMPLEX
BG = (24, 26, 30)
PANEL_BG = (36, 39, 45)
TEXT = (235, 235, 235)
MUTED = (150, 155, 165)
ACTION_COLORS = ((90, 170, 255), (255, 170, 60), (120, 220, 120), (235, 100, 200))  # vx, vy, vz, yaw_rate
ACTION_LABELS = ("vx", "vy", "vz", "yaw rate")  # as the command traces are labelled
ROBUST_RANGE = (5, 95)  # percentiles that span a neuron's colour scale
OUTCOME_COLORS = {"success": (80, 220, 110), "collision": (255, 80, 70), "out_of_bounds": (200, 120, 255),
                  "timeout": (255, 170, 60)}


@dataclass(frozen=True)
class Layout:
    """Sizes (px) and looks of a video frame (``layout:`` in ``conf/video.yaml``)."""

    width: int = 1280
    height: int = 720
    header: int = 34
    map_size: int = 340
    saliency_alpha: float = 0.6
    saliency_blur_px: float = 1.5
    map_margin_m: float = 3.0
    end_hold_s: float = 1.0
    font_scale: float = 0.5

    @classmethod
    def from_config(cls, cfg: Mapping | None) -> "Layout":
        cfg = known_keys("layout", cfg, cls.__dataclass_fields__)
        out = cls(**cfg)
        if out.width % 2 or out.height % 2:
            raise ValueError(f"layout: width and height must be even (H.264 yuv420p), got {out.width}x{out.height}")
        return out


def _text(img: np.ndarray, text: str, org: tuple[int, int], scale: float, color=TEXT, thick: int = 1,
          box: bool = False) -> None:
    """Anti-aliased text at ``org`` (baseline left); ``box``: on a dark translucent box (over images)."""
    if box:
        (w, h), base = cv2.getTextSize(text, FONT, scale, thick)
        x0, y0 = max(0, org[0] - 4), max(0, org[1] - h - 4)
        x1, y1 = min(img.shape[1], org[0] + w + 4), min(img.shape[0], org[1] + base + 2)
        img[y0:y1, x0:x1] = (img[y0:y1, x0:x1] * 0.45).astype(np.uint8)
    cv2.putText(img, text, org, FONT, scale, color, thick, cv2.LINE_AA)


def _fit(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """``image`` scaled to fit ``w x h`` (aspect kept), centred on the panel colour."""
    ih, iw = image.shape[:2]
    scale = min(w / iw, h / ih)
    nw, nh = max(1, int(round(iw * scale))), max(1, int(round(ih * scale)))
    interp = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    out = np.full((h, w, 3), PANEL_BG, np.uint8)
    y, x = (h - nh) // 2, (w - nw) // 2
    out[y:y + nh, x:x + nw] = cv2.resize(image, (nw, nh), interpolation=interp)
    return out


TARGET_OUTLINE = (80, 230, 255)  # the target mask's outline on the onboard view (option target_outline)


def outline_mask(panel: np.ndarray, mask: np.ndarray, thickness: int = 2) -> np.ndarray:
    """``panel`` (an image :func:`_fit` made of a frame) with the outline of ``mask`` (bool, the
    frame's size) drawn on it, scaled and centred as :func:`_fit` placed the frame."""
    h, w = panel.shape[:2]
    mh, mw = mask.shape
    scale = min(w / mw, h / mh)
    nw, nh = max(1, int(round(mw * scale))), max(1, int(round(mh * scale)))
    big = cv2.resize(mask.astype(np.uint8), (nw, nh), interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(big, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = panel.copy()
    cv2.drawContours(out, contours, -1, TARGET_OUTLINE, thickness, cv2.LINE_AA, offset=((w - nw) // 2, (h - nh) // 2))
    return out


def saliency_overlay(frame: np.ndarray, saliency: np.ndarray, alpha: float, blur_px: float = 0.0) -> np.ndarray:
    """``frame`` (RGB) with ``saliency`` (``[0, 1]``, same size) blended in as a heat map."""
    sal = np.clip(saliency, 0, 1).astype(np.float32)
    if blur_px > 0:  # display only: softens the transposed convolutions' checkerboard
        sal = cv2.GaussianBlur(sal, (0, 0), blur_px)
        sal = sal / max(float(sal.max()), 1e-6)
    heat = cv2.applyColorMap((sal * 255).astype(np.uint8), cv2.COLORMAP_INFERNO)[..., ::-1]
    weight = alpha * np.sqrt(sal)[..., None]
    return (frame * (1 - weight) + heat * weight).astype(np.uint8)


class TopDownMap:
    """The map of one episode: a background drawn once, the path and the drone drawn per step."""

    def __init__(self, episode: Flight, size: int, margin_m: float):
        pts = np.concatenate([episode.pos_world[:, :2], episode.target_pos_world[:, :2]])
        lo, hi = pts.min(0) - margin_m, pts.max(0) + margin_m
        side = float(max(hi - lo))
        self.centre = (lo + hi) / 2
        self.size = size
        self.scale = size / side  # px per m
        img = np.full((size, size, 3), (46, 58, 48), np.uint8)
        round_ = [(x, y, r) for x, y, r in round_obstacles(episode)
                  if abs(x - self.centre[0]) - r < side / 2 and abs(y - self.centre[1]) - r < side / 2]
        for x, y, r in round_:
            cv2.circle(img, self.px((x, y)), max(1, int(r * self.scale)), (78, 104, 80), -1, cv2.LINE_AA)
        for x, y, r in round_:  # outlines on top, so overlapping canopies stay readable
            cv2.circle(img, self.px((x, y)), max(1, int(r * self.scale)), (110, 140, 112), 1, cv2.LINE_AA)
        for box in episode.obstacle_boxes:
            corners = np.array([self.px(c) for c in box_corners(*box)], np.int32)
            cv2.fillPoly(img, [corners], (92, 96, 104), cv2.LINE_AA)
            cv2.polylines(img, [corners], True, (140, 146, 156), 1, cv2.LINE_AA)
        self.background = img
        self.episode = episode
        self._grid_m = _nice_step(side / 4)

    def px(self, xy) -> tuple[int, int]:
        """World (x, y) in m -> pixel (column, row); north (y) up."""
        u = (float(xy[0]) - self.centre[0]) * self.scale + self.size / 2
        v = self.size / 2 - (float(xy[1]) - self.centre[1]) * self.scale
        return int(round(u)), int(round(v))

    def draw(self, step: int, font_scale: float) -> np.ndarray:
        ep = self.episode
        img = self.background.copy()
        j = min(step, len(ep.target_pos_world) - 1)
        tx, ty = ep.target_pos_world[j, :2]
        yaw = float(ep.target_yaw[j])
        half = 0.5  # m, half the sign's width
        a = self.px((tx - half * math.sin(yaw), ty + half * math.cos(yaw)))
        b = self.px((tx + half * math.sin(yaw), ty - half * math.cos(yaw)))
        cv2.line(img, a, b, (255, 60, 50), max(2, int(0.15 * self.scale)), cv2.LINE_AA)
        radius = max(2, int(0.6 * self.scale))
        cv2.circle(img, self.px(ep.approach_world[j, :2]), radius, (255, 120, 110), 1, cv2.LINE_AA)
        path = np.array([self.px(p) for p in ep.pos_world[: step + 1, :2]], np.int32)
        cv2.polylines(img, [path.reshape(-1, 1, 2)], False, (255, 230, 90), 2, cv2.LINE_AA)
        x, y = ep.pos_world[step, :2]
        heading = float(ep.yaw[step])
        tip = self.px((x + 0.7 * math.cos(heading), y + 0.7 * math.sin(heading)))
        left = self.px((x + 0.35 * math.cos(heading + 2.5), y + 0.35 * math.sin(heading + 2.5)))
        right = self.px((x + 0.35 * math.cos(heading - 2.5), y + 0.35 * math.sin(heading - 2.5)))
        cv2.fillPoly(img, [np.array([tip, left, right], np.int32)], (255, 255, 255), cv2.LINE_AA)
        # scale bar
        bar = int(self._grid_m * self.scale)
        y0 = self.size - 12
        cv2.line(img, (10, y0), (10 + bar, y0), TEXT, 2)
        _text(img, f"{self._grid_m:g} m", (14 + bar, y0 + 4), 0.8 * font_scale, box=True)
        return img


def _nice_step(x: float) -> float:
    """The largest of 1, 2, 5 x 10^k not above ``x``."""
    power = 10 ** math.floor(math.log10(max(x, 1e-6)))
    return max(m * power for m in (1, 2, 5) if m * power <= x) if x >= power else power


class Traces:
    """Commands over time (lines) and neuron activity (heat map), revealed step by step."""

    def __init__(self, episode: Flight, width: int, height: int, groups: Sequence[tuple[str, int]],
                 font_scale: float):
        self.ep = episode
        self.w, self.h = width, height
        self.font_scale = font_scale
        self.left, self.right = 70, 12
        self.cmd_top, self.cmd_bottom = 22, int(height * 0.42)
        self.heat_top, self.heat_bottom = self.cmd_bottom + 26, height - 16
        self.steps = max(1, episode.steps)
        img = np.full((height, width, 3), PANEL_BG, np.uint8)
        _text(img, "commands", (8, 15), font_scale, MUTED)
        for i, (name, color) in enumerate(zip(ACTION_LABELS, ACTION_COLORS)):
            _text(img, name, (110 + 80 * i, 15), font_scale, color)
        for v, label in ((1, "+1"), (0, "0"), (-1, "-1")):
            y = self._cmd_y(v)
            cv2.line(img, (self.left, y), (width - self.right, y), (70, 74, 82) if v else (95, 100, 110), 1)
            _text(img, label, (self.left - 30, y + 4), 0.8 * font_scale, MUTED)
        state = episode.policy_state
        self.heat = None
        if state is not None and len(state):
            _text(img, "neuron activity (each neuron scaled to its range in the episode)", (8, self.heat_top - 8),
                  font_scale, MUTED)
            values = np.asarray(state, float).T  # (S, T)
            # each neuron over its own range (5th to 95th percentile: the start-up transient does not swamp it)
            low, high = np.percentile(values, ROBUST_RANGE, axis=1, keepdims=True)
            values = np.clip((values - low) / np.where(high > low, high - low, 1.0), 0.0, 1.0)
            colored = cv2.applyColorMap((values * 255).astype(np.uint8), cv2.COLORMAP_VIRIDIS)[..., ::-1]
            hh, ww = self.heat_bottom - self.heat_top, width - self.left - self.right
            self.heat = cv2.resize(colored, (ww, hh), interpolation=cv2.INTER_NEAREST)
            # group labels (inter, command, motor ...) along the left edge
            total = sum(n for _, n in groups) or values.shape[0]
            row = 0
            for name, n in groups:
                y0 = self.heat_top + int(hh * row / total)
                y1 = self.heat_top + int(hh * (row + n) / total)
                cv2.line(img, (self.left - 4, y0 + 1), (self.left - 4, y1 - 1), MUTED, 1)
                _text(img, name, (6, (y0 + y1) // 2 + 4), 0.75 * font_scale, MUTED)
                if row:
                    cv2.line(img, (self.left, y0), (width - self.right, y0), (20, 20, 20), 1)
                row += n
        self.background = img

    def _cmd_y(self, v: float) -> int:
        mid = (self.cmd_top + self.cmd_bottom) / 2
        half = (self.cmd_bottom - self.cmd_top) / 2 - 2
        return int(round(mid - v * half))

    def _x(self, t: int) -> int:
        return int(round(self.left + (self.w - self.left - self.right) * t / self.steps))

    def draw(self, step: int) -> np.ndarray:
        img = self.background.copy()
        upto = min(step + 1, self.ep.steps)
        if upto > 1:
            xs = [self._x(t) for t in range(upto)]
            for i, color in enumerate(ACTION_COLORS):
                pts = np.array([(x, self._cmd_y(float(v))) for x, v in zip(xs, self.ep.action[:upto, i])], np.int32)
                cv2.polylines(img, [pts.reshape(-1, 1, 2)], False, color, 2, cv2.LINE_AA)
        if self.heat is not None:
            cols = self._x(upto) - self.left
            if cols > 0:
                img[self.heat_top:self.heat_bottom, self.left:self.left + cols] = self.heat[:, :cols]
        x = self._x(min(step, self.ep.steps))
        cv2.line(img, (x, self.cmd_top), (x, self.heat_bottom), (200, 200, 200), 1)
        return img


def neuron_groups(policy) -> list[tuple[str, int]]:
    """Names and sizes of the state's neuron groups, in state order (an NCP: inter, command, motor)."""
    head = getattr(policy, "head", None)
    cell = getattr(head, "cell", None)
    wiring = getattr(cell, "wiring", None)
    size = int(getattr(policy, "state_size", 0))
    if wiring is not None and hasattr(cell, "state_neuron_ids"):
        ids = list(cell.state_neuron_ids)
        kinds = [_neuron_kind(wiring, i) for i in ids]
        groups: list[tuple[str, int]] = []
        for kind in kinds:
            if groups and groups[-1][0] == kind:
                groups[-1] = (kind, groups[-1][1] + 1)
            else:
                groups.append((kind, 1))
        rest = size - len(ids)
        return groups + ([("memory", rest)] if rest > 0 else [])
    return [("state", size)] if size else []


def _neuron_kind(wiring, neuron: int) -> str:
    fn = getattr(wiring, "get_type_of_neuron", None)
    return str(fn(neuron)) if fn is not None else "neuron"


def episode_frames(episode: Flight, saliency: Optional[np.ndarray], title: str, layout: Layout,
                   groups: Sequence[tuple[str, int]], fps: float, outline: bool = False) -> Iterable[np.ndarray]:
    """The video frames of one episode (one per step, then the final state held ``end_hold_s``);
    ``outline``: the target's pixel mask outlined on the onboard view (``episode.target_mask``)."""
    lw = layout
    top_h = (lw.width // 2) * 9 // 16  # two 16:9 views side by side
    half_w = lw.width // 2
    bottom_h = lw.height - lw.header - top_h
    map_size = min(lw.map_size, bottom_h)
    top_down = TopDownMap(episode, map_size, lw.map_margin_m)
    traces = Traces(episode, lw.width - map_size, bottom_h, groups, lw.font_scale)
    color = OUTCOME_COLORS.get(episode.outcome, TEXT)
    hold = int(round(lw.end_hold_s * fps))
    last = episode.steps - 1
    for step in list(range(episode.steps + 1)) + [episode.steps] * hold:
        frame = np.full((lw.height, lw.width, 3), BG, np.uint8)
        i = min(step, last)
        onboard = episode.images[i]
        if saliency is not None:
            onboard = saliency_overlay(onboard, saliency[i], lw.saliency_alpha, lw.saliency_blur_px)
        panel = _fit(onboard, half_w, top_h)
        if outline and episode.target_mask is not None:
            panel = outline_mask(panel, episode.target_mask[i])
        frame[lw.header:lw.header + top_h, :half_w] = panel
        if episode.chase is not None:
            frame[lw.header:lw.header + top_h, half_w:2 * half_w] = _fit(episode.chase[min(step, len(episode.chase) - 1)],
                                                                        half_w, top_h)
        y = lw.header + top_h
        frame[y:y + map_size, :map_size] = top_down.draw(step, lw.font_scale)
        frame[y:y + bottom_h, map_size:map_size + traces.w] = traces.draw(step)
        s = lw.font_scale
        _text(frame, "onboard camera + VisualBackProp saliency" if saliency is not None else "onboard camera",
              (10, lw.header + 20), s, box=True)
        if episode.chase is not None:
            _text(frame, "chase camera", (half_w + 10, lw.header + 20), s, box=True)
        _text(frame, "top view", (10, y + 20), s, box=True)
        t = float(episode.time_s[min(step, len(episode.time_s) - 1)])
        _text(frame, title, (10, 23), 1.1 * s)
        status = f"t = {t:4.1f} s   distance {episode.distance_to_approach[min(step, len(episode.time_s) - 1)]:4.1f} m"
        _text(frame, status, (lw.width - 330, 23), 1.1 * s, MUTED)
        if step >= episode.steps:
            label = episode.outcome.replace("_", " ").upper()
            size = cv2.getTextSize(label, FONT, 2.2 * s * 2, 3)[0]
            org = (half_w // 2 - size[0] // 2, lw.header + top_h // 2 + size[1] // 2)
            _text(frame, label, org, 2.2 * s * 2, color, 3, box=True)
        yield frame


def write_mp4(path: Path, frames: Iterable[np.ndarray], fps: float, crf: int = 20) -> Path:
    """RGB frames as H.264 MP4: yuv420p, even sizes (cropped by a pixel if odd), ``faststart`` (moov first)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    container = av.open(str(path), mode="w", options={"movflags": "+faststart"})
    stream = None
    count = 0
    try:
        for frame in frames:
            if stream is None:
                h, w = frame.shape[:2]
                stream = container.add_stream("libx264", rate=max(1, round(fps)))
                stream.width, stream.height, stream.pix_fmt = w - w % 2, h - h % 2, "yuv420p"
                stream.options = {"crf": str(int(crf)), "preset": "medium"}
            video = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:stream.height, :stream.width]), format="rgb24")
            for packet in stream.encode(video):
                container.mux(packet)
            count += 1
        if stream is None:
            raise ValueError(f"{path}: no frames to write")
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return path


def probe_mp4(path: Path) -> dict:
    """Codec, pixel format, size, frame count and rate of an MP4, and whether its index comes first."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        info = {"codec": stream.codec_context.name, "pix_fmt": stream.codec_context.pix_fmt,
                "width": stream.codec_context.width, "height": stream.codec_context.height, "frames": frames,
                "fps": float(stream.average_rate) if stream.average_rate else math.nan}
    info["faststart"] = _moov_before_mdat(Path(path))
    return info


def _moov_before_mdat(path: Path) -> bool:
    """Whether the top-level ``moov`` box precedes ``mdat`` (the player can start before the download ends)."""
    order = []
    with open(path, "rb") as f:
        while True:
            head = f.read(8)
            if len(head) < 8:
                break
            size, kind = int.from_bytes(head[:4], "big"), head[4:].decode("latin-1")
            order.append(kind)
            if size == 1:
                size = int.from_bytes(f.read(8), "big") - 8
            elif size == 0:
                break
            f.seek(size - 8, 1)
    return "moov" in order and "mdat" in order and order.index("moov") < order.index("mdat")
