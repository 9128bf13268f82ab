"""The paper's (97, 3) at width 1536 on one GPU: steps, seconds and margin ratio (issue 15).

    .venv/bin/python benchmarks/bench_gpu.py                         # (97, 3), float32 then float64
    .venv/bin/python benchmarks/bench_gpu.py --problems 31,3 --dtypes float64 --eval-every 50

Trains with the default optimiser ("margin") and settings on all of D_p (N = 912,673 at (97, 3))
on `--device` (default cuda), measuring with the theory module (float64, on the CPU) every
`--eval-every` steps, and prints one line per measurement on stderr and one row per run on
stdout: steps and seconds to margin ratio 0.99, the final ratio, coverage and median maximum
normalized power, steps and seconds in all (measurements included: they run on the CPU). Exits 2
at once when torch sees no CUDA device.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from fourier_circuits.constructions.trained import (
    MARGIN_RATIO_CLAIM,
    HistoryRecord,
    TrainConfig,
    train,
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="97,3", help="p,k;p,k;...")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("bench_gpu: torch sees no CUDA device; not run", file=sys.stderr)
        return 2
    if args.device == "cuda":
        print(f"device: {torch.cuda.get_device_name()}", flush=True)
    print("  p  k     m   dtype  steps@.99   s@.99   ratio  cover  power  steps       s")
    for problem in args.problems.split(";"):
        p, k = (int(x) for x in problem.split(","))
        for dtype in args.dtypes.split(","):
            config = TrainConfig(
                p=p,
                k=k,
                seed=args.seed,
                device=args.device,
                dtype=dtype,
                eval_every=args.eval_every,
                steps=args.steps,
            )
            start = time.perf_counter()

            def show(record: HistoryRecord, total: int, start: float = start) -> None:
                print(
                    f"  step {record.step}/{total} ratio {record.margin_ratio:.4f} "
                    f"{time.perf_counter() - start:.1f}s",
                    file=sys.stderr,
                    flush=True,
                )

            result = train(config, callback=show)
            hit = result.first_reaching(MARGIN_RATIO_CLAIM)
            final = result.final
            at = f"{hit.step:>9} {hit.seconds:>7.1f}" if hit else f"{'-':>9} {'-':>7}"
            print(
                f"{p:>3} {k:>2} {result.config.width:>5} {dtype:>7} {at} "
                f"{final.margin_ratio:>7.4f} {final.frequencies_covered:>6.2f} "
                f"{final.max_normalized_power_median:>6.4f} {result.steps:>6} "
                f"{result.seconds:>7.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
