"""A one-layer Transformer on k-input modular addition (Section 5 of arXiv 2402.09469), its
training, and the Fourier analysis of its attention. See docs/transformer.md.

    from fourier_circuits.constructions.transformer import TransformerConfig, train_transformer
    result = train_transformer(TransformerConfig(p=11, k=3, seed=0))
    result.final.test_accuracy            # on the held-out half
    result.analysis().concentration       # attention_fourier_concentration

Pure: no printing, no files; progress through `callback`, randomness only from `seed`.
"""

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
from fourier_circuits.constructions.transformer.result import TransformerRecord, TransformerResult

__all__ = [
    "PAPER_SETTINGS",
    "TEST_ACCURACY_CLAIM",
    "AttentionAnalysis",
    "MultisetBreakdown",
    "TransformerConfig",
    "TransformerRecord",
    "TransformerResult",
    "analyse_attention",
    "attention_weights",
    "logits",
    "multiset_breakdown",
    "paper_config",
    "reference_logits",
    "seen_in_training",
    "tokens",
    "train_transformer",
]
