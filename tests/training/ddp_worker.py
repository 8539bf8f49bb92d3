"""Run by torchrun in tests/training/test_ddp.py: two-process behaviour cloning with gloo."""

import sys
from pathlib import Path

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))
from synthetic_windows import NO_AUGMENT, Windows, small_policy  # noqa: E402

from navlnn.training.loop import TrainConfig, fit  # noqa: E402


def main() -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo")
    out = Path(sys.argv[1])
    cfg = TrainConfig(epochs=2, batch_size=4, lr=5e-3, warmup_steps=2, seed=1, augment=NO_AUGMENT)
    policy = small_policy()
    fit(policy, Windows(16), Windows(8, seed=1), cfg, out, progress=False)
    torch.save(policy.state_dict(), out / f"rank{dist.get_rank()}.pt")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
