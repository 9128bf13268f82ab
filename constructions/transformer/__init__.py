"""A one-layer Transformer on k-input modular addition (Section 5 of arXiv 2402.09469), its
training, and the Fourier analysis of its attention. See docs/transformer.md.

    from fourier_circuits.constructions.transformer import TransformerConfig, train_transformer
    result = train_transformer(TransformerConfig(p=11, k=3, seed=0))
    result.final.test_accuracy            # on the held-out half
    result.analysis().concentration       # attention_fourier_concentration
    report(result).as_dict()              # what `fourier-circuits transformer --json` prints
    grokking(problem_configs(((11, 3), (5, 4)), (0, 1)))   # Fig. 4: grokking across k

Pure: no printing, no files; progress through `callback`, randomness only from `seed`.
"""

from fourier_circuits.constructions.transformer.across_k import (
    FULL_PROBLEMS,
    QUICK_EVAL_EVERY,
    QUICK_PROBLEMS,
    SEEDS,
    GrokkingResult,
    GrokkingRow,
    StepStats,
    grokking,
    grokking_row,
    problem_configs,
    step_stats,
    train_named,
)
from fourier_circuits.constructions.transformer.analysis import AttentionAnalysis, analyse_attention
from fourier_circuits.constructions.transformer.config import (
    PAPER_SETTINGS,
    TEST_ACCURACY_CLAIM,
    TransformerConfig,
    paper_config,
)
from fourier_circuits.constructions.transformer.loop import train_transformer
from fourier_circuits.constructions.transformer.model import (
    attention_weights,
    logits,
    reference_logits,
    tokens,
)
from fourier_circuits.constructions.transformer.multisets import (
    MultisetBreakdown,
    multiset_breakdown,
    seen_in_training,
)
from fourier_circuits.constructions.transformer.reporting import (
    NOISE_SAMPLES,
    TransformerReport,
    report,
)
from fourier_circuits.constructions.transformer.result import TransformerRecord, TransformerResult

__all__ = [
    "FULL_PROBLEMS",
    "NOISE_SAMPLES",
    "PAPER_SETTINGS",
    "QUICK_EVAL_EVERY",
    "QUICK_PROBLEMS",
    "SEEDS",
    "TEST_ACCURACY_CLAIM",
    "AttentionAnalysis",
    "GrokkingResult",
    "GrokkingRow",
    "MultisetBreakdown",
    "StepStats",
    "TransformerConfig",
    "TransformerRecord",
    "TransformerReport",
    "TransformerResult",
    "analyse_attention",
    "attention_weights",
    "grokking",
    "grokking_row",
    "logits",
    "multiset_breakdown",
    "paper_config",
    "problem_configs",
    "reference_logits",
    "report",
    "seen_in_training",
    "step_stats",
    "tokens",
    "train_named",
    "train_transformer",
]
