"""Networks built by some method: the paper's analytic construction and other phase designs,
exact (sympy) proofs about them. Depends on theory only."""

from fourier_circuits.constructions.analytic import construct
from fourier_circuits.constructions.designs import (
    DESIGNS,
    PhaseDesign,
    comb_design,
    comb_size,
    get_design,
    grid3_design,
    lattice_design,
    paper_design,
)
from fourier_circuits.constructions.exact import (
    DesignProof,
    ExactMargin,
    exact_normalized_margin,
    expansion_residual,
    frequency_sums_exact,
    prove_design,
    unwanted_characters,
)
from fourier_circuits.constructions.peers import PEERS, build_peer
from fourier_circuits.constructions.peers_check import PeerCheck, check_peer
from fourier_circuits.constructions.peers_compare import PeerTable, compare_peers

__all__ = [
    "DESIGNS",
    "PEERS",
    "DesignProof",
    "ExactMargin",
    "PeerCheck",
    "PeerTable",
    "PhaseDesign",
    "build_peer",
    "certify_sdp",
    "check_peer",
    "column_generation",
    "comb_design",
    "comb_size",
    "compare_peers",
    "construct",
    "exact_normalized_margin",
    "expansion_residual",
    "frequency_sums_exact",
    "get_design",
    "grid3_design",
    "lattice_design",
    "paper_design",
    "prove_design",
    "symmetric_q_bound",
    "unwanted_characters",
]

# The convex programs import cvxpy, training (constructions.trained, constructions.transformer)
# imports torch: their names load on first use (PEP 562), so the rest stays light.
_CONVEX = ("certify_sdp", "column_generation", "symmetric_q_bound")
_TRAINED = ("TrainConfig", "TrainResult", "train")
_TRANSFORMER = ("TransformerConfig", "TransformerResult", "train_transformer")
__all__ += list(_TRAINED) + list(_TRANSFORMER)


def __getattr__(name: str) -> object:
    if name in _CONVEX:
        from fourier_circuits.constructions import convex

        return getattr(convex, name)
    if name in _TRAINED:
        from fourier_circuits.constructions import trained

        return getattr(trained, name)
    if name in _TRANSFORMER:
        from fourier_circuits.constructions import transformer

        return getattr(transformer, name)
    raise AttributeError(f"module 'fourier_circuits.constructions' has no attribute {name!r}")
