"""The network file of DESIGN.md, and the project's one atomic file writer.

A network file is an .npz (read with allow_pickle=False) holding arrays U (m, k, p) and W (m, p),
float64; scalars p and k; and optionally meta, a JSON object as a string (how it was made,
versions, seed). theory.network.PolyNet.save and PolyNet.load call save_network and load_network;
load_network refuses every malformed file with a FourierCircuitsError naming the path and why.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from fourier_circuits.theory.errors import FourierCircuitsError

N = TypeVar("N")


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


def save_network(
    path: str | os.PathLike[str], U: np.ndarray, W: np.ndarray, meta: dict[str, Any]
) -> Path:
    """Write U: (m, k, p), W: (m, p), p, k and meta (JSON) as a network file, atomically
    (write_atomic). meta must be JSON-serialisable; it is refused before anything is written."""
    target = Path(path)
    try:
        meta_json = json.dumps(meta, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise FourierCircuitsError(f"meta is not JSON-serialisable: {err}") from None
    _, k, p = U.shape
    buffer = io.BytesIO()
    try:
        np.savez(buffer, U=U, W=W, p=np.int64(p), k=np.int64(k), meta=np.str_(meta_json))
    except OSError as err:
        raise FourierCircuitsError(
            f"cannot save to {str(target)!r}: {err.strerror or err}"
        ) from None
    return write_atomic(target, buffer.getvalue(), action="save to")


def load_network(path: str | os.PathLike[str], build: Callable[[Any, Any, dict[str, Any]], N]) -> N:
    """Read a network file (allow_pickle=False) and return build(U, W, meta), validated.

    build validates the arrays (PolyNet); its FourierCircuitsError is re-raised naming the path.
    Refused, with the reason: a missing file or a directory, a file that is not an .npz (truncated,
    corrupt, a bare .npy, a foreign zip), missing or non-.npy members, object arrays, meta that is
    not a JSON object, p or k that are not single integers or disagree with U's shape (m, k, p).
    """
    source = Path(path)
    where = f"cannot load {str(source)!r}"
    if source.is_dir():
        raise FourierCircuitsError(f"{where}: no such file (it is a directory)")
    if not source.is_file():
        raise FourierCircuitsError(f"{where}: no such file")
    try:
        # open the file here: np.load leaks its own handle when the zip is truncated
        with open(source, "rb") as fh:
            data = np.load(fh, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):  # a bare .npy array
                raise FourierCircuitsError(
                    f"{where}: it holds a single .npy array, not an .npz archive"
                )
            with data:
                missing = [key for key in ("U", "W", "p", "k") if key not in data.files]
                if missing:
                    raise FourierCircuitsError(
                        f"{where}: it lacks the arrays {missing}; a network file holds U, W, p, k"
                    )
                arrays = {
                    key: data[key] for key in ("U", "W", "p", "k", "meta") if key in data.files
                }
    except FourierCircuitsError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError, zlib.error) as err:
        raise FourierCircuitsError(f"{where}: not a valid .npz ({_one_line(err)})") from None
    except Exception as err:
        # A foreign file reaches zipfile's and numpy's parsers, whose failures on corrupt
        # input are not all ValueErrors (measured by flipping bytes of a valid file:
        # NotImplementedError "zip file version 7.9", tokenize.TokenError from the .npy
        # header, MemoryError from a forged shape); every one means "not a network file".
        raise FourierCircuitsError(
            f"{where}: not a valid .npz ({type(err).__name__}: {_one_line(err)})"
        ) from None
    for key, value in arrays.items():
        if not isinstance(value, np.ndarray):  # NpzFile returns raw bytes for non-.npy
            raise FourierCircuitsError(f"{where}: member {key!r} is not a .npy array")
    U, W, p, k = arrays["U"], arrays["W"], arrays["p"], arrays["k"]
    meta_raw = str(arrays["meta"]) if "meta" in arrays else "{}"
    try:
        meta = json.loads(meta_raw)
    except json.JSONDecodeError as err:
        raise FourierCircuitsError(f"{where}: meta is not valid JSON ({_one_line(err)})") from None
    if not isinstance(meta, dict):
        raise FourierCircuitsError(f"{where}: meta must be a JSON object")
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
