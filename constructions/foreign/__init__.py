"""Networks from other people's code: PyTorch state dicts and .safetensors files read safely
(files), two-layer MLPs on one-hot inputs as the paper's network (mlp), and exported back.

Nothing here imports torch when the package is imported: the PyTorch reader imports it when it
reads a file."""

from fourier_circuits.constructions.foreign.files import (
    FORMATS,
    WRAPPER_KEYS,
    StateDict,
    detect_format,
    load_state_dict,
    state_dict_from_mapping,
)

__all__ = [
    "FORMATS",
    "WRAPPER_KEYS",
    "StateDict",
    "detect_format",
    "load_state_dict",
    "state_dict_from_mapping",
]
