"""Deprecated: the collector moved to :mod:`navlnn.rollout.collect` (collection runs rollouts, so it
belongs to the rollout layer). This name works for one more release, with a ``DeprecationWarning``;
it is the new module itself (``navlnn.data.collect is navlnn.rollout.collect``)."""

import importlib
import sys
import warnings

warnings.warn("navlnn.data.collect is deprecated and will be removed in the next release; "
              "import navlnn.rollout.collect instead", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("navlnn.rollout.collect")
