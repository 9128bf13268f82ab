"""A two-layer MLP on one-hot inputs, from someone else's state dict, as the paper's network.

    from fourier_circuits.constructions.foreign import load_state_dict, mlp_from_state
    imported = mlp_from_state(load_state_dict("fcn.pt"))   # d-doshi/Grokking's `fcn`, nn.Sequential
    imported.network                                       # a theory.PolyNet, float64
    imported.notes                                         # what was inferred and folded, in words

The network of eq. 2 of arXiv 2402.09469, f(a)[c] = sum_i (sum_j U[i, j, a_j])^k W[i, c], is what
most grokking code trains as ``Linear(k p -> m) -> z^k -> Linear(m -> p)`` on the k one-hot
blocks of the input concatenated (d-doshi/Grokking's ``fcn``: fc1 = Linear(2p, N, bias=False),
x**2, fc2 = Linear(N, p, bias=False)). Read here:
- the first weight as nn.Linear's (m, k p), or transposed (k p, m), or k embedding blocks of
  (p, m) (nn.Embedding) or (m, p) each; the second as nn.Linear's (p, m) or transposed (m, p);
  p and the number of inputs k from the shapes;
- the layout of the first weight's columns: "concatenated" (input j, value a at column j p + a)
  or "interleaved" (column a k + j);
- biases, folded in exactly. A hidden bias b_i adds b_i / k to every U[i, j, :]: one-hot inputs
  have exactly one 1 per block, so sum_j (U[i, j, a_j] + b_i / k) = (pre-activation) + b_i. An
  output bias c is one more neuron with constant pre-activation t (U = t / k everywhere) and
  output weights c / t^k, so it adds t^k c / t^k = c to every input's logits; t minimises that
  neuron's norm, (p/k) t^2 + ||c||^2 t^(-2k), at t^(2k+2) = k^2 ||c||^2 / p. Either fold changes
  ||theta||_{2,k+1}, the norm of the theorem's normalized margin: the notes say by how much.
- the activation power, which must equal the number of inputs (the paper's network: z^k with k
  inputs): from the caller (``k=``), else the file's metadata ("k", "power", "activation", also
  under "config"), else the shapes; the notes say which, and a disagreement is refused.
After import, the accuracy over all of D_p is measured; near chance (< 2/p), or far below what the
other layout gives, it is flagged in the notes as probably the wrong layout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.foreign.files import StateDict
from fourier_circuits.theory import PolyNet
from fourier_circuits.theory._validation import check_array, check_int
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network import LogitChunk

__all__ = ["LAYOUTS", "ImportedMLP", "accuracy_over_D_p", "mlp_from_state", "mlp_state"]

#: How the first weight's columns hold the k one-hot blocks (module docstring).
LAYOUTS = ("concatenated", "interleaved")
#: Key pairs recognised by name, in the order tried: (first weight, second weight).
KNOWN_PAIRS = (
    ("fc1.weight", "fc2.weight"),  # d-doshi/Grokking's fcn, and most hand-written MLPs
    ("0.weight", "2.weight"),  # nn.Sequential(Linear, activation, Linear)
    ("0.weight", "1.weight"),  # nn.Sequential(Linear, Linear) with a functional activation
    ("layer1.weight", "layer2.weight"),
    ("linear1.weight", "linear2.weight"),
    ("W_in", "W_out"),
)
#: The other layout's accuracy is measured for the layout check when one evaluation over D_p
#: costs at most this many flop (about a second at theory.budget's rate); the accuracy itself
#: up to 10 times as much (inspect measures it anyway).
LAYOUT_CHECK_FLOP = 1e10


@dataclass(frozen=True)
class ImportedMLP:
    """A foreign MLP as the paper's network (module docstring).

    network: the PolyNet (float64; biases folded in); notes: what was inferred and folded, and
    the layout check's verdict; layout: the layout used; keys_used: the state dict's tensors
    read; k_source: where the activation power came from ("argument", "metadata", "shapes");
    bias_folded: whether a bias was folded in; norm_without_biases: ||theta||_{2,k+1} of the
    weights alone (None without biases); accuracy: over all of D_p (None when not measured);
    other_layout_accuracy: the same weights read in the other layout (None when not measured).
    """

    network: PolyNet
    notes: tuple[str, ...]
    layout: str
    keys_used: tuple[str, ...]
    k_source: str
    bias_folded: bool
    norm_without_biases: float | None
    accuracy: float | None
    other_layout_accuracy: float | None


def _natural(name: str) -> list[Any]:
    """Sort key: numbers by value ("10.weight" after "2.weight")."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _shapes_text(tensors: Mapping[str, np.ndarray]) -> str:
    return ", ".join(f"{name} {tuple(t.shape)}" for name, t in tensors.items())


