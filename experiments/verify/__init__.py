"""`fourier-circuits verify`: the claims, the plan of checks, the steps and the report."""

from fourier_circuits.experiments.verify.claims import CLAIM_IDS, CLAIMS, Check, Claim
from fourier_circuits.experiments.verify.plan import DEFAULT_PLAN, QUICK_PLAN, VerifyPlan

__all__ = ["CLAIMS", "CLAIM_IDS", "DEFAULT_PLAN", "QUICK_PLAN", "Check", "Claim", "VerifyPlan"]
