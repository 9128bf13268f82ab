"""The max-margin problem of arXiv 2402.09469 as convex programs (cvxpy): column generation for a
network that attains a margin (lower bound) and dual certificates that no network does better
(upper bounds). Depends on theory only; pure (progress through a callback)."""

from fourier_circuits.constructions.convex.bracket import Bracket, bracket, orbit_margin
from fourier_circuits.constructions.convex.bracket_even import EvenBracket, bracket_even
from fourier_circuits.constructions.convex.certificates import (
    Bound,
    CertifiedBound,
    SdpCertificate,
    c_k,
    certify_sdp,
    lemma_constant,
    optimal_symmetric_q,
    project_to_simplex,
    sdp_certificate,
    symmetric_q_bound,
)
from fourier_circuits.constructions.convex.lp import (
    SPARSIFY_MAX_ROWS,
    ColumnGeneration,
    MasterSolution,
    SparseNetwork,
    column_generation,
    orbit_network,
    orbit_neurons,
    reduced_margin,
    solve_master,
    sparsify,
    symmetrised_dual,
)
from fourier_circuits.constructions.convex.pricing import (
    PricingResult,
    full_rows,
    price,
    price_full,
    random_neurons,
    reduced_rows,
    symmetric_multiplier,
)
from fourier_circuits.constructions.convex.solvers import LP_SOLVERS, SDP_SOLVERS, SolveInfo, solve
from fourier_circuits.constructions.convex.sos import (
    SosCertificate,
    certify_sos,
    real_gram,
    sos_certificate,
)

__all__ = [
    "LP_SOLVERS",
    "SDP_SOLVERS",
    "SPARSIFY_MAX_ROWS",
    "Bound",
    "Bracket",
    "CertifiedBound",
    "ColumnGeneration",
    "EvenBracket",
    "MasterSolution",
    "PricingResult",
    "SdpCertificate",
    "SolveInfo",
    "SosCertificate",
    "SparseNetwork",
    "bracket",
    "bracket_even",
    "c_k",
    "certify_sdp",
    "certify_sos",
    "column_generation",
    "full_rows",
    "lemma_constant",
    "optimal_symmetric_q",
    "orbit_margin",
    "orbit_network",
    "orbit_neurons",
    "price",
    "price_full",
    "project_to_simplex",
    "random_neurons",
    "real_gram",
    "reduced_margin",
    "reduced_rows",
    "sdp_certificate",
    "solve",
    "solve_master",
    "sos_certificate",
    "sparsify",
    "symmetric_multiplier",
    "symmetric_q_bound",
    "symmetrised_dual",
]
