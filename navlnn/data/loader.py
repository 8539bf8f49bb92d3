"""Reading a demonstrations dataset for training: checked, in memory, in sequence windows.

    demos = Demonstrations("outputs/collect/summer-fly_to_target-seed0/data", camera=(72, 128))
    windows = SequenceWindows(demos, length=16, stride=4)
    for batch in windows.batches(batch_size=32, seed=0):
        batch["image"]   # uint8 tensor (32, 16, 72, 128, 3)
        batch["label"]   # float32 tensor (32, 16, 4)

Every problem (a missing or corrupt file, another camera size or action space than expected,
an unknown field) raises :class:`~navlnn.data.format.DatasetError` (a ``ValueError``) naming
the file and the problem.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from navlnn.data.format import (
    ACTION_NAMES,
    FIELDS,
    MANIFEST,
    DatasetError,
    check_arrays,
    load_episode,
    read_manifest,
)

DEFAULT_FIELDS = ("image", "label", "dt")
MEMORY_SHARE = 0.5  # in-memory when the decoded data take at most this share of the available memory
LAZY_CACHE_EPISODES = 64  # decoded episodes kept when the dataset does not fit in memory


def available_memory() -> int:
    """Bytes of memory available to this process now (Linux), else total physical memory."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class Demonstrations:
    """The episodes of one dataset folder, checked against what a training run expects.

    ``fields``: the per-step arrays to load (see ``manifest.json``'s ``fields``).
    ``camera``: the expected image size ``(height, width)``; ``action_space``: the expected
    action space (a ``gymnasium.spaces.Box``, or a mapping with any of ``names``, ``low``,
    ``high``, ``scale`` as in the manifest). ``outcomes``: keep only episodes with these
    outcomes (``"success"``, ``"collision"``, ``"out_of_bounds"``, ``"timeout"``); ``episodes``:
    keep only these indices. ``memory_limit``: bytes of decoded data kept in memory (default:
    half the available memory); a larger dataset is read episode by episode on demand.
    """

    def __init__(self, folder: str | Path, fields: Sequence[str] = DEFAULT_FIELDS, *,
                 camera: Sequence[int] | None = None, action_space: Any = None,
                 outcomes: Iterable[str] | None = None, episodes: Iterable[int] | None = None,
                 allow_incomplete: bool = False, memory_limit: int | None = None):
        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.path = self.folder / MANIFEST
        self.fields = tuple(fields)
        unknown = [f for f in self.fields if f not in self.manifest["fields"]]
        if unknown:
            raise DatasetError(f"unknown field(s) {', '.join(map(repr, unknown))} for the dataset '{self.path}'; "
                               f"its fields are: {', '.join(self.manifest['fields'])}")
        if camera is not None:
            self.check_camera(camera)
        if action_space is not None:
            self.check_action_space(action_space)
        if not self.manifest.get("complete", False) and not allow_incomplete:
            raise DatasetError(f"'{self.path}': the collection is incomplete ({len(self.manifest['episodes'])} of "
                               f"{self.manifest.get('episodes_requested')} episodes); rerun the same `navlnn collect` "
                               "command to finish it, or pass allow_incomplete=True to use what is there")
        rows = self.manifest["episodes"]
        if outcomes is not None:
            keep = set(outcomes)
            bad = keep - {"success", "collision", "out_of_bounds", "timeout"}
            if bad:
                raise ValueError(f"unknown outcome(s) {sorted(bad)}; valid: success, collision, out_of_bounds, timeout")
            rows = [r for r in rows if r["outcome"] in keep]
        if episodes is not None:
            wanted = [int(i) for i in episodes]
            by_index = {r["index"]: r for r in rows}
            missing = [i for i in wanted if i not in by_index]
            if missing:
                raise DatasetError(f"'{self.path}' has no episode(s) {missing[:10]} (among those selected)")
            rows = [by_index[i] for i in wanted]
        if not rows:
            raise DatasetError(f"'{self.path}': no episodes selected")
        self.episodes = rows
        self.steps = np.array([int(r["steps"]) for r in rows], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.steps)])
        self.schema = {f: self.manifest["fields"][f] for f in self.fields}
        self.bytes_per_step = sum(_bytes_per_step(s) for s in self.schema.values())
        limit = int(MEMORY_SHARE * available_memory()) if memory_limit is None else int(memory_limit)
        self.in_memory = int(self.offsets[-1]) * self.bytes_per_step <= limit
        self.arrays: dict[str, np.ndarray] = {}
        self._cache: OrderedDict[int, dict[str, np.ndarray]] = OrderedDict()
        if self.in_memory:
            self._load_all()

    # ------------------------------------------------------------------ checks

    @property
    def camera(self) -> tuple[int, int]:
        """Image size ``(height, width)`` of the dataset."""
        cam = self.manifest["camera"]
        return int(cam["height"]), int(cam["width"])

    def check_camera(self, camera: Sequence[int]) -> None:
        """Raise unless the dataset's images are ``(height, width)``."""
        h, w = (int(v) for v in camera)
        if self.camera != (h, w):
            dh, dw = self.camera
            raise DatasetError(f"'{self.path}': the dataset was recorded with a {dw}x{dh} camera (width x height), "
                               f"this run expects {w}x{h}; collect it again with drone.camera.width={w} "
                               f"drone.camera.height={h}, or set the run's camera to {dw}x{dh}")

    def check_action_space(self, expected: Any) -> None:
        """Raise unless the dataset's action space matches ``expected`` (Box or mapping)."""
        have = self.manifest["action_space"]
        if hasattr(expected, "low") and hasattr(expected, "high"):
            want = {"low": np.asarray(expected.low, float).tolist(), "high": np.asarray(expected.high, float).tolist()}
        elif isinstance(expected, Mapping):
            want = {k: expected[k] for k in ("names", "low", "high", "scale") if k in expected}
        else:
            raise TypeError(f"action_space must be a gymnasium Box or a mapping, got {type(expected).__name__}")
        for key, value in want.items():
            mine = have.get(key)
            same = (list(mine) == list(value)) if key == "names" else (
                mine is not None and len(mine) == len(value) and np.allclose(mine, value))
            if not same:
                raise DatasetError(f"'{self.path}': the dataset's action space has {key}={mine}, this run expects "
                                   f"{key}={list(value)}; collect the data again with the run's drone config "
                                   f"(actions are [{', '.join(ACTION_NAMES)}] scaled by control.max_speed_* and "
                                   "max_yaw_rate)")

    # ------------------------------------------------------------------ data

    def _file(self, k: int) -> Path:
        return self.folder / self.episodes[k]["file"]

    def _read(self, k: int) -> dict[str, np.ndarray]:
        path = self._file(k)
        if not path.is_file():
            raise DatasetError(f"'{path}' is listed in '{self.path}' but missing; rerun the `navlnn collect` command "
                               "that made the dataset to record it again")
        arrays = load_episode(path, self.fields, codec=self.manifest["image_codec"], schema=self.schema)
        steps = check_arrays(path, arrays, self.schema)
        if steps != int(self.steps[k]):
            raise DatasetError(f"'{path}' has {steps} steps, '{self.path}' says {int(self.steps[k])}; "
                               "the file and the manifest disagree, rerun `navlnn collect`")
        return arrays

    def _load_all(self) -> None:
        total = int(self.offsets[-1])
        for name, spec in self.schema.items():
            self.arrays[name] = np.empty((total, *spec["shape"][1:]), dtype=spec["dtype"])
        for k in range(len(self.episodes)):
            arrays = self._read(k)
            lo, hi = self.offsets[k], self.offsets[k + 1]
            for name in self.fields:
                self.arrays[name][lo:hi] = arrays[name]

    def episode(self, k: int) -> dict[str, np.ndarray]:
        """The arrays of the ``k``-th selected episode."""
        if self.in_memory:
            lo, hi = self.offsets[k], self.offsets[k + 1]
            return {name: arr[lo:hi] for name, arr in self.arrays.items()}
        if k in self._cache:
            self._cache.move_to_end(k)
            return self._cache[k]
        arrays = self._read(k)
        self._cache[k] = arrays
        if len(self._cache) > LAZY_CACHE_EPISODES:
            self._cache.popitem(last=False)
        return arrays

    def __len__(self) -> int:
        return len(self.episodes)

    def windows(self, length: int, stride: int = 1, cover_end: bool = True, pad_short: bool = False) -> np.ndarray:
        """``(N, 2)`` int64 array of (episode, first step) of every window of ``length`` steps.

        Windows start every ``stride`` steps; with ``cover_end`` the last window of each episode
        ends on its last step. An episode shorter than ``length`` gives no window, or with
        ``pad_short`` one window from its first step (padded by :class:`SequenceWindows`).
        """
        if length < 1 or stride < 1:
            raise ValueError(f"window length and stride must be at least 1, got length={length}, stride={stride}")
        longest = int(self.steps.max()) if len(self.steps) else 0
        if length > longest:  # no full window anywhere (with pad_short: all padding, a mistake)
            raise DatasetError(f"'{self.path}': no episode has {length} steps (the longest has {longest}); "
                               "use a shorter window length")
        rows = []
        for k, steps in enumerate(self.steps):
            if steps < length:
                if pad_short and steps > 0:
                    rows.append(np.array([[k, 0]]))
                continue
            starts = np.arange(0, steps - length + 1, stride)
            if cover_end and starts[-1] != steps - length:
                starts = np.append(starts, steps - length)
            rows.append(np.stack([np.full(len(starts), k), starts], axis=1))
        return np.concatenate(rows).astype(np.int64)


