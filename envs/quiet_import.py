"""Import PyBullet without its build-time banner, which it writes to stderr from C on import.

A command's stderr is for its own messages (one line per error); the banner is noise there.
"""

from __future__ import annotations

import os
import sys
from types import ModuleType


def import_pybullet() -> ModuleType:
    """``import pybullet`` with file descriptor 2 pointed at /dev/null for the duration."""
    if sys.modules.get("pybullet") is not None:  # a None entry blocks the import: let it raise
        return sys.modules["pybullet"]
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, captured): import as is
        import pybullet

        return pybullet
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import pybullet
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return pybullet
