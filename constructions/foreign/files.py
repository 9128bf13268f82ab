"""Networks saved by other people's code: PyTorch state dicts and .safetensors files, read safely.

    from fourier_circuits.constructions.foreign import load_state_dict
    state = load_state_dict("model.pt")     # StateDict: float64 numpy tensors, metadata, format
    state.tensors["fc1.weight"].shape       # names as stored

Safety. A PyTorch file is read with ``torch.load(path, weights_only=True, map_location="cpu")``:
the restricted unpickler builds tensors, dicts, lists and numbers (and numpy scalars and
arrays of numeric dtypes) and nothing else, so a pickle
that would run code on load (a ``__reduce__`` payload) or a whole ``nn.Module`` is refused, with
a message that names what it held and never suggests unsafe loading. A .safetensors file is
parsed here from its header (8-byte little-endian length, then JSON) without any library.

Memory. Before anything is materialised: the file's size, the zip members' sizes of a zip-based
.pt (compression bombs refused as theory.network_file does for .npz), the safetensors header's
shapes and offsets (forged shapes refused), and the float64 copies, all against theory.budget.

What comes back. ``StateDict.tensors``: every floating-point tensor as a read-only float64 numpy
array, names as stored (nested dicts flattened with "."). Integer and boolean buffers (a
TransformerLens attention mask, IGNORE) are left out and listed in ``StateDict.skipped``.
Non-finite entries are kept: the readers that use a tensor refuse them (theory's check_array).
A checkpoint dict holding the state dict under "model", "state_dict", "model_state_dict" or
"params" is unwrapped (``source_key``); its other entries become ``metadata`` (JSON-able: tensors
in them are described, not copied). A safetensors file's ``__metadata__`` strings are the
metadata.
"""

from __future__ import annotations

import math
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.foreign._safetensors import header_length, load_safetensors
from fourier_circuits.constructions.foreign._state import (
    MAX_TENSORS,
    StateDict,
    _frozen,
    _one_line,
    _require_float64,
)
from fourier_circuits.theory.errors import FourierCircuitsError
from fourier_circuits.theory.network_file import (
    MAX_META_DEPTH,
    check_meta_depth,
    refuse_compression_bomb,
    require_regular_file,
)

__all__ = [
    "FORMATS",
    "WRAPPER_KEYS",
    "StateDict",
    "detect_format",
    "load_state_dict",
    "state_dict_from_mapping",
]

#: What detect_format answers.
FORMATS = ("npz", "pytorch", "safetensors")
#: Keys under which checkpoint dicts keep their state dict, in the order they are tried.
WRAPPER_KEYS = ("model", "state_dict", "model_state_dict", "params")
#: The pickle of a state dict is small (names and storage references); a larger one is refused.
MAX_PICKLE_BYTES = 2**26

_ZIP_MAGIC = b"PK\x03\x04"


# --- format detection ----------------------------------------------------------------------------
def detect_format(path: str | os.PathLike[str]) -> str:
    """ "npz", "pytorch" or "safetensors", from the file's first bytes (not only its suffix):
    a zip holding a ``data.pkl`` member is a PyTorch file (torch.save's format since 1.6), a zip
    of ``.npy`` members an .npz, a pickle (first byte 0x80, a protocol number) a legacy PyTorch
    file, 8 bytes of header length then '{' a safetensors file. Anything else is refused."""
    source = _existing_file(path)
    size = source.stat().st_size
    try:
        with open(source, "rb") as fh:
            head = fh.read(16)
    except OSError as err:
        raise FourierCircuitsError(f"cannot read {str(source)!r}: {err.strerror or err}") from None
    if head.startswith(_ZIP_MAGIC) or (head.startswith(b"PK") and zipfile.is_zipfile(source)):
        names = _zip_names(source)
        if any(name == "data.pkl" or name.endswith("/data.pkl") for name in names):
            return "pytorch"
        if names and all(name.endswith(".npy") for name in names):
            return "npz"
        raise FourierCircuitsError(
            f"cannot read {str(source)!r}: a zip archive that is neither an .npz (members .npy) "
            "nor a PyTorch file (a data.pkl member, as torch.save writes)"
        )
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return "pytorch"
    if header_length(head, size) is not None:
        return "safetensors"
    raise FourierCircuitsError(
        f"cannot read {str(source)!r}: not a network file ({size} bytes; an .npz, a PyTorch "
        "state dict (torch.save) or a .safetensors file is read)"
    )


