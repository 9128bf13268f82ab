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
from fourier_circuits.constructions.foreign.lens import LensModel, is_lens_state, lens_from_state
from fourier_circuits.constructions.foreign.lens_analysis import LensAnalysis, analyse_lens
from fourier_circuits.constructions.foreign.lens_export import (
    LensExport,
    lens_state_from_transformer,
)
from fourier_circuits.constructions.foreign.lens_forward import lens_logits
from fourier_circuits.constructions.foreign.mlp import (
    LAYOUTS,
    ImportedMLP,
    accuracy_over_D_p,
    mlp_from_state,
    mlp_state,
)

__all__ = [
    "FORMATS",
    "LAYOUTS",
    "WRAPPER_KEYS",
    "ImportedMLP",
    "LensAnalysis",
    "LensExport",
    "LensModel",
    "StateDict",
    "accuracy_over_D_p",
    "analyse_lens",
    "detect_format",
    "is_lens_state",
    "lens_from_state",
    "lens_logits",
    "lens_state_from_transformer",
    "load_state_dict",
    "mlp_from_state",
    "mlp_state",
    "state_dict_from_mapping",
]
