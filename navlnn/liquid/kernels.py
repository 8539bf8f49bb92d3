"""Compiled parts of the liquid core (``csrc/liquid_kernels.cpp``).

* The LTC recurrence as plain C++ loops over samples, steps, solver unfolds and synapses: the
  LTC's six solver iterations per step make even the hand-written PyTorch recurrence
  (:class:`navlnn.liquid.recurrences.LTCRecurrence`) spend its time dispatching small operations.
* The CfC recurrence's forward and backward loops, the same ATen operations as the Python loops
  of :class:`navlnn.liquid.recurrences.CfCRecurrence`, issued from C++.

The extension is compiled on first use
with :func:`torch.utils.cpp_extension.load` (about a minute, cached in ``TORCH_EXTENSIONS_DIR``
or ``~/.cache/torch_extensions``); without a C++ compiler, or with ``NAVLNN_NO_EXTENSION=1``,
navlnn uses the PyTorch recurrence and says so once.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sys
import time
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator, Optional, Tuple

import torch
from torch import Tensor

_SOURCE = Path(__file__).resolve().parent / "csrc" / "liquid_kernels.cpp"
_module: Optional[ModuleType] = None
_failed = False
_enabled = True


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Within this block, navlnn uses its PyTorch recurrences instead of the compiled kernels."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


def extension_name(source: Path = _SOURCE) -> str:
    """The compiled extension's name, one per source file location.

    torch builds an extension in a folder named after it and reruns its build when the source's
    path changes; with one name for all, two checkouts (or a checkout and an installed wheel) on one
    machine would rebuild each other's kernels, a minute each time a process loads them.
    """
    return "navlnn_liquid_kernels_" + hashlib.sha1(str(source).encode()).hexdigest()[:10]


STALE_LOCK_SECONDS = 600   # a build takes under a minute; a lock this old was left by a killed build


def _remove_stale_lock(name: str) -> bool:
    """Remove the build lock of extension ``name`` if a killed build left it (older than
    ``STALE_LOCK_SECONDS``); torch would otherwise wait for it forever. True if one was removed."""
    from torch.utils.cpp_extension import _get_build_directory   # where load() builds and locks

    lock = Path(_get_build_directory(name, verbose=False)) / "lock"
    try:
        if time.time() - lock.stat().st_mtime > STALE_LOCK_SECONDS:
            lock.unlink()
            warnings.warn(f"navlnn: removed a stale build lock left by an interrupted build: {lock}", RuntimeWarning,
                          stacklevel=3)
            return True
    except FileNotFoundError:
        pass
    return False


def load_kernels() -> Optional[ModuleType]:
    """The compiled extension, building it on first call; None if unavailable (reason warned once)
    or inside :func:`disabled`."""
    global _module, _failed
    if not _enabled:
        return None
    if _module is not None or _failed:
        return _module
    if os.environ.get("NAVLNN_NO_EXTENSION", "") not in ("", "0"):
        _failed = True
        return None
    # the ninja that pip installs with navlnn sits beside the interpreter, maybe not on PATH, and a
    # system ninja of another version may be: two versions record the build differently and rebuild
    # each other's kernels (half a minute) whenever processes alternate, so this one always comes first
    bin_dir = str(Path(sys.executable).parent)
    path = os.environ.get("PATH", "").split(os.pathsep)
    if (Path(bin_dir) / "ninja").is_file() or shutil.which("ninja") is None:
        if path[:1] != [bin_dir]:
            os.environ["PATH"] = os.pathsep.join([bin_dir, *path])
    try:
        from torch.utils.cpp_extension import load

        _remove_stale_lock(extension_name())
        _module = load(name=extension_name(), sources=[str(_SOURCE)], extra_cflags=["-O3"], verbose=False)
    except Exception as exc:  # no compiler, no ninja, headers missing: fall back, loudly once
        _failed = True
        warnings.warn(
            f"navlnn: the compiled liquid kernels are unavailable ({type(exc).__name__}: {str(exc)[:200]}); "
            "using the slower PyTorch recurrences. Install a C++ compiler and ninja to enable it.",
            RuntimeWarning,
            stacklevel=2,
        )
    return _module


class LTCKernel(torch.autograd.Function):
    """Autograd wrapper of the compiled recurrence (time-major tensors).

    ``offset`` (T, B, 2U) holds ``[gleak * vleak, cm_t + gleak + eps]``, ``cm`` (T, B, U) is
    ``cm / (dt / unfolds)``, ``x`` (T, B, I) the mapped inputs. Per sensory synapse ``m`` (source
    input ``s_src``, destination ``s_dst``): ``s_we = w * erev``, ``s_w``, ``s_sigma``, ``s_mu``; per
    internal synapse ``n``: ``we``, ``w``, ``sigma``, ``nsm = -sigma * mu``.
    Returns the states (T, B, U) at the end of each step.
    """

    @staticmethod
    def forward(ctx: Any, offset: Tensor, cm: Tensor, v0: Tensor, x: Tensor, s_we: Tensor, s_w: Tensor,
                s_sigma: Tensor, s_mu: Tensor, we: Tensor, w: Tensor, sigma: Tensor, nsm: Tensor, s_src: Tensor,
                s_dst: Tensor, src: Tensor, dst: Tensor, unfolds: int) -> Tensor:
        kernel = load_kernels()
        params = [p.contiguous() for p in (s_we, s_w, s_sigma, s_mu, we, w, sigma, nsm)]
        out, acts, den, vs = kernel.ltc_forward(offset, cm, v0.contiguous(), x, s_src, s_dst, *params[:4], src, dst,
                                                *params[4:], unfolds)
        ctx.save_for_backward(cm, x, s_src, s_dst, *params[:4], src, dst, *params[4:7], acts, den, vs)
        ctx.unfolds = unfolds
        return out

    @staticmethod
    def backward(ctx: Any, d_out: Tensor) -> Tuple[Optional[Tensor], ...]:
        cm, x, s_src, s_dst, s_we, s_w, s_sigma, s_mu, src, dst, we, w, sigma, acts, den, vs = ctx.saved_tensors
        kernel = load_kernels()
        d_offset, d_cm, d_v0, d_syn, d_x, d_sens = kernel.ltc_backward(
            d_out.contiguous(), cm, x, s_src, s_dst, s_we, s_w, s_sigma, s_mu, src, dst, we, w, sigma, acts, den, vs,
            ctx.unfolds,
        )
        return (d_offset, d_cm, d_v0, d_x, d_sens[0], d_sens[1], d_sens[2], d_sens[3],
                d_syn[0], d_syn[1], d_syn[2], d_syn[3], None, None, None, None, None)