def _existing_file(path: str | os.PathLike[str]) -> Path:
    return require_regular_file(path, where=f"cannot read {os.fspath(path)!r}")


def _zip_names(source: Path) -> list[str]:
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise FourierCircuitsError(
            f"cannot read {str(source)!r}: a damaged zip archive ({_one_line(err)})"
        ) from None
    if len(infos) > MAX_TENSORS:
        raise FourierCircuitsError(
            f"cannot read {str(source)!r}: {len(infos)} zip members, more than the limit "
            f"{MAX_TENSORS}"
        )
    return [info.filename for info in infos]


# --- loading ----------------------------------------------------------------------------------
def load_state_dict(path: str | os.PathLike[str]) -> StateDict:
    """The tensors of a PyTorch state dict (``.pt``/``.pth``, torch.save) or a ``.safetensors``
    file as a StateDict (module docstring: safe loading, memory checked before reading).

    Refused with a FourierCircuitsError naming the file and why: a missing file, an .npz (read it
    with theory.PolyNet.load), a pickle that needs more than tensors, dicts and numbers (a whole
    nn.Module: save ``model.state_dict()`` instead), a damaged file, forged shapes, a compression
    bomb, a file whose tensors would not fit in memory, a file without floating-point tensors."""
    source = _existing_file(path)
    kind = detect_format(source)
    if kind == "npz":
        raise FourierCircuitsError(
            f"cannot read {str(source)!r} as a state dict: it is an .npz network file (read it "
            "with theory.PolyNet.load, or `inspect` it directly)"
        )
    if kind == "safetensors":
        return load_safetensors(source)
    return _load_pytorch(source)


def _check_pytorch_zip(source: Path, where: str) -> None:
    """Refuse, unread, a zip-based .pt whose members would not fit in memory, decompress far
    beyond their stored size, or whose pickle is larger than MAX_PICKLE_BYTES."""
    try:
        with zipfile.ZipFile(source) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise FourierCircuitsError(f"{where}: a damaged zip archive ({_one_line(err)})") from None
    storage = 0
    for info in infos:
        refuse_compression_bomb(info, where=where, member=info.filename)
        if info.filename.endswith("data.pkl") and info.file_size > MAX_PICKLE_BYTES:
            raise FourierCircuitsError(
                f"{where}: its pickle is {budget.format_bytes(info.file_size)}, more than the "
                f"limit {budget.format_bytes(MAX_PICKLE_BYTES)} (a state dict's is small)"
            )
        if "/data/" in info.filename:
            storage += info.file_size
    # the storages are memory-mapped; the float64 copies may be up to 8x a 1-byte dtype's size
    budget.require_memory(f"reading {str(source)!r} (float64 copies of its tensors)", 8 * storage)


_UNSUPPORTED = re.compile(r"GLOBAL ([\w.]+)")


def _pickled_module(source: Path) -> bool:
    """Whether the pickle of `source` holds an nn.Module: read with pickletools.genops, which
    parses opcodes and runs nothing, looking for a Module's own attribute names."""
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as zf:
                name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                raw = zf.read(name)
        else:
            raw = source.read_bytes()
        for opcode, arg, _ in pickletools.genops(raw):
            if "UNICODE" in opcode.name and arg in ("_modules", "_parameters", "_buffers"):
                return True
            if opcode.name == "GLOBAL" and str(arg).startswith("torch.nn.modules"):
                return True
    except Exception:  # a damaged pickle: no more to say than that it was refused
        return False
    return False


