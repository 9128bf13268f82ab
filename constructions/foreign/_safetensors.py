"""The .safetensors reader: the header (8-byte little-endian length, then JSON) parsed here,
every entry's shape and offsets checked against the data it claims before anything is read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.foreign._state import (
    MAX_TENSORS,
    StateDict,
    _frozen,
    _one_line,
    _require_float64,
)
from fourier_circuits.theory.errors import FourierCircuitsError

#: A safetensors header (JSON: names, dtypes, shapes, offsets) larger than this is refused.
MAX_HEADER_BYTES = 2**26

_SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    # safetensors dtype -> (numpy dtype, itemsize); BF16 is widened by hand (numpy has none)
    "F64": ("<f8", 8),
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
    "I64": ("<i8", 8),
    "I32": ("<i4", 4),
    "I16": ("<i2", 2),
    "I8": ("i1", 1),
    "U64": ("<u8", 8),
    "U32": ("<u4", 4),
    "U16": ("<u2", 2),
    "U8": ("u1", 1),
    "BOOL": ("?", 1),
}
_FLOAT_DTYPES = ("F64", "F32", "F16", "BF16")


def header_length(head: bytes, size: int) -> int | None:
    """The header length of a safetensors file starting with `head` (>= 9 bytes) of `size`
    bytes, or None when it is not one (8-byte little-endian length, then '{')."""
    if len(head) < 9:
        return None
    length = int.from_bytes(head[:8], "little")
    if 2 <= length <= size - 8 and head[8:9] == b"{":
        return length
    return None


def load_safetensors(source: Path) -> StateDict:
    where = f"cannot read {str(source)!r}"
    size = source.stat().st_size
    with open(source, "rb") as fh:
        head = fh.read(16)
        length = header_length(head, size)
        if length is None or length > MAX_HEADER_BYTES:
            raise FourierCircuitsError(f"{where}: not a valid .safetensors header")
        fh.seek(8)
        raw = fh.read(length)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise FourierCircuitsError(
            f"{where}: the .safetensors header is not valid JSON ({_one_line(err)})"
        ) from None
    if not isinstance(header, dict):
        raise FourierCircuitsError(f"{where}: the .safetensors header is not a JSON object")
    raw_meta = header.pop("__metadata__", None) or {}
    if not isinstance(raw_meta, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in raw_meta.items()
    ):
        raise FourierCircuitsError(f"{where}: __metadata__ must map strings to strings")
    if len(header) > MAX_TENSORS:
        raise FourierCircuitsError(f"{where}: {len(header)} tensors, more than {MAX_TENSORS}")
    data_size = size - 8 - length
    entries: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
    for name, entry in header.items():
        entries[name] = _safetensors_entry(where, name, entry, data_size)
    floats = {name: e[1] for name, e in entries.items() if e[0] in _FLOAT_DTYPES}
    _require_float64(f"reading {str(source)!r}", floats)
    tensors: dict[str, np.ndarray] = {}
    skipped: dict[str, str] = {}
    with open(source, "rb") as fh:
        for name, (dtype, shape, start, end) in entries.items():
            if dtype not in _FLOAT_DTYPES:
                skipped[name] = f"{dtype.lower()} {shape}"
                continue
            fh.seek(8 + length + start)
            buffer = fh.read(end - start)
            values = np.frombuffer(buffer, dtype=_SAFETENSORS_DTYPES[dtype][0])
            if dtype == "BF16":  # bfloat16 is the top half of a float32
                values = (values.astype(np.uint32) << 16).view(np.float32)
            tensors[name] = _frozen(values.astype(np.float64).reshape(shape))
    if not tensors:
        raise FourierCircuitsError(f"{where}: no floating-point tensors in it")
    return StateDict(tensors, dict(raw_meta), str(source), "safetensors", None, skipped)


def _safetensors_entry(
    where: str, name: str, entry: Any, data_size: int
) -> tuple[str, tuple[int, ...], int, int]:
    """(dtype, shape, start, end) of one header entry, checked against the data it claims."""
    if not isinstance(entry, dict):
        raise FourierCircuitsError(f"{where}: header entry {name!r} is not an object")
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    shape = shape if isinstance(shape, list) else None
    if dtype not in _SAFETENSORS_DTYPES:
        raise FourierCircuitsError(
            f"{where}: tensor {name!r} has dtype {dtype!r}; read are "
            f"{', '.join(_SAFETENSORS_DTYPES)}"
        )
    ints = (
        shape is not None
        and isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(n) is int and n >= 0 for n in [*shape, *offsets])
    )
    if not ints or shape is None or not isinstance(offsets, list):
        raise FourierCircuitsError(
            f"{where}: tensor {name!r} has shape {entry.get('shape')!r} and data_offsets "
            f"{offsets!r}; both must be lists of integers >= 0"
        )
    start, end = offsets
    nbytes = budget.array_bytes(shape, _SAFETENSORS_DTYPES[dtype][1])
    if not start <= end <= data_size or end - start != nbytes:
        raise FourierCircuitsError(
            f"{where}: tensor {name!r} claims shape {tuple(shape)} of {dtype} "
            f"({budget.format_bytes(nbytes)}) at bytes {start}..{end} of "
            f"{budget.format_bytes(data_size)} of data (a forged or truncated file)"
        )
    return dtype, tuple(shape), start, end
