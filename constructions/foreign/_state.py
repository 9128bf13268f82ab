"""The value every foreign reader returns (constructions.foreign.files re-exports it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget

#: Most tensors in one file (a state dict of a small model has tens).
MAX_TENSORS = 100_000


@dataclass(frozen=True)
class StateDict:
    """The tensors of a foreign file, as float64 numpy arrays (module docstring).

    tensors: name -> read-only float64 array, every floating-point tensor, names as stored;
    metadata: JSON-able: safetensors ``__metadata__`` strings, or a checkpoint's non-tensor
    entries (e.g. "config" of a TransformerLens grokking checkpoint);
    path: where it came from ("<memory>" for state_dict_from_mapping);
    format: "pytorch", "safetensors" or "memory";
    source_key: the checkpoint key the state dict was under ("model", ...), None for a bare one;
    skipped: name -> "dtype shape" of the tensors left out (integer and boolean buffers).
    """

    tensors: Mapping[str, np.ndarray]
    metadata: Mapping[str, Any]
    path: str
    format: str
    source_key: str | None
    skipped: Mapping[str, str] = field(default_factory=dict)

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """name -> shape of every tensor kept."""
        return {name: tuple(array.shape) for name, array in self.tensors.items()}


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _require_float64(where: str, shapes: Mapping[str, tuple[int, ...]]) -> None:
    """Refuse, before any copy, float64 copies of these shapes that would not fit in memory."""
    total = sum(budget.array_bytes(shape, 8) for shape in shapes.values())
    budget.require_memory(f"{where} (float64 copies of its {len(shapes)} tensors)", total)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array