def _refusal(where: str, err: BaseException, source: Path) -> FourierCircuitsError:
    """The error for a pickle that weights_only loading refused: what it needed, never how to
    load it unsafely."""
    text = str(err)
    found = _UNSUPPORTED.search(text)
    needed = found.group(1) if found else None
    if (needed and needed.startswith("torch.nn.modules")) or _pickled_module(source):
        needed = needed or "a Module"
        return FourierCircuitsError(
            f"{where}: it is a whole nn.Module pickle ({needed}); only state dicts are read "
            "(tensors, dicts and numbers): save `torch.save(model.state_dict(), path)` instead"
        )
    what = f" (it needs {needed})" if needed else ""
    return FourierCircuitsError(
        f"{where}: it holds Python objects besides tensors, dicts and numbers{what}; such a "
        "pickle could run code when loaded, so it is refused unread. Save the model's tensors "
        "with `torch.save(model.state_dict(), path)` or safetensors"
    )


def _numpy_globals() -> list[Any]:
    """What a checkpoint may also hold, allowed besides tensors, dicts and numbers: numpy
    scalars and arrays of numeric dtypes (rebuilt from a dtype and raw bytes; TransformerLens's
    config.to_dict() holds scalars and dtypes, training logs arrays). None calls anything it is
    given; an object dtype stays refused."""
    core = getattr(np, "_core", None) or np.core
    dtype_classes = {type(np.dtype(code)) for code in "?bhilqpBHILQPefdgFDG"}  # numeric kinds
    return [
        core.multiarray.scalar,
        core.multiarray._reconstruct,
        np.ndarray,
        np.dtype,
        *sorted(dtype_classes, key=str),
    ]


