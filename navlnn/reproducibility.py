"""What a training run's numbers depend on, and ``train.deterministic``: pinning what can be pinned.

The same ``navlnn train`` command in two processes on one machine gives tensor-equal checkpoints
(tested). Across machines it need not: PyTorch picks its CPU kernels by the instruction set it
finds (ATen's vectorised ops, oneDNN's convolutions, MKL's matrix products: AVX2 on one machine,
AVX-512 on another), and reductions split over threads add in an order that depends on the
thread count. Both change results in the last digits, and training amplifies the difference
(docs/training.md shows by how much).

``train.deterministic=true`` pins them: the instruction set of all three libraries to AVX2 (which
every x86-64 CPU of the last decade has), a fixed thread count, and PyTorch's deterministic
algorithms. The instruction set must be fixed before torch starts, so ``navlnn`` sets the
variables below when it sees the key on its command line (:func:`pin_environment`); a script
sets them itself. On a GPU the CUDA kernels are pinned as far as PyTorch allows
(``CUBLAS_WORKSPACE_CONFIG``, deterministic algorithms, no TF32); GPU and CPU runs never agree.

This module imports torch only inside functions, so the command line can call it before torch.
"""

from __future__ import annotations

import os
import platform
from typing import Any, Sequence

PINNED_ISA = "AVX2"
PINNED_ENV = {
    "ATEN_CPU_CAPABILITY": "avx2",        # ATen's vectorised CPU kernels
    "ONEDNN_MAX_CPU_ISA": PINNED_ISA,     # oneDNN (convolutions)
    "MKL_CBWR": "AVX2,STRICT",            # MKL's conditional numerical reproducibility, thread-count independent
    "OPENCV_CPU_DISABLE": "AVX512_SKX",   # OpenCV's AVX-512 dispatch (the augmentation)
    "CUBLAS_WORKSPACE_CONFIG": ":4096:8",  # deterministic cuBLAS
}
DEFAULT_THREADS = 2   # the thread count of a deterministic run that does not set `threads`


def deterministic_requested(argv: Sequence[str]) -> bool:
    """Whether a command line's overrides ask for ``train.deterministic=true``."""
    return any(arg.lstrip("+~").lower() in ("train.deterministic=true", "train.deterministic=1") for arg in argv)


def pin_environment() -> dict[str, str]:
    """Set the pinning variables this process has not set (a user's own value wins); returns them."""
    for key, value in PINNED_ENV.items():
        os.environ.setdefault(key, value)
    return {key: os.environ[key] for key in PINNED_ENV}


def make_deterministic(threads: int | None) -> int:
    """Deterministic algorithms and a fixed thread count for this process; returns the thread count.

    Raises ``ValueError`` when the instruction set was not pinned before torch started (the
    variables must be in the environment of the process).
    """
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    if os.environ.get("ATEN_CPU_CAPABILITY", "").upper() != PINNED_ISA or capability.upper() not in (PINNED_ISA,
                                                                                                       "DEFAULT"):
        raise ValueError(
            f"train.deterministic=true: PyTorch already runs {capability} kernels in this process; the instruction set "
            f"must be pinned before torch starts: run `navlnn train ... train.deterministic=true` (it does so) or set "
            + " ".join(f"{k}={v}" for k, v in PINNED_ENV.items()) + " in the environment")
    count = int(threads) if threads else DEFAULT_THREADS
    torch.set_num_threads(count)
    try:
        import cv2

        cv2.setNumThreads(1)   # the augmentation's sums in one order
    except ImportError:  # pragma: no cover - a dependency
        pass
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    return count


def cpu_model() -> str:
    """The CPU's model name (Linux), else what the platform module says."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: str = "cpu") -> dict[str, Any]:
    """What a run's numbers depend on: versions, threads, instruction sets, device (train_summary.json)."""
    import numpy
    import torch

    record: dict[str, Any] = {
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "pinned_env": {key: os.environ[key] for key in PINNED_ENV if key in os.environ},
        "device": str(device),
    }
    try:
        import cv2

        record["opencv"] = cv2.__version__
        record["opencv_threads"] = cv2.getNumThreads()
    except ImportError:  # pragma: no cover - a dependency
        pass
    if str(device).startswith("cuda") and torch.cuda.is_available():
        record["gpu"] = torch.cuda.get_device_name(torch.device(device))
        record["cuda"] = torch.version.cuda
    return record