def _weights(state: StateDict) -> tuple[list[str], str]:
    """The names of the first-layer weights (one, or k embedding blocks) and of the second."""
    tensors = state.tensors
    for first, second in KNOWN_PAIRS:
        if first in tensors and second in tensors:
            matrices = [n for n in tensors if tensors[n].ndim == 2 and n not in (first, second)]
            if matrices:
                break  # more layers than the pair: refused below, naming them all
            return [first], second
    matrices = sorted((n for n in tensors if tensors[n].ndim == 2), key=_natural)
    others = [n for n in tensors if tensors[n].ndim not in (1, 2)]
    if others:
        raise FourierCircuitsError(
            f"{state.path}: tensors {others} are neither weights (2 axes) nor biases (1 axis); "
            "a two-layer MLP holds two weight matrices and their biases (found "
            f"{_shapes_text(tensors)})"
        )
    if len(matrices) < 2:
        raise FourierCircuitsError(
            f"{state.path}: found {len(matrices)} weight matrices ({_shapes_text(tensors)}); a "
            "two-layer MLP has two: (m, k p) or k blocks (p, m), then (p, m)"
        )
    *firsts, second = matrices
    if len(firsts) > 1 and len({tensors[n].shape for n in firsts}) > 1:
        raise FourierCircuitsError(
            f"{state.path}: {len(matrices)} weight matrices of different shapes "
            f"({', '.join(f'{n} {tensors[n].shape}' for n in matrices)}): a network with an extra "
            "layer, not the paper's two-layer MLP (first weight (m, k p), second (p, m))"
        )
    return firsts, second


def _orient(state: StateDict, firsts: list[str], second: str) -> tuple[np.ndarray, np.ndarray]:
    """(A, W): the first weight as (m, k p) (or (k, m, p) for embedding blocks) and W (m, p)."""
    tensors = state.tensors
    B = tensors[second]
    if len(firsts) > 1:  # k blocks, each (p, m) (nn.Embedding) or (m, p)
        block = tensors[firsts[0]].shape
        for W in (B.T, B):  # (p, m) as nn.Linear stores it first
            m, p = W.shape
            if block == (p, m):
                return np.stack([tensors[n].T for n in firsts]), W
            if block == (m, p):
                return np.stack([tensors[n] for n in firsts]), W
        raise FourierCircuitsError(
            f"{state.path}: the embedding blocks {firsts} have shape {block} and {second} has "
            f"{B.shape}; expected blocks (p, m) or (m, p) and {second} (p, m) or (m, p)"
        )
    A = tensors[firsts[0]]
    for W in (B.T, B):
        m, p = W.shape
        for first in (A, A.T):  # (m, k p) as nn.Linear stores it first
            if first.shape[0] == m and first.shape[1] % p == 0 and first.shape[1] >= 2 * p:
                return first, W
    raise FourierCircuitsError(
        f"{state.path}: {firsts[0]} has shape {A.shape} and {second} has shape {B.shape}; "
        f"expected {firsts[0]} (m, k p) = (m, k * p) with k >= 2 and {second} (p, m), as "
        "nn.Linear(k p, m) and nn.Linear(m, p) store them (or their transposes)"
    )


_POWER_WORDS = {"square": 2, "quadratic": 2, "cube": 3, "cubic": 3}


