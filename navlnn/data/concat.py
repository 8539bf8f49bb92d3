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
