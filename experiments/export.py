"""The paper's network written as other people's code reads it: `--save F` of `train` and
`construct` by the file's suffix.

- ``.npz``: the network file of DESIGN.md (theory.PolyNet.save); also any other suffix, as before;
- ``.pt`` / ``.pth``: a PyTorch state dict (torch.save) of d-doshi/Grokking's ``fcn`` layout,
  {"fc1.weight": (m, k p), "fc2.weight": (p, m)} in float64 (constructions.foreign.mlp_state:
  input j, value a at column j p + a), which ``fcn(...).load_state_dict(torch.load(F))`` accepts;
  p, k, the layout and the provenance ride in the state dict's ``_metadata`` under
  "fourier_circuits" (module loaders ignore a key no module has);
- ``.safetensors``: the same tensors, the same metadata as the file's ``__metadata__`` strings
  ({"p", "k", "layout", "format": "fourier-circuits mlp", "provenance": JSON}).
`inspect` reads each back to the same network (same logits to 1e-12 in float64).
"""

from __future__ import annotations

import collections
import io
import os
from pathlib import Path

from fourier_circuits.constructions.foreign import mlp_state
from fourier_circuits.theory import PolyNet
from fourier_circuits.theory.budget import require_memory
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network_file import meta_json, write_atomic

#: --save's suffix -> the format written (any other suffix: npz, the network file).
SUFFIX_FORMATS = {
    ".npz": "npz",
    ".pt": "pytorch",
    ".pth": "pytorch",
    ".safetensors": "safetensors",
}
#: The "format" entry of an exported file's metadata.
EXPORT_FORMAT = "fourier-circuits mlp"


def save_format(path: str | os.PathLike[str]) -> str:
    """ "npz", "pytorch" or "safetensors" by the suffix of path (SUFFIX_FORMATS; else "npz")."""
    return SUFFIX_FORMATS.get(Path(path).suffix.lower(), "npz")


def export_metadata(net: PolyNet, *, layout: str = "concatenated") -> dict[str, str]:
    """The metadata of an exported file, as strings (what safetensors holds)."""
    return {
        "p": str(net.p),
        "k": str(net.k),
        "layout": layout,
        "format": EXPORT_FORMAT,
        "provenance": meta_json(dict(net.meta)),
    }


def network_bytes(net: PolyNet, kind: str, *, layout: str = "concatenated") -> bytes:
    """The bytes of `net` as a "pytorch" or "safetensors" file (module docstring)."""
    tensors = mlp_state(net, layout=layout)
    require_memory(
        f"exporting a network of width {net.m} (built in memory)",
        3 * sum(t.nbytes for t in tensors.values()),
    )
    metadata = export_metadata(net, layout=layout)
    if kind == "safetensors":
        try:
            from safetensors.numpy import save
        except ImportError:
            raise FourierCircuitsError(
                "saving .safetensors needs the safetensors package: "
                "pip install 'fourier-circuits[formats]' (or save .pt or .npz)"
            ) from None
        return bytes(save(tensors, metadata=metadata))
    if kind != "pytorch":
        raise FourierCircuitsError(f"kind={kind!r} must be 'pytorch' or 'safetensors'")
    import torch

    state = collections.OrderedDict(
        (name, torch.from_numpy(array.copy())) for name, array in tensors.items()
    )
    # nn.Module.load_state_dict reads _metadata[prefix] per module; no module is "fourier_circuits"
    state._metadata = {"fourier_circuits": metadata}  # type: ignore[attr-defined]
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


def save_network(
    net: PolyNet,
    path: str | os.PathLike[str],
    *,
    target: str | os.PathLike[str] | None = None,
    layout: str = "concatenated",
) -> Path:
    """Write `net` to path atomically in the format of target's suffix (target: the name the
    file is published under, when path is a staging name; default path itself)."""
    kind = save_format(path if target is None else target)
    if kind == "npz":
        return net.save(path)
    return write_atomic(path, network_bytes(net, kind, layout=layout), action="save to")