def _power_from_metadata(metadata: Mapping[str, Any]) -> tuple[int, str] | None:
    """(k, key) from the file's metadata: "k", "power" or "activation" ("x**2", "x^3", "pow2",
    "square"), at the top level or under "config"."""
    places: list[tuple[str, Mapping[str, Any]]] = [("", metadata)]
    if isinstance(metadata.get("config"), Mapping):
        places.append(("config.", metadata["config"]))
    for prefix, place in places:
        for key in ("k", "power", "activation"):
            value = place.get(key)
            if value is None or isinstance(value, bool):
                continue
            text = str(value).strip().lower()
            found = re.fullmatch(r"(?:x\s*(?:\*\*|\^)\s*|pow(?:er)?\s*)?(\d+)", text)
            if found:
                return int(found.group(1)), f"{prefix}{key}={value!r}"
            if text in _POWER_WORDS:
                return _POWER_WORDS[text], f"{prefix}{key}={value!r}"
    return None


def _resolve_k(state: StateDict, k_shapes: int, k: int | None) -> tuple[int, str, str]:
    """(k, source, note): the activation power, checked against the number of inputs."""
    found = _power_from_metadata(state.metadata)
    if k is not None:
        k = check_int("k", k, min_value=2)
        source, note = "argument", f"activation power k={k} as given"
    elif found is not None:
        k, key = found
        source, note = "metadata", f"activation power k={k} from the file's metadata ({key})"
    else:
        k = k_shapes
        source = "shapes"
        note = f"activation power k={k} from the shapes (k one-hot blocks; the file does not say)"
    if found is not None and found[0] != k:
        raise FourierCircuitsError(
            f"{state.path}: k={k} but the file's metadata says {found[1]}; pass the right k"
        )
    if k != k_shapes:
        raise FourierCircuitsError(
            f"{state.path}: activation power k={k} ({source}) but the first weight holds "
            f"{k_shapes} one-hot blocks of p; the paper's network has z^k with k inputs"
        )
    return k, source, note


def _bias(state: StateDict, name: str, length: int, used: set[str]) -> np.ndarray | None:
    """The bias of weight `name` (name with "weight" -> "bias"), of `length` entries, or None."""
    key = name[: -len("weight")] + "bias" if name.endswith("weight") else None
    if key is None or key not in state.tensors:
        return None
    bias = state.tensors[key]
    if bias.shape != (length,):
        raise FourierCircuitsError(
            f"{state.path}: {key} has shape {bias.shape}; the bias of {name} must be ({length},)"
        )
    used.add(key)
    return check_array(key, bias, ndim=1)


def _layout_of(state: StateDict, layout: str | None) -> str:
    if layout is None:
        layout = str(state.metadata.get("layout", "concatenated"))
    if layout not in LAYOUTS:
        raise FourierCircuitsError(f"layout={layout!r} must be one of {', '.join(LAYOUTS)}")
    return layout


def _blocks(A: np.ndarray, k: int, p: int, layout: str) -> np.ndarray:
    """U (m, k, p) from the first weight A (m, k p) in `layout`."""
    m = A.shape[0]
    if layout == "concatenated":  # column j p + a
        return A.reshape(m, k, p)
    return A.reshape(m, p, k).transpose(0, 2, 1)  # column a k + j


def _correct(chunk: LogitChunk) -> int:
    return int(np.count_nonzero(chunk.logits.argmax(axis=1) == chunk.labels))


def accuracy_over_D_p(net: PolyNet) -> float:
    """Share of D_p whose correct logit is the (first) largest, streamed in chunks."""
    return sum(net.map_chunks(_correct)) / net.p**net.k


