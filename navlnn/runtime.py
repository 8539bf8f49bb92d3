"""Process-level settings that make CPU training fast.

:func:`configure_process` applies both of the settings below; every ``navlnn`` command calls it.

Denormal numbers: activations of real camera frames (large uniform regions) drift into the
subnormal range after GELUs and convolutions, where x86 arithmetic is tens of times slower.
Flushing them to zero (``torch.set_flush_denormal``) changes values below 1e-38 only.

Memory:
Recurrent training on CPU allocates the same multi-megabyte buffers at every step. With glibc's
default settings, blocks above its (dynamic) mmap threshold are returned to the operating system
on free and page-faulted back in on the next allocation; on virtual machines a page fault costs
microseconds, which can add a third to a liquid network's training step. Keeping freed memory in
the heap avoids that, at the cost of the process keeping its peak memory.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

import torch

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX_BYTES = 32 * 1024 * 1024  # glibc's upper limit on 64-bit
_TRIM_THRESHOLD_BYTES = 1 << 30

_configured = False


def configure_process() -> None:
    """Flush denormals to zero and keep freed buffers for reuse (see the module docstring)."""
    torch.set_flush_denormal(True)
    configure_allocator()


def configure_allocator() -> bool:
    """Keep freed buffers of up to 32 MB in the heap for reuse (glibc only); True if applied.

    Idempotent. Call it once at the start of a training or benchmark process; the ``navlnn``
    command does. Safe to skip: only speed changes.
    """
    global _configured
    if _configured:
        return True
    if not sys.platform.startswith("linux"):
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_MAX_BYTES) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD_BYTES) == 1 and ok
    _configured = ok
    return ok
