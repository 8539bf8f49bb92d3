"""Deprecated: image perturbations and frame timing moved to :mod:`navlnn.rollout.perturbations`
(the rollout layer applies them). This name works for one more release, with a
``DeprecationWarning``; it is the new module itself."""

import importlib
import sys
import warnings

warnings.warn("navlnn.evaluation.stress is deprecated and will be removed in the next release; "
              "import navlnn.rollout.perturbations instead", DeprecationWarning, stacklevel=2)
sys.modules[__name__] = importlib.import_module("navlnn.rollout.perturbations")
