"""Expert demonstrations: the dataset format, the collector and the training loader.

- :mod:`navlnn.data.format`: the on-disk format (per-episode ``.npz`` plus ``manifest.json``).
- :mod:`navlnn.data.rollout`: one expert episode with injected noise.
- :mod:`navlnn.data.collect`: episodes over worker processes into a resumable folder.
- :mod:`navlnn.data.loader`: :class:`Demonstrations` and :class:`SequenceWindows` for training.
"""

from navlnn.data.format import FIELDS, DatasetError, load_episode, read_manifest
from navlnn.data.loader import Demonstrations, SequenceWindows

__all__ = ["FIELDS", "DatasetError", "Demonstrations", "SequenceWindows", "load_episode", "read_manifest"]
