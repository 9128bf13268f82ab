"""Networks built by some method: the paper's analytic construction and other phase designs,
exact (sympy) proofs about them. Depends on theory only."""

from constructions.analytic import construct
from constructions.designs import (
    DESIGNS,
    PhaseDesign,
    get_design,
    grid3_design,
    lattice_design,
    paper_design,
)

__all__ = [
    "DESIGNS",
    "PhaseDesign",
    "construct",
    "get_design",
    "grid3_design",
    "lattice_design",
    "paper_design",
]
