"""Issue 17's d-doshi case, and `inspect DIR` against one CLI process per file.

    .venv/bin/python benchmarks/bench_foreign.py              # about a minute
    .venv/bin/python benchmarks/bench_foreign.py --json

1. Trains d-doshi/Grokking's `fcn` (fc1 = Linear(2p, N, bias=False), x**2, fc2 = Linear(N, p,
   bias=False); their init) with their settings: AdamW lr 1e-2, betas (0.9, 0.98), weight decay
   5, MSE against one-hot labels, full batch, 50% of D_p, at p = 23, N = 500, float32; saves
   CHECKPOINTS state dicts as users do (`torch.save(model.state_dict(), f)`) along the way.
2. `fourier-circuits inspect` on the last one (one process): accuracy over D_p, margin ratio,
   median maximum normalized power, coverage, the claims it checks and its exit status; the
   test accuracy from the torch model itself for comparison.
3. The batch figure: `inspect DIR --json` over all checkpoints in one process, against one
   `inspect FILE --json` process per checkpoint (sequential); the ratio of the wall times.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional

CLI = str(Path(sys.executable).with_name("fourier-circuits"))


class fcn(nn.Module):  # noqa: N801  d-doshi/Grokking utils/models.py (dropout 0, power 2)
    def __init__(self, in_size: int, h_size: int, out_size: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_size, h_size, bias=False)
        self.fc2 = nn.Linear(h_size, out_size, bias=False)
        nn.init.normal_(self.fc1.weight, mean=0.0, std=0.25**0.5 / np.power(2 * h_size, 1 / 3))
        nn.init.normal_(self.fc2.weight, mean=0.0, std=0.25**0.5 / np.power(2 * h_size, 1 / 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x.flatten(1)) ** 2)


def train(p: int, width: int, steps: int, checkpoints: int, directory: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    pairs = [(i, j) for i in range(p) for j in range(p)]
    random.seed(seed)
    random.shuffle(pairs)
    X = torch.tensor(pairs)
    Y = X.sum(dim=1) % p
    X1 = functional.one_hot(X, p).float()
    n_train = len(pairs) // 2
    model = fcn(2 * p, width, p)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=5.0, betas=(0.9, 0.98))
    target = functional.one_hot(Y[:n_train], p).float()
    every = steps // checkpoints
    start = time.perf_counter()
    for step in range(1, steps + 1):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(model(X1[:n_train]), target)
        loss.backward()
        optimizer.step()
        if step % every == 0:
            torch.save(model.state_dict(), directory / f"fcn_step{step}.pt")
    with torch.no_grad():
        predicted = model(X1).argmax(dim=1)
    return {
        "train_seconds": time.perf_counter() - start,
        "train_accuracy": float((predicted[:n_train] == Y[:n_train]).float().mean()),
        "test_accuracy": float((predicted[n_train:] == Y[n_train:]).float().mean()),
        "final_loss": float(loss.detach()),
    }


def cli(*argv: str) -> tuple[int, str, float]:
    start = time.perf_counter()
    done = subprocess.run([CLI, *argv], capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=int, default=23)
    parser.add_argument("--width", type=int, default=500)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--checkpoints", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "run"
        directory.mkdir()
        trained = train(args.p, args.width, args.steps, args.checkpoints, directory, args.seed)
        files = sorted(directory.iterdir(), key=lambda f: int(f.stem.split("step")[1]))
        code, out, _ = cli("inspect", str(files[-1]), "--json")
        last = json.loads(out)
        batch_code, batch_out, batch_seconds = cli("inspect", str(directory), "--json")
        batch = json.loads(batch_out)
        single_seconds = sum(cli("inspect", str(f), "--json")[2] for f in files)
    series = batch["series"] or {}
    result = {
        **trained,
        "inspect_exit": code,
        "accuracy_over_D_p": last["accuracy"],
        "margin_ratio": last["margin_ratio"],
        "max_normalized_power_median": last["max_normalized_power_median"],
        "frequencies_covered": last["frequencies_covered"],
        "checked": last["checked"],
        "failed": last["failed"],
        "training_note": last["training"]["note"],
        "notes": last["notes"],
        "files": len(files),
        "batch_exit": batch_code,
        "batch_seconds": batch_seconds,
        "separate_seconds": single_seconds,
        "ratio": single_seconds / batch_seconds,
        "series_steps": series.get("steps"),
        "series_margin_ratio": series.get("margin_ratio"),
        "series_power": series.get("max_normalized_power_median"),
    }
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
