"""How many examples training.kernel handles at once (no torch here: configs estimate with it)."""

from __future__ import annotations

#: Bytes of one chunk's hidden layer (rows x m entries). Measured at (31, 3), width 480, float64
#: on the 2-core reference machine (ms per step; three products 92 ms): 1024 rows (3.9 MB) 115,
#: 4096 rows 156, all 29,791 rows at once 504. Small enough for the cache, large enough for BLAS.
CHUNK_BYTES = 4 * 2**20
#: On a GPU the cache argument does not apply and larger launches are faster.
CUDA_CHUNK_BYTES = 1 * 2**30
#: Fewest rows a chunk.
MIN_ROWS = 16


def chunk_rows(m: int, itemsize: int, *, cuda: bool = False) -> int:
    """Examples per chunk: CHUNK_BYTES (CUDA_CHUNK_BYTES on a GPU) of hidden layer, at least
    MIN_ROWS. It depends only on (m, dtype, device), never on the threads, so the order in which
    a step sums over examples, hence its rounding, is the same for a given seed everywhere."""
    limit = CUDA_CHUNK_BYTES if cuda else CHUNK_BYTES
    return max(MIN_ROWS, limit // (m * itemsize))
