"""What is true, and how to check it: the task, the network, margins, Fourier analysis and the
closed forms of arXiv 2402.09469. Pure numpy/scipy/sympy; no torch, no printing."""

from theory.closed_forms import (
    beta,
    beta_exact,
    gamma_star,
    gamma_star_exact,
    lattice_width,
    width_bound,
)
from theory.errors import FourierCircuitsError
from theory.margins import (
    CertificateCheck,
    MarginReport,
    check_certificate,
    class_weighted_margins,
    condition_3_8,
    dataset_margin,
    example_margins,
    margin_report,
    margins_from_logits,
    normalized_margin,
)
from theory.network import FloatArray, LogitChunk, PolyNet
from theory.task import (
    IntArray,
    Task,
    all_inputs,
    inputs_at,
    is_prime,
    iter_chunks,
    labels,
    validate_k,
    validate_p,
)

__all__ = [
    "CertificateCheck",
    "FloatArray",
    "FourierCircuitsError",
    "IntArray",
    "LogitChunk",
    "MarginReport",
    "PolyNet",
    "Task",
    "all_inputs",
    "beta",
    "beta_exact",
    "check_certificate",
    "class_weighted_margins",
    "condition_3_8",
    "dataset_margin",
    "example_margins",
    "gamma_star",
    "gamma_star_exact",
    "inputs_at",
    "is_prime",
    "iter_chunks",
    "labels",
    "lattice_width",
    "margin_report",
    "margins_from_logits",
    "normalized_margin",
    "validate_k",
    "validate_p",
    "width_bound",
]
