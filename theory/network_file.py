"""The network file of DESIGN.md, and the project's one atomic file writer.

A network file is an .npz (read with allow_pickle=False) holding arrays U (m, k, p) and W (m, p),
float64; scalars p and k; and optionally meta, a JSON object as a string (how it was made,
versions, seed). theory.network.PolyNet.save and PolyNet.load call save_network and load_network;
load_network refuses every malformed file with a FourierCircuitsError naming the path and why.

Loading reads each member's .npy header (shape, dtype) before its data and refuses, unread, a
member whose data would not fit (theory.budget.require_memory: the members' bytes prod(shape) x
itemsize plus the float64 copies of U and W that PolyNet makes), whose header claims more bytes
than the member holds (a forged shape), or which decompresses to more than MAX_COMPRESSION_RATIO
times its stored size and more than BOMB_MIN_BYTES (a compression bomb: float64 weights compress
by far less than 2x).
"""

from __future__ import annotations

import io
import json
import math
import os
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.theory.errors import FourierCircuitsError

N = TypeVar("N")

#: The members of a network file (DESIGN.md), in the order they are read; meta is optional.
KEYS = ("U", "W", "p", "k", "meta")
#: A member that decompresses to more than this many times its stored size ...
MAX_COMPRESSION_RATIO = 100
#: ... and to more than this many bytes is refused unread as a compression bomb.
BOMB_MIN_BYTES = 2**26
#: meta is a short description (how the network was made); longer text is refused unread (JSON
#: parsing takes many times the text's size in memory).
MAX_META_BYTES = 2**24
#: Deepest nesting of lists and objects accepted in meta (json and repr recurse per level).
MAX_META_DEPTH = 32


def _one_line(err: BaseException) -> str:
    """The message of err on one line (the CLI prints errors as a single line)."""
    return " ".join(str(err).split())


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (/proc), else by the
    set-and-restore idiom."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike[str], data: bytes, *, action: str = "write") -> Path:
    """Write data to path atomically: nothing half-written is ever visible there.

    The data go to a temporary file beside the target (mode 0666 less the umask, as open() would
    give), which is renamed over it only when complete; on any failure (or interrupt) the temporary
    file is removed and an existing target is left untouched. An OS error becomes a
    FourierCircuitsError "cannot {action} {path!r}: {reason}" (action: "write", "save to").
    """
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise FourierCircuitsError(
            f"cannot {action} {str(target)!r}: {str(directory)!r} is not a directory"
        )
    fd, tmp = -1, ""
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
        # mkstemp creates the file 0600; give it the mode open() would (0666 less umask)
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
        os.replace(tmp, target)
    except BaseException as err:
        if fd >= 0:
            os.close(fd)
        if tmp and os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise FourierCircuitsError(
                f"cannot {action} {str(target)!r}: {err.strerror or err}"
            ) from None
        raise
    return target


def check_meta_depth(meta: object, *, where: str = "meta") -> None:
    """Refuse meta nested deeper than MAX_META_DEPTH levels of dicts, lists and tuples (walked
    iteratively, so a cycle or a deep structure cannot exhaust the stack)."""
    stack: list[tuple[object, int]] = [(meta, 1)]
    while stack:
        value, depth = stack.pop()
        children: Any = (
            value.values()
            if isinstance(value, dict)
            else value
            if isinstance(value, (list, tuple))
            else ()
        )
        for child in children:
            if isinstance(child, (dict, list, tuple)):
                if depth + 1 > MAX_META_DEPTH:
                    raise FourierCircuitsError(
                        f"{where} is nested more than {MAX_META_DEPTH} levels deep (the limit; "
                        "meta describes how a network was made, in a few levels)"
                    )
                stack.append((child, depth + 1))


def _check_meta_values(meta: dict[str, Any]) -> None:
    """Refuse what JSON cannot hold exactly: keys that are not strings, non-finite floats and
    values other than None, bool, int, float, str, lists, tuples and dicts."""
    stack: list[tuple[str, object]] = [("meta", meta)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, child in value.items():
                if not isinstance(key, str):
                    raise FourierCircuitsError(
                        f"meta is not JSON-serialisable: {where} has the key {key!r} "
                        f"({type(key).__name__}); JSON object keys are strings"
                    )
                stack.append((f"{where}[{key!r}]", child))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{where}[{i}]", child) for i, child in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            raise FourierCircuitsError(
                f"meta is not JSON-serialisable: {where} = {value!r} (JSON has no NaN or infinity)"
            )
        elif value is not None and not isinstance(value, (bool, int, float, str)):
            raise FourierCircuitsError(
                f"meta is not JSON-serialisable: {where} is a {type(value).__name__} (JSON holds "
                "None, bool, int, float, str, lists and objects)"
            )


