"""`fourier-circuits theory --p P --k K`: the closed forms of Theorem 4.1."""

from __future__ import annotations

import argparse

from fourier_circuits.experiments.outcome import Outcome, fmt
from fourier_circuits.theory import (
    Task,
    beta,
    beta_exact,
    gamma_star,
    gamma_star_exact,
    lattice_width,
    width_bound,
)

NAME = "theory"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--p", type=int, required=True, help="odd modulus p >= 3")
    parser.add_argument("--k", type=int, required=True, help="number of summands k >= 2")


def run(args: argparse.Namespace) -> Outcome:
    task = Task(args.p, args.k)
    p, k = task.p, task.k
    data = {
        "p": p,
        "k": k,
        "prime": task.prime,
        "gamma_star": gamma_star(p, k),
        "gamma_star_exact": str(gamma_star_exact(p, k)),
        "width_bound": width_bound(p, k),
        "lattice_width": lattice_width(p, k),
        "beta": beta(p, k),
        "beta_exact": str(beta_exact(p, k)),
        "n_examples": task.n_examples,
    }
    rows = [(key, fmt(value)) for key, value in data.items()]
    if not task.prime:
        rows.append(("note", f"p={p} is not prime: outside the paper's assumption"))
    return Outcome(data, rows)