def mlp_from_state(
    state: StateDict,
    *,
    k: int | None = None,
    layout: str | None = None,
    power: int | None = None,
    check_layout: bool = True,
) -> ImportedMLP:
    """The two-layer MLP of a state dict as the paper's network (module docstring).

    k (or its alias power): the activation power, which the shapes must agree with; by default
    from the file's metadata, else the shapes. layout: "concatenated" (column j p + a, d-doshi's
    fcn) or "interleaved" (column a k + j); by default the file's metadata "layout", else
    "concatenated". check_layout: measure the accuracy over D_p (and the other layout's, when one
    evaluation costs at most LAYOUT_CHECK_FLOP) and flag a near-chance one in the notes.
    Refused with a FourierCircuitsError naming the key, its shape and what was expected: more
    than two layers, shapes that are not (m, k p) and (p, m), a bias of the wrong length, tensors
    left over, a power that disagrees with the shapes or the metadata, non-finite entries."""
    if not isinstance(state, StateDict):
        raise FourierCircuitsError(
            f"state={type(state).__name__} must be a StateDict (load_state_dict, "
            "state_dict_from_mapping)"
        )
    if power is not None and k is not None and power != k:
        raise FourierCircuitsError(f"k={k} and power={power} disagree; pass one")
    k = k if k is not None else power
    layout = _layout_of(state, layout)
    firsts, second = _weights(state)
    A, W = _orient(state, firsts, second)
    m, p = W.shape
    k_shapes = A.shape[0] if A.ndim == 3 else A.shape[1] // p
    k, k_source, k_note = _resolve_k(state, k_shapes, k)
    notes = [f"p={p} and m={m} from the shapes ({second}: {state.tensors[second].shape})", k_note]
    if A.ndim == 3:  # (k, m, p) embedding blocks: no layout to choose
        U = A.transpose(1, 0, 2)
        notes.append(f"input weights from {k} embedding blocks {firsts}")
    else:
        U = _blocks(A, k, p, layout)
        column = "j p + a" if layout == "concatenated" else "a k + j"
        notes.append(f"layout {layout}: input j, value a at column {column} of {firsts[0]}")
    used = {*firsts, second}
    hidden_bias = _bias(state, firsts[0], m, used) if len(firsts) == 1 else None
    output_bias = _bias(state, second, p, used)
    left = [name for name in state.tensors if name not in used]
    if left:
        raise FourierCircuitsError(
            f"{state.path}: tensors {left} are not read by a two-layer MLP (used: "
            f"{sorted(used)}); a model with other layers is not the paper's network"
        )
    U = check_array(firsts[0], U, ndim=3)
    W = check_array(second, W, ndim=2)
    plain = PolyNet(U, W)
    net, fold_notes = _fold_biases(plain, hidden_bias, output_bias)
    folded = net is not plain
    notes += fold_notes
    meta = {
        "source": state.path,
        "format": state.format,
        "layout": layout,
        "keys": sorted(used),
        "k_source": k_source,
        "file_metadata": dict(state.metadata),
    }
    net = net.with_meta(**meta)
    accuracy = other = None
    if check_layout:
        accuracy, other, layout_notes = _layout_check(net, A, layout, hidden_bias=hidden_bias)
        notes += layout_notes
    return ImportedMLP(
        network=net,
        notes=tuple(notes),
        layout=layout,
        keys_used=tuple(sorted(used, key=_natural)),
        k_source=k_source,
        bias_folded=folded,
        norm_without_biases=plain.norm() if folded else None,
        accuracy=accuracy,
        other_layout_accuracy=other,
    )


def _fold_biases(
    net: PolyNet, hidden_bias: np.ndarray | None, output_bias: np.ndarray | None
) -> tuple[PolyNet, list[str]]:
    """The network with the biases folded in exactly (module docstring), and notes on the norm."""
    if hidden_bias is None and output_bias is None:
        return net, []
    U, W, k, p = np.array(net.U), np.array(net.W), net.k, net.p
    notes = []
    if hidden_bias is not None:
        # one-hot blocks: sum_j (U[i, j, a_j] + b_i / k) = sum_j U[i, j, a_j] + b_i
        U += hidden_bias[:, None, None] / k
        notes.append("hidden bias folded in: b_i / k added to every U[i, j, :]")
    if output_bias is not None and np.any(output_bias):
        squared = float(output_bias @ output_bias)
        # t minimises (p/k) t^2 + ||c||^2 t^(-2k): t^(2k+2) = k^2 ||c||^2 / p
        t = (k * k * squared / p) ** (1.0 / (2 * k + 2))
        U = np.concatenate([U, np.full((1, k, p), t / k)])  # pre-activation t on every input
        W = np.concatenate([W, (output_bias / t**k)[None, :]])  # t^k * c / t^k = c
        notes.append(
            f"output bias folded in as one more neuron (m={net.m + 1}) with constant "
            f"pre-activation t={t:.6g} and output weights bias / t^k"
        )
    folded = PolyNet(U, W)
    before, after = net.norm(), folded.norm()
    change = f" (x{after / before:.6g})" if before else ""
    notes.append(
        f"folding the biases changes ||theta||_{{2,k+1}} (the theorem's norm) from {before:.10g} "
        f"(weights alone) to {after:.10g}{change}: the normalized margin is the folded network's"
    )
    return folded, notes