def meta_json(meta: dict[str, Any]) -> str:
    """meta as the JSON text of a network file, or a FourierCircuitsError "meta is not
    JSON-serialisable: ..." naming the value (check_meta_depth, then _check_meta_values)."""
    check_meta_depth(meta)
    _check_meta_values(meta)
    try:
        return json.dumps(meta, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as err:  # e.g. an int of > 4300 digits
        raise FourierCircuitsError(f"meta is not JSON-serialisable: {_one_line(err)}") from None


def save_network(
    path: str | os.PathLike[str], U: np.ndarray, W: np.ndarray, meta: dict[str, Any]
) -> Path:
    """Write U: (m, k, p), W: (m, p), p, k and meta (JSON) as a network file, atomically
    (write_atomic). meta must be JSON-serialisable (meta_json); it is refused before anything is
    written."""
    target = Path(path)
    text = meta_json(meta)
    _, k, p = U.shape
    budget.require_memory(
        f"saving {str(target)!r} (the file is built in memory)", 2 * (U.nbytes + W.nbytes)
    )
    buffer = io.BytesIO()
    try:
        np.savez(buffer, U=U, W=W, p=np.int64(p), k=np.int64(k), meta=np.str_(text))
    except OSError as err:
        raise FourierCircuitsError(
            f"cannot save to {str(target)!r}: {err.strerror or err}"
        ) from None
    return write_atomic(target, buffer.getvalue(), action="save to")


class _NotNpyError(Exception):
    """A member whose bytes do not start with the .npy magic."""


def _member_header(member: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) of the .npy stream `member`, reading only its header."""
    if member.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
        raise _NotNpyError
    version = tuple(member.read(2))
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(member)
    elif version == (2, 0):
        shape, _, dtype = np.lib.format.read_array_header_2_0(member)
    else:
        raise ValueError(f".npy format version {version} is not read here (1.0 and 2.0 are)")
    return tuple(int(n) for n in shape), dtype


def _check_members(zf: zipfile.ZipFile, names: dict[str, str], where: str, label: str) -> None:
    """Read each member's header and refuse, before any data is read: non-.npy members, object
    arrays, forged shapes, compression bombs, meta over MAX_META_BYTES and arrays that would not
    fit in memory (module docstring)."""
    need = 0
    shapes: dict[str, tuple[int, ...]] = {}
    for key, name in names.items():
        info = zf.getinfo(name)
        with zf.open(info) as member:
            try:
                shape, dtype = _member_header(member)
            except _NotNpyError:
                raise FourierCircuitsError(f"{where}: member {key!r} is not a .npy array") from None
            data_bytes = info.file_size - member.tell()
        if dtype.hasobject:
            raise FourierCircuitsError(
                f"{where}: not a valid .npz (member {key!r} holds Python objects, dtype {dtype}: "
                "Object arrays cannot be loaded when allow_pickle=False; a network file holds "
                "numbers only, so it is refused unread)"
            )
        nbytes = budget.array_bytes(shape, dtype.itemsize)
        if nbytes > data_bytes:
            raise FourierCircuitsError(
                f"{where}: not a valid .npz (member {key!r} claims shape {shape} of {dtype}, "
                f"{budget.format_bytes(nbytes)}, but holds {budget.format_bytes(data_bytes)})"
            )
        refuse_compression_bomb(info, where=where, member=key)
        if key == "meta" and nbytes > MAX_META_BYTES:
            raise FourierCircuitsError(
                f"{where}: meta is {budget.format_bytes(nbytes)}, more than the limit "
                f"{budget.format_bytes(MAX_META_BYTES)} (meta says how the network was made)"
            )
        # the member as read, and for U and W the validated float64 copy PolyNet makes (8 bytes
        # a value, and 1 for its finiteness check)
        shapes[key] = shape
        need += nbytes + (9 * math.prod(shape) if key in ("U", "W") else 0)
    budget.require_memory(
        f"loading {label!r} (U of shape {shapes['U']}, W of shape {shapes['W']}, as float64 "
        "and their validated copies)",
        need,
    )


def _read_members(fh: Any, where: str, label: str) -> dict[str, Any]:
    """The members of KEYS present in the .npz open as fh, each checked before it is read."""
    head = fh.read(len(np.lib.format.MAGIC_PREFIX))
    if head == np.lib.format.MAGIC_PREFIX:
        raise FourierCircuitsError(f"{where}: it holds a single .npy array, not an .npz archive")
    fh.seek(0)
    with zipfile.ZipFile(fh) as zf:
        present = set(zf.namelist())
        # as numpy's NpzFile: member "U.npy" (or a bare "U") is the array U
        names = {
            key: name
            for key in KEYS
            for name in (f"{key}.npy", key)
            if name in present and not (name == key and f"{key}.npy" in present)
        }
        missing = [key for key in ("U", "W", "p", "k") if key not in names]
        if missing:
            raise FourierCircuitsError(
                f"{where}: it lacks the arrays {missing}; a network file holds U, W, p, k"
            )
        _check_members(zf, names, where, label)
        arrays = {}
        for key, name in names.items():
            with zf.open(name) as member:
                arrays[key] = np.lib.format.read_array(member, allow_pickle=False)
    return arrays


def _parse_meta(raw: str, where: str) -> dict[str, Any]:
    try:
        meta = json.loads(raw)
    except RecursionError:
        raise FourierCircuitsError(
            f"{where}: meta is nested more than {MAX_META_DEPTH} levels deep (the limit)"
        ) from None
    except ValueError as err:  # JSONDecodeError, or an integer beyond Python's digit limit
        raise FourierCircuitsError(f"{where}: meta is not valid JSON ({_one_line(err)})") from None
    if not isinstance(meta, dict):
        raise FourierCircuitsError(f"{where}: meta must be a JSON object")
    check_meta_depth(meta, where=f"{where}: meta")
    return meta


def load_network(path: str | os.PathLike[str], build: Callable[[Any, Any, dict[str, Any]], N]) -> N:
    """Read a network file (allow_pickle=False) and return build(U, W, meta), validated.

    build validates the arrays (PolyNet); its FourierCircuitsError is re-raised naming the path.
    Refused, with the reason: a missing file or a directory, a file that is not an .npz (truncated,
    corrupt, a bare .npy, a foreign zip), missing or non-.npy members, object arrays, members too
    large for memory or decompressing far beyond their stored size (read unread: module
    docstring), meta that is not a JSON object (or nested too deeply), p or k that are not single
    integers or disagree with U's shape (m, k, p).
    """
    source = require_regular_file(path, where=f"cannot load {os.fspath(path)!r}")
    where = f"cannot load {str(source)!r}"
    try:
        with open(source, "rb") as fh:
            arrays = _read_members(fh, where, str(source))
    except FourierCircuitsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, zlib.error) as err:
        raise FourierCircuitsError(f"{where}: not a valid .npz ({_one_line(err)})") from None
    except Exception as err:
        # A foreign file reaches zipfile's and numpy's parsers, whose failures on corrupt
        # input are not all ValueErrors (measured by flipping bytes of a valid file:
        # NotImplementedError "zip file version 7.9", tokenize.TokenError from the .npy
        # header); every one means "not a network file".
        raise FourierCircuitsError(
            f"{where}: not a valid .npz ({type(err).__name__}: {_one_line(err)})"
        ) from None
    U, W, p, k = arrays["U"], arrays["W"], arrays["p"], arrays["k"]
    meta_raw = str(arrays["meta"]) if "meta" in arrays else "{}"
    meta = _parse_meta(meta_raw, where)
    for name, value in (("p", p), ("k", k)):
        if np.ndim(value) != 0 or value.dtype.kind not in "iu":
            raise FourierCircuitsError(f"{where}: stored {name}={value!r} must be a single integer")
    try:
        net = build(U, W, meta)
    except FourierCircuitsError as err:
        raise FourierCircuitsError(f"{where}: {err}") from None
    _, k_of_U, p_of_U = U.shape  # (m, k, p): build has checked that U has 3 axes
    if (int(p), int(k)) != (p_of_U, k_of_U):
        raise FourierCircuitsError(
            f"{where}: stored p={int(p)}, k={int(k)} do not match U of shape {U.shape} = (m, k, p)"
        )
    return net


def refuse_compression_bomb(info: zipfile.ZipInfo, *, where: str, member: str) -> None:
    """Refuse, from its zip header alone, a member that would decompress to more than
    MAX_COMPRESSION_RATIO times its stored size (above BOMB_MIN_BYTES): network weights hardly
    compress, so such a member is a compression bomb. Shared by every zip-based file the toolkit
    reads (.npz here, PyTorch's zip checkpoints in constructions.foreign.files)."""
    if info.file_size > BOMB_MIN_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(
        info.compress_size, 1
    ):
        raise FourierCircuitsError(
            f"{where}: member {member!r} decompresses to {budget.format_bytes(info.file_size)} "
            f"from {budget.format_bytes(info.compress_size)}, more than the limit "
            f"{MAX_COMPRESSION_RATIO}x (a compression bomb: network weights hardly compress); "
            "refused unread"
        )


def require_regular_file(path: str | os.PathLike[str], *, where: str) -> Path:
    """`path` as a Path when it names a regular file to read; otherwise FourierCircuitsError
    `where: ...` saying what is there instead: an empty path, nothing, a directory, or a FIFO,
    device or socket (reading one could block or never end). Shared by every reader of files
    (.npz here, foreign state dicts in constructions.foreign.files, inspect's file list)."""
    if os.fspath(path) == "":
        raise FourierCircuitsError(f"{where}: the path is empty; give a file")
    source = Path(path)
    try:
        mode = source.stat().st_mode
    except FileNotFoundError:
        raise FourierCircuitsError(f"{where}: no such file") from None
    except OSError as err:
        raise FourierCircuitsError(f"{where}: {err.strerror or err}") from None
    if stat.S_ISDIR(mode):
        raise FourierCircuitsError(f"{where}: no such file (it is a directory)")
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise FourierCircuitsError(
            f"{where}: it is {kind}, not a regular file (reading it could block or never end)"
        )
    return source