def _load_pytorch(source: Path) -> StateDict:
    import torch

    where = f"cannot read {str(source)!r}"
    is_zip = zipfile.is_zipfile(source)
    if is_zip:
        _check_pytorch_zip(source, where)
    else:  # a legacy pickle is read into memory whole, then copied
        budget.require_memory(
            f"reading {str(source)!r} (a legacy pickle, read whole)", 9 * source.stat().st_size
        )
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(_numpy_globals()):
            warnings.simplefilter("ignore")  # e.g. "Detected pickle protocol 4": not the user's
            obj = torch.load(source, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as err:
        raise _refusal(where, err, source) from None
    except Exception as err:  # torch's zip reader and unpickler raise many kinds on bad input
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise _refusal(where, err, source) from None
        raise FourierCircuitsError(
            f"{where}: not a valid PyTorch file ({type(err).__name__}: {_one_line(err)[:300]})"
        ) from None
    return _from_object(obj, path=str(source), kind="pytorch", where=where)


def _is_tensor(value: Any) -> bool:
    return hasattr(value, "detach") and hasattr(value, "dtype") and hasattr(value, "shape")


def _from_object(obj: Any, *, path: str, kind: str, where: str) -> StateDict:
    """A StateDict from what torch.load returned (a state dict, or a checkpoint holding one)."""
    if _is_tensor(obj) or not isinstance(obj, Mapping):
        raise FourierCircuitsError(
            f"{where}: it holds a {type(obj).__name__}, not a state dict (a dict of tensors): "
            "save `torch.save(model.state_dict(), path)`"
        )
    source_key = None
    for key in WRAPPER_KEYS:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and any(_is_tensor(v) for v in inner.values()):
            source_key = key
            break
    if source_key is not None:
        state = obj[source_key]
        rest = {str(key): value for key, value in obj.items() if key != source_key}
    else:
        state, rest = obj, {}
    flat: dict[str, Any] = {}
    _flatten(state, "", flat, rest, depth=0, where=where)
    # what experiments.export writes beside the tensors, in the state dict's own _metadata
    ours = getattr(state, "_metadata", None)
    if isinstance(ours, Mapping) and isinstance(ours.get("fourier_circuits"), Mapping):
        rest = {**ours["fourier_circuits"], **rest}
    metadata = _describe(rest, depth=0)
    check_meta_depth(metadata, where=f"{where}: metadata")
    return _convert(flat, metadata=metadata, path=path, kind=kind, source_key=source_key)


def _flatten(
    value: Mapping[Any, Any],
    prefix: str,
    flat: dict[str, Any],
    rest: dict[str, Any],
    *,
    depth: int,
    where: str,
) -> None:
    """Tensors of nested dicts into flat (names joined by "."), other entries into rest."""
    if depth > MAX_META_DEPTH:
        raise FourierCircuitsError(f"{where}: dicts nested more than {MAX_META_DEPTH} deep")
    for key, item in value.items():
        name = f"{prefix}{key}"
        if _is_tensor(item) or isinstance(item, np.ndarray):
            flat[name] = item
        elif isinstance(item, Mapping) and any(
            _is_tensor(v) or isinstance(v, Mapping) for v in item.values()
        ):
            _flatten(item, f"{name}.", flat, rest, depth=depth + 1, where=where)
        else:
            rest[name] = item


def _describe(value: Any, *, depth: int) -> Any:
    """value as JSON-able data: tensors described by dtype and shape, tuples as lists, other
    objects (torch.dtype, torch.Size) as their str, non-finite floats as None."""
    if depth > MAX_META_DEPTH:
        return "<nested too deeply>"
    if isinstance(value, np.generic):
        value = value.item()
    if _is_tensor(value) or isinstance(value, np.ndarray):
        return f"<tensor {str(value.dtype).removeprefix('torch.')} {tuple(value.shape)}>"
    if isinstance(value, Mapping):
        return {str(key): _describe(item, depth=depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_describe(item, depth=depth + 1) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _convert(
    flat: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any],
    path: str,
    kind: str,
    source_key: str | None,
) -> StateDict:
    """Float tensors to read-only float64 numpy (memory checked first), others skipped."""
    where = f"cannot read {path!r}"
    if len(flat) > MAX_TENSORS:
        raise FourierCircuitsError(f"{where}: {len(flat)} tensors, more than {MAX_TENSORS}")
    floats: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    for name, value in flat.items():
        dtype = value.dtype
        is_float = bool(dtype.is_floating_point) if _is_tensor(value) else dtype.kind == "f"
        if is_float:
            floats[name] = value
        else:
            skipped[name] = f"{str(dtype).removeprefix('torch.')} {tuple(value.shape)}"
    if not floats:
        raise FourierCircuitsError(
            f"{where}: no floating-point tensors in it (found {len(flat)} other entries)"
        )
    _require_float64(f"reading {path!r}", {n: tuple(v.shape) for n, v in floats.items()})
    tensors = {}
    for name, value in floats.items():
        if _is_tensor(value):
            import torch

            array = value.detach().to(device="cpu", dtype=torch.float64).numpy().copy()
        else:
            array = np.array(value, dtype=np.float64, copy=True)
        tensors[name] = _frozen(array)
    return StateDict(tensors, dict(metadata), path, kind, source_key, skipped)


def state_dict_from_mapping(
    tensors: Mapping[str, Any],
    *,
    metadata: Mapping[str, Any] | None = None,
    path: str = "<memory>",
) -> StateDict:
    """A StateDict from tensors held in memory: ``model.state_dict()`` (torch tensors) or a dict
    of numpy arrays. Float tensors become float64 copies; integer and boolean ones are skipped.
    metadata: what the file would say (e.g. {"k": 2} or a TransformerLens "config")."""
    if not isinstance(tensors, Mapping):
        raise FourierCircuitsError(
            f"tensors is a {type(tensors).__name__}; pass a mapping name -> tensor "
            "(model.state_dict())"
        )
    where = "cannot use the state dict"
    flat: dict[str, Any] = {}
    rest: dict[str, Any] = {}
    converted = {
        key: value if _is_tensor(value) or isinstance(value, Mapping) else np.asarray(value)
        for key, value in tensors.items()
    }
    _flatten(converted, "", flat, rest, depth=0, where=where)
    if rest:
        raise FourierCircuitsError(f"{where}: entries {sorted(rest)[:5]} are not tensors or arrays")
    meta = _describe(dict(metadata or {}), depth=0)
    check_meta_depth(meta, where="metadata")
    return _convert(flat, metadata=meta, path=path, kind="memory", source_key=None)
