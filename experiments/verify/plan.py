"""What `fourier-circuits verify` checks: the default grid and the --quick one.

Each field lists the (p, k) problems one route runs on (p odd, except for even_p). The default
grid finishes in under 10 minutes on a 2-core machine and --quick in under 2 (measured figures in
docs/verify.md).
"""

from __future__ import annotations

from dataclasses import dataclass

Problem = tuple[int, int]


@dataclass(frozen=True)
class VerifyPlan:
    """The problems each route of `verify` runs on (every (p, k) with p odd, k >= 2)."""

    # construct --exact: the construction's margin in exact arithmetic equals gamma_star_exact,
    # and the design's identity is proved symbolically (small p^k: exact arithmetic is slow).
    exact: tuple[Problem, ...]
    # construct: the paper's network at width 2^(2k-2)(p-1), brute force over all p^k inputs.
    brute_force: tuple[Problem, ...]
    # Orders k for which every registered phase design's identity is proved (for every p).
    design_orders: tuple[int, ...]
    # solve: column generation from random neurons and rigorous upper bounds (never told gamma*).
    convex: tuple[Problem, ...]
    # train: the paper's network trained with the default (margin-aware) optimiser.
    trained: tuple[Problem, ...]
    # train --optimizer gd: plain gradient descent with Morwani et al.'s schedule and regulariser.
    trained_gd: tuple[Problem, ...] = ()
    # transformer: the one-layer Transformer on a random half of D_p (test accuracy, attention).
    transformer: tuple[Problem, ...] = ()
    # the step budget of each transformer attempt (None: the command's default, 20000); a run
    # that misses test accuracy 0.99 uses all of it (about 2.5 minutes at (11, 3))
    transformer_steps: int | None = None
    # grokking --quick: k = 2..5 at about equal p^k, three seeds each (the paper's Fig. 4).
    grokking: bool = False
    # solve --min-width: the smallest design found, proved, against the proved lower bound.
    min_width: tuple[Problem, ...] = ()
    # solve for even p: column generation against theory.even_p's closed form (docs/even-p.md).
    even_p: tuple[Problem, ...] = ()
    # Seed of every randomised route (random neurons, initial weights, controls).
    seed: int = 0


DEFAULT_PLAN = VerifyPlan(
    exact=((3, 2), (5, 2), (7, 2), (9, 2), (3, 3), (5, 3), (7, 3), (5, 4)),
    brute_force=((13, 2), (71, 2), (11, 3), (97, 3), (11, 4), (31, 4), (7, 5), (11, 5)),
    design_orders=(2, 3, 4, 5, 6),
    convex=((5, 2), (7, 2), (11, 2), (5, 3), (7, 3), (11, 3), (5, 4), (101, 2), (101, 3)),
    trained=((13, 2), (23, 2), (7, 3), (11, 3)),
    trained_gd=((13, 2),),
    transformer=((11, 3),),
    grokking=True,
    min_width=((7, 2), (7, 3), (7, 4), (7, 5)),
    even_p=((2, 2), (4, 2), (6, 2), (8, 2), (4, 3), (6, 3), (4, 4)),
)

QUICK_PLAN = VerifyPlan(
    exact=((5, 2), (5, 3)),
    brute_force=((13, 2), (11, 3), (7, 4)),
    design_orders=(2, 3, 4),
    convex=((5, 2), (5, 3)),
    trained=((13, 2), (7, 3)),
    transformer=((11, 3),),
    transformer_steps=6000,  # 22 of the 24 seeds in docs/transformer.md that reach 0.99 do by 4600
    min_width=((7, 2),),
    even_p=((4, 2), (4, 3)),
)
