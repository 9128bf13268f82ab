"""Numerical tolerances, kept in one place with the reason for each value.

Everything compared with a theorem is float64 (unit roundoff 1.1e-16). Sums over D_p accumulate
error roughly like sqrt(#terms) * eps * (size of the terms), and the construction's logits are sums
of m terms of size ~|f|, so relative errors of 1e-12 are typical at p^k ~ 1e6 and 1e-9 is a margin
of three orders of magnitude that still catches a margin claimed 1% (or 1e-6) too high.
"""

from __future__ import annotations

#: Relative agreement demanded between a computed margin and gamma* (float64 route).
MARGIN_RTOL = 1e-9

#: Relative spread allowed when asserting that values are equal (all examples on the margin,
#: all wrong-label logits tied): measured against the largest |logit| of the network.
TIE_RTOL = 1e-9

#: A neuron counts as carrying the network when ||theta_i||^(k+1) is at least this share of the
#: largest one; smaller neurons change the margin by less than this share each (homogeneity).
ACTIVE_SHARE = 1e-3

#: A neuron is "single-frequency" when its maximum normalized power is at least this.
SINGLE_FREQUENCY_POWER = 1 - 1e-9

#: Allowed |phi_1 + ... + phi_k - phi_w| (radians, wrapped) for an exact construction.
PHASE_ATOL = 1e-7

#: Largest median phase-sum residual |phi_1 + ... + phi_k - phi_w| (radians, wrapped) of a trained
#: network whose "phases add up" (Theorem 4.1 (ii)): about 3 degrees. At margin ratio 0.99 the
#: measured medians are 1e-4 to 1e-3 (docs/verify.md).
PHASE_SUM_ATOL = 0.05

# The claims of Theorem 4.1 that a trained or saved network is checked against (train, inspect,
# verify; TrainResult.failures):
#: normalized margin at least this share of gamma* (Theorem 4.1 (i)) ...
MARGIN_RATIO_CLAIM = 0.99
#: ... median maximum normalized power of the active neurons at least this (Theorem 4.1 (ii); the
#: paper's figures show values near 1) ...
SINGLE_FREQUENCY_CLAIM = 0.95
#: ... and every frequency 1..(p-1)/2 the dominant one of some active neuron (Theorem 4.1 (iii)).
COVERAGE_CLAIM = 1.0

#: The one-layer Transformer's checked claim (Section 5 of arXiv 2402.09469): accuracy on the
#: held-out examples at least this (transformer, grokking, verify).
TEST_ACCURACY_CLAIM = 0.99

#: The relative gap (upper - lower) / upper between convex bounds that counts as "small": column
#: generation's lower bound and the rigorous upper bounds must meet to this (solve, verify).
GAP_TARGET = 1e-6
