"""Deprecated: ``known_keys`` moved to :mod:`navlnn.rollout.noise`, its lowest user. This name works
for one more release, with a ``DeprecationWarning``."""

import importlib
import warnings
from typing import Any

warnings.warn("navlnn.settings is deprecated and will be removed in the next release; "
              "import known_keys from navlnn.rollout.noise instead", DeprecationWarning, stacklevel=2)

__all__ = ["known_keys"]


def __getattr__(name: str) -> Any:
    """The moved names, from their new home (imported on first use)."""
    if name in __all__:
        return getattr(importlib.import_module("navlnn.rollout.noise"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
