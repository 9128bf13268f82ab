"""Exact (integer / cyclotomic / sympy) proofs about phase designs (THEORY.md, "Proof outline"
step 3 and "Smaller designs"; App. G of arXiv 2402.09469), by two independent routes:

- constructions.characters: the character argument, that a design's neurons of one frequency sum
  to |design| k!/2^k cos(x_1 + ... + x_k - y) for all real angles (prove_design), checked again
  by direct trigonometric expansion (expansion_residual);
- constructions.exact_margin: the construction's normalized margin over all of D_p in the
  cyclotomic ring Z[x]/(x^L - 1) (exact_normalized_margin), and the frequency sum of erratum 2.

Both rest on theory.cyclotomic. This module keeps the names importable from one place.
"""

import fourier_circuits.constructions.characters as characters
import fourier_circuits.constructions.designs as designs
import fourier_circuits.constructions.exact_margin as exact_margin
import fourier_circuits.theory.cyclotomic as cyclotomic
from fourier_circuits.constructions.characters import (
    MAX_CHARACTER_WORK,
    DesignProof,
    expansion_residual,
    prove_design,
    unwanted_characters,
)
from fourier_circuits.constructions.exact_margin import (
    MAX_MARGIN_WORK,
    ExactMargin,
    exact_normalized_margin,
    frequency_sums_exact,
    margin_work,
)

__all__ = [
    "MAX_CHARACTER_WORK",
    "MAX_MARGIN_WORK",
    "DesignProof",
    "ExactMargin",
    "exact_normalized_margin",
    "expansion_residual",
    "frequency_sums_exact",
    "margin_work",
    "prove_design",
    "unwanted_characters",
]

# The private names of the former single module, under their old names: other modules and tests
# import some of them from here (constructions.min_width: _expansion; tests: _reduction_matrix,
# _vanishes).
_compositions = characters._compositions
_expansion = characters._expansion
_character = characters._character
_unwanted_signs = characters._unwanted_signs
_offsets = designs.phase_w_offsets
_require_design = designs.require_design
_reaches = exact_margin._reaches
_INT64_SAFE = cyclotomic.INT64_SAFE
_cyclotomic = cyclotomic.cyclotomic_polynomial
_vanishes = cyclotomic.vanishes
_reduction_matrix = cyclotomic.reduction_matrix
_to_sympy = cyclotomic.real_value
_histogram = cyclotomic.exponent_histogram
_shift_rows = cyclotomic.multiply_by_monomials