def _bytes_per_step(spec: Mapping) -> int:
    return int(np.dtype(spec["dtype"]).itemsize * math.prod(int(d) for d in spec["shape"][1:]))


class SequenceWindows:
    """Fixed-length sequence windows of a :class:`Demonstrations` (a map-style torch dataset).

    ``windows[i]`` is a dict of tensors of shape ``(length, ...)``; :meth:`batch` gathers many
    windows at once (``(B, length, ...)``) and :meth:`batches` iterates over an epoch.

    With ``pad_short`` an episode shorter than ``length`` gives one window, its last step repeated
    to the full length, and every batch holds ``mask`` (bool ``(B, length)``, False on the repeats)
    so the loss skips them; the policies are causal, so the padding never changes a valid step's
    output. Without it such episodes are left out and ``mask`` is absent.
    """

    def __init__(self, demos: Demonstrations, length: int, stride: int = 1, cover_end: bool = True,
                 pad_short: bool = False):
        self.demos = demos
        self.length = int(length)
        self.stride = int(stride)
        self.pad_short = bool(pad_short)
        self.index = demos.windows(self.length, self.stride, cover_end, self.pad_short)
        self._steps = np.arange(self.length)
        self._global_start = demos.offsets[self.index[:, 0]] + self.index[:, 1]
        self._valid = np.minimum(self.length, demos.steps[self.index[:, 0]] - self.index[:, 1]).astype(np.int64)

    @property
    def padded_windows(self) -> int:
        """How many windows are padded (their episode is shorter than the window)."""
        return int((self._valid < self.length).sum())

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[0] for k, v in self.batch(np.array([i])).items()}

    def batch_numpy(self, ids: np.ndarray, fields: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Windows ``ids`` as numpy arrays of shape ``(len(ids), length, ...)`` (``fields``: a subset)."""
        ids = np.asarray(ids, dtype=np.int64)
        demos = self.demos
        fields = demos.fields if fields is None else tuple(fields)
        valid = self._valid[ids]
        steps = np.minimum(self._steps[None, :], valid[:, None] - 1)  # a short window repeats its last step
        if demos.in_memory:
            rows = (self._global_start[ids][:, None] + steps).ravel()
            out = {name: np.take(demos.arrays[name], rows, axis=0).reshape(len(ids), self.length,
                                                                           *demos.arrays[name].shape[1:])
                   for name in fields}
        else:
            lists: dict[str, list] = {name: [] for name in fields}
            for (k, start), take in zip(self.index[ids], steps):
                arrays = demos.episode(int(k))
                for name in fields:
                    lists[name].append(arrays[name][start + take])
            out = {name: np.stack(v) for name, v in lists.items()}
        if self.pad_short:
            out["mask"] = self._steps[None, :] < valid[:, None]
        return out

    def segments(self, windows_per_segment: int) -> np.ndarray:
        """``(S, 2)`` int64: the first window and the number of windows of each segment.

        A segment is a run of up to ``windows_per_segment`` consecutive windows of one episode:
        its frames cover all of them once, so a training step that puts a segment's frames
        through the perception trunk pays for each frame once however many windows share it.
        """
        if int(windows_per_segment) < 1:
            raise ValueError(f"train.segment_windows: must be >= 1, got {windows_per_segment}")
        k = int(windows_per_segment)
        rows = []
        episodes = self.index[:, 0]
        bounds = np.flatnonzero(np.diff(episodes)) + 1
        for first, stop in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [len(episodes)]])):
            for lo in range(int(first), int(stop), k):
                rows.append((lo, min(k, int(stop) - lo)))
        return np.asarray(rows, dtype=np.int64).reshape(-1, 2)

    def segment_batch(self, segments: np.ndarray) -> dict[str, Any]:
        """Segments (rows of :meth:`segments`) as one training batch of tensors.

        ``frames`` uint8 ``(N, H, W, 3)``: each segment's frames once, segment after segment;
        ``lengths``: frames per segment; ``index`` int64 ``(W, length)``: where each step of each
        of the segments' ``W`` windows is in ``frames``; ``label``, ``dt`` (and ``mask``) of the
        windows, as :meth:`batch` gives them. With one window per segment, ``frames`` is exactly
        ``batch(...)["image"]`` flattened.
        """
        import torch

        segments = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
        demos, T = self.demos, self.length
        window_ids, frame_rows, lengths, index = [], [], [], []
        offset = 0
        for first, count in segments:
            ids = np.arange(first, first + count)
            k, start = self.index[first]
            span = int(self.index[ids[-1], 1] - start) + T
            last = int(demos.steps[k]) - 1 - int(start)          # a short window repeats its last step
            steps = np.minimum(np.arange(span), last)
            frame_rows.append((int(k), int(start), steps))
            index.append(offset + (self.index[ids, 1] - start)[:, None] + self._steps[None, :])
            window_ids.append(ids)
            lengths.append(span)
            offset += span
        if demos.in_memory:
            rows = np.concatenate([demos.offsets[k] + start + steps for k, start, steps in frame_rows])
            frames = np.take(demos.arrays["image"], rows, axis=0)
        else:
            frames = np.concatenate([demos.episode(k)["image"][start + steps] for k, start, steps in frame_rows])
        others = [f for f in demos.fields if f != "image"]
        out = {name: torch.from_numpy(arr) for name, arr in
               self.batch_numpy(np.concatenate(window_ids), others).items()}
        out.update(frames=torch.from_numpy(frames), lengths=lengths,
                   index=torch.from_numpy(np.concatenate(index).astype(np.int64)))
        return out

    def batch(self, ids: np.ndarray) -> dict[str, Any]:
        """Windows ``ids`` as torch tensors of shape ``(len(ids), length, ...)``."""
        import torch

        return {name: torch.from_numpy(arr) for name, arr in self.batch_numpy(ids).items()}

    def batches(self, batch_size: int, shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> Iterator[dict]:
        """One epoch of batches; the order depends only on ``seed``."""
        order = np.random.default_rng(seed).permutation(len(self)) if shuffle else np.arange(len(self))
        stop = len(order) - (len(order) % batch_size if drop_last else 0)
        for lo in range(0, stop, batch_size):
            yield self.batch(order[lo:lo + batch_size])


__all__ = ["Demonstrations", "SequenceWindows", "DEFAULT_FIELDS", "available_memory", "FIELDS"]
