"""Independent, deliberately naive reference computations for the tests.

Nothing here calls PolyNet's evaluation (logits, iter_logits, map_chunks) or theory.margins: the
network is evaluated from its definition with one-hot input blocks (paper eq. 2, Section 3), the
margins by sorting each row. Slow, small, and easy to read -- that is the point.
"""

from __future__ import annotations

import itertools

import numpy as np

from fourier_circuits.theory import FloatArray, IntArray, PolyNet

EPS = float(np.finfo(np.float64).eps)


def lexicographic_inputs(p: int, k: int) -> IntArray:
    """D_p by itertools.product (a_1 most significant): (p^k, k)."""
    return np.array(list(itertools.product(range(p), repeat=k)), dtype=np.int64).reshape(-1, k)


def one_hot_blocks(inputs: IntArray, p: int) -> FloatArray:
    """The paper's input encoding: k one-hot blocks x_j in {0, 1}^p, shape (N, k, p)."""
    return (np.asarray(inputs)[:, :, None] == np.arange(p)[None, None, :]).astype(np.float64)


def naive_hidden(net: PolyNet, inputs: IntArray) -> FloatArray:
    """z_i(a) = sum_j <U[i, j], x_j(a)>, shape (N, m), by einsum over one-hot blocks."""
    return np.einsum("njp,ijp->ni", one_hot_blocks(inputs, net.p), net.U, optimize=True)


def naive_logits(net: PolyNet, inputs: IntArray) -> FloatArray:
    """f(theta, a)[c] = sum_i z_i(a)^k W[i, c], shape (N, p), by einsum."""
    return np.einsum("ni,ic->nc", naive_hidden(net, inputs) ** net.k, net.W, optimize=True)


def logit_roundoff(net: PolyNet, inputs: IntArray) -> FloatArray:
    """A first-order bound on |computed - exact| for every logit, shape (N, p).

    z_i = sum_j U[i, j, a_j] errs by at most (k - 1) eps sum_j |U[i, j, a_j]| =: (k - 1) eps s_i
    in any order, so z_i^k errs by k (k - 1) eps s_i^k plus 2 log2(k) roundings of the powering;
    the sum of m terms z_i^k W[i, c] adds m eps sum_i s_i^k |W[i, c]| (Higham, Accuracy and
    Stability of Numerical Algorithms, 2nd ed., section 3.1). Two evaluations in different
    orders therefore differ by at most 2 (m + k^2 + 2 log2 k + 1) eps sum_i s_i^k |W[i, c]|.
    """
    s = np.einsum("njp,ijp->ni", one_hot_blocks(inputs, net.p), np.abs(net.U), optimize=True)
    terms = (s**net.k) @ np.abs(net.W)  # (N, p)
    return 2.0 * (net.m + net.k**2 + 2 * np.log2(net.k) + 1) * EPS * terms


def naive_margins(logits: FloatArray, y: IntArray) -> tuple[FloatArray, FloatArray]:
    """(g, g') from logits (N, p) and labels (N,) by sorting each row (Defs 3.2 and 3.6).

    g = f[y] - max_{c != y} f[c]: if f[y] is a largest entry, removing it leaves the
    second-largest as the maximum; otherwise the maximum is the largest entry.
    g' = f[y] minus the mean of the other p - 1 logits.
    """
    logits = np.asarray(logits, dtype=np.float64)
    n, p = logits.shape
    y = np.asarray(y)
    ordered = np.sort(logits, axis=1)
    top, second = ordered[:, -1], ordered[:, -2]
    correct = logits[np.arange(n), y]
    g = np.where(correct >= top, correct - second, correct - top)
    others = np.where(np.arange(p)[None, :] == y[:, None], 0.0, logits)
    g_weighted = correct - others.sum(axis=1) / (p - 1)
    return g, g_weighted


def naive_norm(net: PolyNet) -> float:
    """||theta||_{2,k+1} from the definition, neuron by neuron in Python floats."""
    total = 0.0
    for i in range(net.m):
        sq = float(np.sum(net.U[i] ** 2)) + float(np.sum(net.W[i] ** 2))
        total += sq ** ((net.k + 1) / 2)
    return total ** (1.0 / (net.k + 1))
