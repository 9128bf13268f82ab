"""Where results are written: output paths checked before any work, files written atomically,
and JSON made valid. Light on purpose (no torch, cvxpy or matplotlib), so every subcommand can use
it without loading what it does not need."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fourier_circuits.theory import FourierCircuitsError


def require_writable_dir(path: str) -> Path:
    """Fail fast when --out cannot be written: an existing writable directory, or a new one
    whose parent is a writable directory (created only when the results are written)."""
    target = Path(path)
    if target.exists():
        if not target.is_dir():
            raise FourierCircuitsError(f"--out {path!r} exists and is not a directory")
        if not os.access(target, os.W_OK | os.X_OK):
            raise FourierCircuitsError(f"--out {path!r} is not writable")
        return target
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise FourierCircuitsError(f"--out {path!r}: directory {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FourierCircuitsError(f"--out {path!r}: directory {str(parent)!r} is not writable")
    return target


def make_out_dir(out: Path) -> None:
    """Create --out (checked by require_writable_dir) when the results are written; an OS error
    is bad input named with the path."""
    try:
        out.mkdir(exist_ok=True)
    except OSError as err:
        raise FourierCircuitsError(f"--out {str(out)!r}: {err.strerror or err}") from None


def _file_mode() -> int:
    """The mode open() gives a new file: 0666 less the umask (read from /proc where possible,
    so the process umask is never changed), 0644 elsewhere."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    return 0o644


def write_atomic(target: Path, data: bytes) -> Path:
    """Write data to target atomically: a temporary file beside it, renamed over it only when
    complete, so a reader never sees half a file; on failure the temporary file is removed."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, _file_mode())
        os.replace(tmp, target)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise FourierCircuitsError(f"cannot write {str(target)!r}: {err}") from None
        raise
    return target