def _layout_check(
    net: PolyNet, A: np.ndarray, layout: str, *, hidden_bias: np.ndarray | None
) -> tuple[float | None, float | None, list[str]]:
    """Accuracy over D_p, the other layout's (when affordable), and a note when near chance."""
    m, k, p = net.m, net.k, net.p
    if budget.power_exceeds(p, k, 10**9):
        return None, None, ["accuracy not measured at import (D_p is large): inspect measures it"]
    flop = budget.evaluation_flop(p**k, m, k, p)
    if flop > 10 * LAYOUT_CHECK_FLOP:
        return None, None, ["accuracy not measured at import (D_p is large): inspect measures it"]
    accuracy = accuracy_over_D_p(net)
    other = None
    swapped = "interleaved" if layout == "concatenated" else "concatenated"
    if A.ndim == 2 and flop <= LAYOUT_CHECK_FLOP:
        U = _blocks(A, k, p, swapped)
        if hidden_bias is not None:
            U = U + hidden_bias[:, None, None] / k
        # the output-bias neuron (if any, the last) does not depend on the layout
        U_all = np.concatenate([U, np.array(net.U[U.shape[0] :])])
        other = accuracy_over_D_p(PolyNet(U_all, net.W))
    notes = [f"accuracy over all {p**k} inputs of D_p: {accuracy:.6g}"]
    chance = 2.0 / p
    better = other is not None and other > chance and other >= max(2 * accuracy, accuracy + 0.25)
    if better:
        notes.append(
            f"accuracy {accuracy:.6g} here but {other:.6g} with --layout {swapped}: probably the "
            f"wrong layout; try --layout {swapped}"
        )
    elif accuracy < chance and other is None:
        notes.append(
            f"accuracy {accuracy:.6g} is near chance (1/p = {1 / p:.3g}): probably the wrong "
            f"layout; try --layout {swapped}"
        )
    elif accuracy < chance:
        notes.append(
            f"accuracy {accuracy:.6g} is near chance (1/p = {1 / p:.3g}) in both layouts "
            f"({other:.6g} with --layout {swapped}): an untrained network, or inputs encoded "
            "otherwise than one-hot blocks"
        )
    return accuracy, other, notes


def mlp_state(net: PolyNet, *, layout: str = "concatenated") -> dict[str, np.ndarray]:
    """The paper's network as d-doshi/Grokking's fcn state dict: {"fc1.weight": (m, k p),
    "fc2.weight": (p, m)}, float64 (nn.Linear's (out, in) convention; columns in `layout`).
    mlp_from_state reads it back exactly."""
    if not isinstance(net, PolyNet):
        raise FourierCircuitsError(f"net={type(net).__name__} must be a theory.PolyNet")
    if layout not in LAYOUTS:
        raise FourierCircuitsError(f"layout={layout!r} must be one of {', '.join(LAYOUTS)}")
    m, k, p = net.U.shape
    U = net.U if layout == "concatenated" else net.U.transpose(0, 2, 1)  # column j p + a / a k + j
    return {  # writable copies: users hand them to torch.from_numpy
        "fc1.weight": np.array(U.reshape(m, k * p), order="C"),
        "fc2.weight": np.array(net.W.T, order="C"),
    }
