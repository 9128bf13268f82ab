"""The claims `fourier-circuits verify` checks, and the record of one check.

A claim is a statement of arXiv 2402.09469 (or of what its checkers must do); a check is one
computation that bears on it, by one route, on one problem. A claim holds when it has at least one
check and every check holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Claim:
    """id: a short name used in the output; title: one line; statement: the claim as the paper
    states it; source: where; how: how verify checks it."""

    id: str
    title: str
    statement: str
    source: str
    how: str


@dataclass(frozen=True)
class Check:
    """One computation bearing on one claim.

    route: symbolic | constructive | convex | empirical | control; subject: what was checked
    (e.g. "p=7, k=3 (LP support)"); command: a command line that reproduces it; numbers: what it
    measured (every number goes to results.json, the `shown` ones to report.md); holds: whether
    it supports the claim; why: the failed conditions, or "" when it holds; p, k: the problem
    (None for a check that is not about one, e.g. a design's proof for every p).
    """

    claim: str
    route: str
    subject: str
    command: str
    numbers: dict[str, Any]
    holds: bool
    why: str = ""
    seconds: float = 0.0
    shown: tuple[str, ...] = field(default_factory=tuple)
    p: int | None = None
    k: int | None = None


CLAIMS: tuple[Claim, ...] = (
    Claim(
        "max_margin",
        "The maximum normalized margin is gamma*(p, k)",
        "With m >= 2^(2k-2)(p-1) neurons the maximum L_{2,k+1}-normalized margin is "
        "gamma*(p, k) = 2 k! / ((2k+2)^((k+1)/2) (p-1) p^((k-1)/2)).",
        "Theorem 4.1 (i) of arXiv 2402.09469 (Morwani et al., Thm 7, for k = 2)",
        "Three routes that do not share a formula: the construction's margin in exact arithmetic "
        "equals sympy's closed form; its float64 margin by brute force over all p^k inputs is "
        "within 1e-9; and convex programs that are never told gamma* bracket it: a network found "
        "by column generation over random neurons (lower bound, re-measured from its weights) and "
        "a rigorous dual certificate (upper bound), with relative gap <= 1e-6.",
    ),
    Claim(
        "construction",
        "The analytic network attains gamma* at width 2^(2k-2)(p-1)",
        "The network of 2^(2k-1) cosine neurons per frequency, phases summing to the output "
        "phase, attains gamma*: every example is on the margin, all wrong labels are tied, and "
        "with q uniform over the pairs it is the certificate pair of Def. 3.5; the neurons of "
        "one frequency sum to c cos(2 pi zeta (a_1 + ... + a_k - c) / p).",
        "App. G (Lemmas G.1-G.3) of arXiv 2402.09469",
        "The identity is proved symbolically for every registered phase design (the unwanted "
        "characters of the expansion vanish, by cyclotomic divisibility; valid for every p), and "
        "the network is built at the paper's width and checked by brute force over all p^k "
        "inputs: correct, on the margin, wrong labels tied, Def. 3.5 certificate.",
    ),
    Claim(
        "single_frequency",
        "Max-margin neurons are single-frequency cosines whose phases add up",
        "Every neuron of a maximum-margin network is a cosine of one frequency zeta in each of "
        "its k+1 vectors, with phases phi_1 + ... + phi_k = phi_w.",
        "Theorem 4.1 (ii) of arXiv 2402.09469",
        "On networks nobody designed: the support of the convex program's optimal network "
        "(found from random neurons) and networks trained by gradient methods from random "
        "initialisation. Measured: the median maximum normalized power of the active neurons "
        "(>= 0.95) and the phase-sum residuals.",
    ),
    Claim(
        "coverage",
        "Every frequency is used",
        "Every frequency zeta in 1..(p-1)/2 is the frequency of some neuron of a max-margin "
        "network.",
        "Theorem 4.1 (iii) of arXiv 2402.09469",
        "frequencies_covered = 1 for the convex program's optimal support and for trained "
        "networks.",
    ),
    Claim(
        "training",
        "Training finds the maximum margin",
        "Gradient training with vanishing regularisation drives the normalized margin to gamma* "
        "(the paper's experiments; Wei et al. 2019 for the limit).",
        "Section 5 and App. J of arXiv 2402.09469; Morwani et al., Sec. 5",
        "The paper's network at width 2^(2k-2)(p-1), float64, trained from a random start with "
        "the default optimiser (docs/training.md); margin ratio >= 0.99 over all of D_p, measured "
        "by the theory module on the final weights.",
    ),
    Claim(
        "transformer",
        "A one-layer Transformer learns k-input addition, with Fourier-sparse attention",
        "A one-layer Transformer trained on half of the k-input modular additions generalises to "
        "the other half, and its attention between number tokens is concentrated on a few 2-D "
        "Fourier frequencies (Fig. 3).",
        "Section 5 (Fig. 3) of arXiv 2402.09469",
        "`fourier-circuits transformer` (docs/transformer.md): tokens a_1 ... a_k '=', a random "
        "50% training split; test accuracy >= 0.99 on the held-out half; for each head the "
        "query-key matrix between number tokens, its 2-D DFT and attention_fourier_concentration "
        "(the share of the non-DC power in the 4 strongest conjugate frequency classes, pooled "
        "over heads), which must exceed the 99th percentile of the same statistic on i.i.d. "
        "Gaussian matrices of the same size (the paper states no threshold). Seeds S, S + 1, "
        "S + 2 are tried in turn until one run passes both (every attempt reported): at (11, 3) "
        "about one seed in four misses 0.99, always on held-out examples whose multiset is "
        "absent from training (docs/transformer.md).",
    ),
    Claim(
        "grokking",
        "The Transformer generalises for every k = 2..5",
        "With p^k about equal and 50% training data, the one-layer Transformer reaches full test "
        "accuracy for k = 2, 3, 4, 5; the delay between fitting the training data and "
        "generalising (grokking) weakens as k grows (Fig. 4).",
        "Section 5 (Fig. 4) of arXiv 2402.09469",
        "`fourier-circuits grokking --quick`: (p, k) = (47, 2), (13, 3), (7, 4), (5, 5), three "
        "seeds each; a majority of each k's runs must reach test accuracy >= 0.99 (1 run in 36 "
        "did not, docs/transformer.md). The grokking delay (steps from train to test accuracy "
        "0.99) is reported, not checked: it is noisy at this size. So is the accuracy on held-out "
        "examples whose multiset is absent from training: at k = 4, 5 almost every multiset is "
        "trained on in some order, and the test accuracy is reached by symmetry.",
    ),
    Claim(
        "min_width",
        "The smallest width that reaches gamma* (left open by the paper)",
        "The paper proves gamma* at width 2^(2k-2)(p-1), 2^(2k-1) neurons per frequency, and "
        "leaves open how few suffice. This toolkit's answer: a max-margin network is a weighted "
        "phase design at every frequency; for p without aliasing (every prime p >= 2k+1) no "
        "such design has fewer than B_k = 6, 16, 40, 93 points (k = 2..5), and the comb "
        "design with (k+1) 2^(k-1) points (6, 16, 40, 96) reaches gamma*; for k = 2, 3, 4 the "
        "two meet, so the minimum width is exactly 3(p-1), 8(p-1), 20(p-1).",
        "docs/min-width.md (this toolkit; the paper's Theorem 4.1 gives the upper end)",
        "`fourier-circuits solve --min-width --p P --k K`: the smallest design found is proved "
        "exactly (every unwanted character vanishes) and its network at width (p-1)/2 times its "
        "size reaches gamma* by brute force over D_p; the lower bound (a clique of characters, "
        "or a Delsarte SDP made rigorous) is at most that size, and equals it for k = 2, 3, 4.",
    ),
    Claim(
        "even_p",
        "gamma* for even p, where the paper's formula fails",
        "The paper assumes p odd. For even p its formula is not the maximum; the paper's own "
        "max-min argument with the Nyquist frequency p/2 included gives gamma*_even(p, k) = k! "
        "alpha / ((k+1)^((k+1)/2) p^((k-1)/2) (p - 2 + alpha)), alpha = 2^((1-k)/2).",
        "docs/even-p.md (this toolkit; not in the paper)",
        "`fourier-circuits solve --p P --k K` for even P: shift-reduced column generation with "
        "brute-force columns from random neurons, never told the answer; the explicit network's "
        "margin recomputed from its weights (lower bound) and the lemma's bound at a q that an "
        "SOCP finds without the closed form (upper bound) bracket gamma*_even with relative gap "
        "<= 1e-6, and the paper's formula lies below the lower bound.",
    ),
    Claim(
        "negative_controls",
        "Every checker rejects a false input",
        "A check that cannot fail proves nothing: each checker used above is fed a deliberately "
        "false input and must reject it.",
        "this toolkit (STYLE.md, Tests)",
        "A design missing one point fails the exact proof; the paper's network without one "
        "frequency or one neuron falls below gamma* and loses coverage; a random network and a "
        "50-step training run are not reported as max-margin; a wrong dual q gives a bound above "
        "gamma*; a forged SOS certificate is rejected; the lattice design below the proved "
        "lower bound fails; Gaussian noise is not reported as Fourier-sparse attention; the odd-p "
        "dual (uniform q) at even p gives a bound above gamma*_even.",
    ),
)

#: Checked only when `verify --network F.npz` names a network.
NETWORK_CLAIM = Claim(
    "network",
    "The given network against the theorem",
    "A network saved in the DESIGN.md format (the user's own, or one made by this toolkit) "
    "reaches gamma*, classifies every input, uses single-frequency neurons and every frequency.",
    "Theorem 4.1 of arXiv 2402.09469, applied to the given file",
    "`fourier-circuits inspect F.npz`: margins over all of D_p and per-neuron Fourier statistics, "
    "by the theory module; the margin claim is margin_ratio >= --min-ratio (default: gamma* "
    "itself, to 1e-9).",
)
CLAIMS = (*CLAIMS, NETWORK_CLAIM)

CLAIM_IDS = tuple(claim.id for claim in CLAIMS)
