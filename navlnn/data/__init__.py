"""Expert demonstrations: the dataset format and the training loader (the collector that writes
datasets runs rollouts, so it is :mod:`navlnn.rollout.collect`).

- :mod:`navlnn.data.format`: the on-disk format (per-episode ``.npz`` plus ``manifest.json``).
- :mod:`navlnn.data.loader`: :class:`Demonstrations` and :class:`SequenceWindows` for training.
"""

from navlnn.data.format import FIELDS, DatasetError, load_episode, read_manifest
from navlnn.data.loader import Demonstrations, SequenceWindows

__all__ = ["FIELDS", "DatasetError", "Demonstrations", "SequenceWindows", "load_episode", "read_manifest"]
