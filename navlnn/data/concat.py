"""Several window datasets as one (DAgger trains on the expert data and every round's data)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from navlnn.data.loader import SequenceWindows


class ConcatWindows:
    """The windows of several :class:`SequenceWindows`, indexed one after the other."""

    def __init__(self, parts: Sequence[SequenceWindows]):
        if not parts:
            raise ValueError("ConcatWindows needs at least one window dataset")
        self.parts = list(parts)
        self.offsets = np.cumsum([0] + [len(p) for p in self.parts])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def batch(self, ids: np.ndarray) -> dict[str, Any]:
        """Windows ``ids`` (global indices) as tensors ``(len(ids), length, ...)``, in the order given."""
        import torch

        ids = np.asarray(ids, dtype=np.int64)
        part = np.searchsorted(self.offsets, ids, side="right") - 1
        pieces: dict[str, list] = {}
        order = []
        for k in np.unique(part):
            chosen = np.nonzero(part == k)[0]
            order.append(chosen)
            arrays = self.parts[k].batch_numpy(ids[chosen] - self.offsets[k])
            for name, arr in arrays.items():
                pieces.setdefault(name, []).append(arr)
        inverse = np.argsort(np.concatenate(order))
        return {name: torch.from_numpy(np.concatenate(arrs)[inverse]) for name, arrs in pieces.items()}

    def __getitem__(self, i: int) -> dict[str, Any]:
        return {k: v[0] for k, v in self.batch(np.array([i])).items()}

    def segments(self, windows_per_segment: int) -> np.ndarray:
        """The segments of every part (:meth:`SequenceWindows.segments`), their windows numbered globally."""
        rows = [part.segments(windows_per_segment) + np.array([offset, 0])
                for part, offset in zip(self.parts, self.offsets[:-1])]
        return np.concatenate(rows)

    def segment_batch(self, segments: np.ndarray) -> dict[str, Any]:
        """Segments (rows of :meth:`segments`) as one batch (:meth:`SequenceWindows.segment_batch`), in the order given."""
        import torch

        segments = np.asarray(segments, dtype=np.int64).reshape(-1, 2)
        part = np.searchsorted(self.offsets, segments[:, 0], side="right") - 1
        pieces = [self.parts[k].segment_batch(row[None] - np.array([self.offsets[k], 0]))
                  for k, row in zip(part, segments)]
        starts = np.cumsum([0] + [len(p["frames"]) for p in pieces])
        out = {name: torch.cat([p[name] for p in pieces]) for name in pieces[0] if name not in ("lengths", "index")}
        out["index"] = torch.cat([p["index"] + int(start) for p, start in zip(pieces, starts)])
        out["lengths"] = [n for p in pieces for n in p["lengths"]]
        return out
