"""Deprecated: ``navlnn.nn`` was split into :mod:`navlnn.liquid` (wirings, CfC/LTC, kernels, ncps
conversion) and :mod:`navlnn.policies` (trunk, heads, policy, registry, checkpoint, export).

The old import paths keep working for one release, with a ``DeprecationWarning``: each old module
is the new module itself (``navlnn.nn.cfc is navlnn.liquid.cfc``), and ``navlnn.nn``'s own names
are those of ``navlnn.liquid``.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

MOVED = {
    "wirings": "navlnn.liquid.wirings",
    "wiring_plot": "navlnn.liquid.wiring_plot",
    "cfc": "navlnn.liquid.cfc",
    "ltc": "navlnn.liquid.ltc",
    "cells": "navlnn.liquid.cells",
    "recurrences": "navlnn.liquid.recurrences",
    "sequence": "navlnn.liquid.sequence",
    "kernels": "navlnn.liquid.kernels",
    "convert": "navlnn.liquid.convert",
    "perception": "navlnn.policies.trunk",
    "policy": "navlnn.policies.policy",
    "registry": "navlnn.policies.registry",
    "checkpoint": "navlnn.policies.checkpoint",
    "export": "navlnn.policies.export",
    "heads": "navlnn.policies.heads",
    "baselines": "navlnn.policies.heads",
}


def alias(old: str, new: str) -> ModuleType:
    """Make the module ``old`` the module ``new`` (with a DeprecationWarning) and return it."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; import {new} instead",
                  DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)
    sys.modules[old] = module
    return module


warnings.warn("navlnn.nn is deprecated and will be removed in the next release; import navlnn.liquid "
              "(wirings, CfC, LTC) or navlnn.policies (heads, policy, checkpoint, export) instead",
              DeprecationWarning, stacklevel=2)

from navlnn.liquid import *  # noqa: E402,F401,F403
from navlnn.liquid import __all__  # noqa: E402,F401
