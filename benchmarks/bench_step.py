"""What a training step costs against the matrix products it cannot avoid (issue 15's target).

    .venv/bin/python benchmarks/bench_step.py                    # (31, 3), float64 and float32
    .venv/bin/python benchmarks/bench_step.py --problems 13,4;101,2 --dtypes float64

For each (p, k) at the paper's width m = 2^(2k-2)(p-1), on all N = p^k inputs, in one run and
interleaved round by round (the machine is noisy; the ratios are what to read):
- `3 products`: three (N x m) @ (m x p) products in the training dtype, the floor of a step
  (forward H W, backward H^T G and G W^T);
- `margin`, `gd`, `adamw`: one step of each optimiser (constructions.training.methods, whose
  gradients come from the hand-written, chunked training.kernel);
- `margin-lbfgs`: one L-BFGS iteration of margin (its phase once the logits are confident),
  with the number of gradient evaluations its line search made per iteration;
- `autograd`: the step as it was before the kernel, for comparison: torch autograd through the
  plain forward pass (model.logits, gather hidden layer) of the margin objective.
Prints the median of the rounds in ms and each step's ratio to `3 products` (target <= 2 for the
default, margin, at (31, 3)).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch
from torch.nn import functional

from fourier_circuits.constructions.training import methods, model
from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.constructions.training.loop import auto_threads, thread_limit
from fourier_circuits.theory import Task, all_inputs, gamma_star, width_bound

#: Gradient evaluations of the margin-lbfgs stepper so far (its line search may take several).
EVALUATIONS = [0]


def timers(p: int, k: int, dtype: torch.dtype, workers: int) -> dict[str, Callable[[], object]]:
    m = width_bound(p, k)
    inputs = all_inputs(Task(p, k))
    n = len(inputs)
    batch = model.make_batch(inputs, p, device=torch.device("cpu"))
    generator = torch.Generator().manual_seed(0)
    U0, W0 = model.init_weights(m, k, p, scale=1.0, generator=generator)
    U0, W0 = U0.to(dtype), W0.to(dtype)
    H = torch.randn((n, m), generator=generator, dtype=torch.float64).to(dtype)
    G = torch.randn((n, p), generator=generator, dtype=torch.float64).to(dtype)

    def products() -> object:
        return (H @ W0, H.T @ G, G @ W0.T)

    steppers: dict[str, Callable[[], object]] = {"3 products": products}
    for name in ("margin", "gd", "adamw"):
        cfg = TrainConfig(p=p, k=k, optimizer=name, batch_size=n).resolved()
        method = methods.make_method(
            U0.clone(),
            W0.clone(),
            cfg,
            gamma_star=gamma_star(p, k),
            generator=generator,
            workers=workers,
        )
        counter = iter(range(10**9))
        steppers[name] = lambda method=method, counter=counter: method.step(next(counter), batch)

    # an L-BFGS iteration of margin (its phase after the hand-over): the direction with the
    # per-neuron H_0, then the line search's gradient evaluations (counted: usually one)
    cfg = TrainConfig(p=p, k=k, batch_size=n).resolved()
    lbfgs = methods.make_method(
        U0.clone(),
        W0.clone(),
        cfg,
        gamma_star=gamma_star(p, k),
        generator=generator,
        workers=workers,
    )
    assert isinstance(lbfgs, methods.MarginMethod)
    lbfgs.phase = "lbfgs"
    objective = lbfgs.objective

    def counted(batch: model.Batch) -> tuple[float, torch.Tensor, torch.Tensor]:
        EVALUATIONS[0] += 1
        return objective(batch)

    lbfgs.objective = counted  # type: ignore[method-assign]
    steppers["margin-lbfgs"] = lambda: lbfgs.step(0, batch)

    U = U0.clone().requires_grad_(True)
    W = W0.clone().requires_grad_(True)
    scale = 20.0 / gamma_star(p, k)

    def autograd() -> object:
        U.grad = W.grad = None
        z = model.logits(U, W, batch) * (scale / model.norm_power(U, W))
        loss = functional.cross_entropy(z, batch.labels)
        loss.backward()
        return loss

    steppers["autograd"] = autograd
    return steppers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", default="31,3", help="p,k;p,k;...")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="default: as training picks")
    args = parser.parse_args(argv)
    print(f"{'p':>3} {'k':>2} {'m':>5} {'N':>7} {'dtype':>7} {'threads':>7}  ms (x 3 products)")
    for problem in args.problems.split(";"):
        p, k = (int(x) for x in problem.split(","))
        m, n = width_bound(p, k), p**k
        threads = args.threads or auto_threads(n, m)
        for dtype_name in args.dtypes.split(","):
            dtype = model.torch_dtype(dtype_name)
            steppers = timers(p, k, dtype, threads)
            EVALUATIONS[0] = 0
            times: dict[str, list[float]] = {name: [] for name in steppers}
            for round_ in range(args.rounds + 1):  # round 0 warms up
                for name, run in steppers.items():
                    # as training runs them: the products on torch's threads, the steps on one
                    # torch thread and `threads` kernel workers; autograd on torch's threads
                    one = name in ("margin", "gd", "adamw", "margin-lbfgs")
                    with thread_limit(threads, torch_threads=1 if one else None):
                        start = time.perf_counter()
                        run()
                        if round_:
                            times[name].append(time.perf_counter() - start)
            floor = statistics.median(times["3 products"])
            cells = [
                f"{name} {1e3 * statistics.median(t):.1f}"
                + ("" if name == "3 products" else f" ({statistics.median(t) / floor:.2f})")
                for name, t in times.items()
            ]
            cells.append(
                f"margin-lbfgs evaluations a step {EVALUATIONS[0] / (args.rounds + 1):.1f}"
            )
            print(
                f"{p:>3} {k:>2} {m:>5} {n:>7} {dtype_name:>7} {threads:>7}  " + ", ".join(cells),
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
