"""Speed of the liquid core against the ncps reference and a torch LSTM, on the same inputs.

Times, in one process and interleaved round by round (so machine noise hits every model alike):

* a training step: forward + backward, B=32, T=64, 64 input features, NCP wiring with
  18 inter / 12 command / 4 motor neurons (AutoNCP(34, 4), as in the MIT drone work);
* one closed-loop step at batch 1 with the state carried, under ``torch.inference_mode``.

Prints medians, the ratio of ncps's time to ours, and the targets. Run:

    python experiments/bench_liquid.py            # full run (~1-2 minutes)
    python experiments/bench_liquid.py --quick    # fewer repeats
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import torch
from torch import nn

from navlnn.runtime import configure_allocator


def _median_ms(fns: dict[str, Callable[[], None]], rounds: int, warmup: int, inner: int = 1) -> dict[str, float]:
    """Median over rounds of the mean time of ``inner`` back-to-back calls; models interleaved per round."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return {name: 1e3 * statistics.median(ts) for name, ts in times.items()}


def build_models(input_size: int, units: int, motor: int, seed: int) -> dict[str, nn.Module]:
    import ncps.torch as nt
    import ncps.wirings as nw

    from navlnn.liquid import from_ncps

    torch.manual_seed(seed)
    ref_cfc = nt.CfC(input_size, nw.AutoNCP(units, motor, seed=seed), batch_first=True)
    ref_ltc = nt.LTC(input_size, nw.AutoNCP(units, motor, seed=seed), batch_first=True)
    return {
        "navlnn CfC (NCP)": from_ncps(ref_cfc),
        "ncps CfC (NCP)": ref_cfc,
        "navlnn LTC (NCP)": from_ncps(ref_ltc),
        "ncps LTC (NCP)": ref_ltc,
        "torch LSTM (64)": nn.LSTM(input_size, 64, batch_first=True),
    }


def train_step_fn(model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def fn() -> None:
        model.zero_grad(set_to_none=True)
        y, _ = model(x)
        y.square().mean().backward()

    return fn


def infer_step_fn(name: str, model: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    state: list = [None]
    if name.startswith("navlnn"):
        def fn() -> None:
            with torch.inference_mode():
                _, state[0] = model.step(x, state[0])
    else:
        xs = x.unsqueeze(1)

        def fn() -> None:
            with torch.inference_mode():
                _, state[0] = model(xs, state[0])
    return fn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: one core)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--default-malloc", action="store_true",
                        help="keep glibc's default allocator settings (see navlnn.runtime.configure_allocator)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    allocator = "default glibc malloc" if args.default_malloc else (
        "heap-reusing malloc" if configure_allocator() else "default malloc (tuning unavailable)")
    batch, steps, input_size = 32, 64, 64
    models = build_models(input_size, units=34, motor=4, seed=args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    x_train = torch.randn(batch, steps, input_size, generator=gen)
    x_step = torch.randn(1, input_size, generator=gen)

    rounds_train = 5 if args.quick else 15
    rounds_step = 20 if args.quick else 100
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {allocator}, same for all models; medians over "
          f"{rounds_train} training rounds and {rounds_step} inference rounds "
          f"(of 50 steps each), models interleaved")
    print("training step: forward+backward, B=32, T=64, input 64; NCP = AutoNCP(34, 4): 18 inter, 12 command, 4 motor")
    train = _median_ms({n: train_step_fn(m, x_train) for n, m in models.items()}, rounds_train, warmup=2)
    step = _median_ms({n: infer_step_fn(n, m, x_step) for n, m in models.items()}, rounds_step, warmup=50, inner=50)

    header = f"{'model':<20} {'train step (ms)':>16} {'vs ncps':>8} {'1 step B=1 (us)':>16} {'vs ncps':>8}"
    print(header)
    print("-" * len(header))
    for name in models:
        family = "CfC" if "CfC" in name else "LTC" if "LTC" in name else None
        ref = f"ncps {family} (NCP)" if family else None
        tr = f"{train[ref] / train[name]:7.1f}x" if ref else f"{'':>8}"
        st = f"{step[ref] / step[name]:7.1f}x" if ref else f"{'':>8}"
        print(f"{name:<20} {train[name]:16.2f} {tr} {1e3 * step[name]:16.1f} {st}")
    cfc_ratio = train["ncps CfC (NCP)"] / train["navlnn CfC (NCP)"]
    ltc_ratio = train["ncps LTC (NCP)"] / train["navlnn LTC (NCP)"]
    cfc_step_us = 1e3 * step["navlnn CfC (NCP)"]
    print()
    print(f"target: CfC training step >= 8x ncps   -> {cfc_ratio:.1f}x  {'met' if cfc_ratio >= 8 else 'NOT met'}")
    print(f"target: LTC training step >= 5x ncps   -> {ltc_ratio:.1f}x  {'met' if ltc_ratio >= 5 else 'NOT met'}")
    print(f"target: CfC step at B=1 < 100 us      -> {cfc_step_us:.0f} us  {'met' if cfc_step_us < 100 else 'NOT met'}")
    print(f"navlnn CfC training step vs torch LSTM(64): {train['navlnn CfC (NCP)'] / train['torch LSTM (64)']:.1f}x the time")


if __name__ == "__main__":
    main()
