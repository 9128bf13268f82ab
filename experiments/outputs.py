"""Where results are written (DESIGN.md, "Contracts"): --save files and --out directories.

Targets are checked before any work (check_save, check_out); the run then builds its outputs in
temporary hidden siblings (Staged) that are renamed into place together when the work is
complete, and removed on any failure, interrupt or SIGTERM. Files are written atomically by
theory's one writer, write_atomic. Light on purpose (no torch, cvxpy or matplotlib), so every
subcommand can use it without loading what it does not need.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import stat
import threading
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from fourier_circuits.theory import FourierCircuitsError, jsonable, write_atomic

__all__ = [
    "Staged",
    "add_force_argument",
    "check_out",
    "check_save",
    "json_file",
    "require_outside",
    "write_atomic",
]  # one atomic writer: theory's

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
    stat.S_IFREG: "a regular file",
}


def add_force_argument(parser: argparse.ArgumentParser) -> None:
    """The --force flag of every subcommand that writes."""
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing --save file or --out directory (a symbolic link is replaced, "
        "not followed; devices, FIFOs and sockets are always refused)",
    )


def _lstat(target: Path, what: str) -> os.stat_result | None:
    """The target's own status (a link is not followed), None when nothing is there."""
    try:
        return os.lstat(target)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        raise FourierCircuitsError(f"{what} {str(target)!r}: {err.strerror or err}") from None


def _require_parent(target: Path, what: str) -> None:
    """The directory that will hold target (and its temporary sibling) exists and is writable."""
    shown = target.parent
    parent = Path(os.path.abspath(target)).parent
    if not parent.exists():
        raise FourierCircuitsError(
            f"{what} {str(target)!r}: directory {str(shown)!r} does not exist"
        )
    if not parent.is_dir():
        raise FourierCircuitsError(f"{what} {str(target)!r}: {str(shown)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise FourierCircuitsError(
            f"{what} {str(target)!r}: directory {str(shown)!r} is not writable"
        )


def _require_nonempty(path: str | os.PathLike[str], what: str) -> None:
    """An empty path is not "the current directory": it is a mistake (an unset variable)."""
    if not os.fspath(path):
        raise FourierCircuitsError(f"{what} '' is an empty path; give a file or directory name")


def check_save(path: str | os.PathLike[str], *, force: bool, what: str = "--save") -> Path:
    """Check, before any work, that a file can be published at `path`: nothing there, or (with
    force) a regular file or a symbolic link, which is replaced (a link's target is left alone).
    A directory, device, FIFO or socket is refused always; the parent must be a writable
    directory. Returns the path as given."""
    _require_nonempty(path, what)
    target = Path(path)
    st = _lstat(target, what)
    if st is not None:
        kind = _KINDS.get(stat.S_IFMT(st.st_mode), "not a regular file")
        if stat.S_ISDIR(st.st_mode):
            raise FourierCircuitsError(f"{what} {str(target)!r} is a directory; give a file path")
        if stat.S_ISLNK(st.st_mode):
            if not force:
                raise FourierCircuitsError(
                    f"{what} {str(target)!r} is a symbolic link; pass --force to replace the "
                    "link (what it points to is left alone)"
                )
        elif not stat.S_ISREG(st.st_mode):
            raise FourierCircuitsError(
                f"{what} {str(target)!r} is {kind}, not a regular file; refusing to replace it"
            )
        elif not force:
            raise FourierCircuitsError(f"{what} {str(target)!r} exists; pass --force to replace it")
    _require_parent(target, what)
    return target


def _within(inner: Path, outer: Path) -> bool:
    """inner is outer or lies below it (both absolute)."""
    return inner == outer or outer in inner.parents


def check_out(path: str | os.PathLike[str], *, force: bool, what: str = "--out") -> Path:
    """Check, before any work, that a directory can be published at `path`: nothing there, an
    empty directory, or (with force) a non-empty directory or a symbolic link, which is replaced
    as a whole. Anything else that exists is refused always, and so is the current directory or
    one of its ancestors (it is in use), also with force; the parent must be a writable
    directory. Returns the path as given."""
    _require_nonempty(path, what)
    target = Path(path)
    here = Path(os.getcwd())
    if _within(here, Path(os.path.abspath(target))) or _within(
        here, Path(os.path.realpath(target))
    ):
        raise FourierCircuitsError(
            f"{what} {str(target)!r} is the current directory or contains it; refusing to replace "
            "a directory in use, also with --force (give a new directory)"
        )
    st = _lstat(target, what)
    if st is not None:
        if stat.S_ISLNK(st.st_mode):
            if not force:
                raise FourierCircuitsError(
                    f"{what} {str(target)!r} is a symbolic link; pass --force to replace the "
                    "link (what it points to is left alone)"
                )
        elif not stat.S_ISDIR(st.st_mode):
            kind = _KINDS.get(stat.S_IFMT(st.st_mode), "something else")
            raise FourierCircuitsError(
                f"{what} {str(target)!r} exists and is not a directory (it is {kind})"
            )
        elif not force and _non_empty(target, what):
            raise FourierCircuitsError(
                f"{what} {str(target)!r} is not empty; pass --force to replace it"
            )
    _require_parent(target, what)
    return target


def _non_empty(directory: Path, what: str) -> bool:
    try:
        with os.scandir(directory) as entries:
            return any(True for _ in entries)
    except OSError as err:
        raise FourierCircuitsError(f"{what} {str(directory)!r}: {err.strerror or err}") from None


def require_outside(
    path: str | os.PathLike[str], out: str | os.PathLike[str], *, what: str
) -> None:
    """Refuse a file (an input, or --save) that lies inside --out: the run replaces --out as a
    whole, so the file would be lost (an input) or could not be published (--save)."""
    replaced = Path(os.path.abspath(out))
    if _within(Path(os.path.abspath(path)), replaced) or _within(
        Path(os.path.realpath(path)), Path(os.path.realpath(out))
    ):
        raise FourierCircuitsError(
            f"{what} {str(path)!r} lies inside --out {str(out)!r}, which the run replaces as a "
            "whole; keep it outside"
        )


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while renames that belong together run, so an interrupt cannot
    publish half of a run or leave a temporary behind: a signal that arrives is recorded and
    raised again, for the handler it was meant for, on leaving. (Swapping the Python handlers,
    not blocking the signals: another thread, torch's, would take a blocked signal for Python.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []

    def hold(signum: int, frame: object) -> None:
        arrived.append(signum)

    # a handler installed outside Python (getsignal: None) could not be put back: left alone
    held = [sig for sig in (signal.SIGINT, signal.SIGTERM) if signal.getsignal(sig) is not None]
    previous = {sig: signal.signal(sig, hold) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in dict.fromkeys(arrived):
            signal.raise_signal(signum)


def _temporary_dir(target: Path, role: str) -> Path:
    """A new hidden directory beside target, .NAME.tmp-XXXXXXXXXXXXXXXX (the work) or
    .NAME.old-XXXXXXXXXXXXXXXX (the old target, set aside), made as mkdir makes --out: mode 0777
    less the umask (tempfile.mkdtemp's 0700 would be what a published --out gets)."""
    directory = Path(os.path.abspath(target))
    while True:
        candidate = directory.parent / f".{directory.name}.{role}-{secrets.token_hex(8)}"
        try:
            os.mkdir(candidate, 0o777)
        except FileExistsError:
            continue
        except OSError as err:  # e.g. /proc, which accepts no new directories, even from root
            raise FourierCircuitsError(
                f"--out {str(target)!r}: cannot create a directory in {str(directory.parent)!r}: "
                f"{err.strerror or err}"
            ) from None
        return candidate


class Staged:
    """The outputs of one run, built in temporary hidden siblings and published together.

        save = check_save(args.save, force=args.force) if args.save else None  # before any work
        out = check_out(args.out, force=args.force) if args.out else None
        with Staged(save=save, out=out, force=args.force) as stage:
            ...  # all the work; write the directory's files into stage.dir, the file to stage.file

    On leaving the block normally, stage.dir is renamed to `out` (an existing one moved aside
    first and removed after) and then stage.file, if it was written, to `save`; if the second
    rename fails the first is undone. On any exception (a FourierCircuitsError, an OSError such
    as a full disk, KeyboardInterrupt, SIGTERM) nothing is published and the temporaries are
    removed; an OSError, and a FourierCircuitsError naming a temporary, become a
    FourierCircuitsError naming the target. The targets are checked again just before publishing;
    SIGINT and SIGTERM are held while publishing or removing, so either happens completely.
    """

    def __init__(self, *, save: Path | None = None, out: Path | None = None, force: bool) -> None:
        self.save, self.out, self.force = save, out, force
        self.dir: Path | None = None  # the temporary directory standing in for `out`
        self.file: Path | None = None  # where to write the file for `save` (not yet created)
        if save is not None and out is not None:
            require_outside(save, out, what="--save")

    def __enter__(self) -> Staged:
        try:
            if self.out is not None:
                self.dir = _temporary_dir(self.out, "tmp")
            if self.save is not None:
                # a fresh hidden name, created only by whoever writes the file there
                file = Path(os.path.abspath(self.save))
                self.file = file.parent / f".{file.name}.tmp-{secrets.token_hex(8)}"
        except BaseException as err:
            named = self._abandon(err)
            if named is err:
                raise
            raise named from None
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            try:
                self._publish()
            except BaseException as err:
                named = self._abandon(err)
                if named is err:
                    raise
                raise named from None
            return
        named = self._abandon(exc)
        if named is not exc:
            raise named from None

    def _abandon(self, err: BaseException) -> BaseException:
        """Remove the temporaries; err as it should reach the user (_named)."""
        named = self._named(err)
        self._discard()
        return named

    def _named(self, err: BaseException) -> BaseException:
        """err as the user should read it: temporaries replaced by the targets they stand in for,
        an OSError as a FourierCircuitsError."""
        if isinstance(err, OSError):
            where = err.filename if err.filename is not None else (self.out or self.save)
            message = f"cannot write {str(where)!r}: {err.strerror or err}"
        elif isinstance(err, FourierCircuitsError):
            message = str(err)
        else:
            return err
        renamed = message
        for temporary, target in ((self.dir, self.out), (self.file, self.save)):
            if temporary is not None and target is not None:
                renamed = renamed.replace(str(temporary), str(target))
        if renamed == message and not isinstance(err, OSError):
            return err
        return FourierCircuitsError(renamed)

    def _publish(self) -> None:
        with _signals_held():
            if self.out is not None:
                check_out(self.out, force=self.force)  # again: the target may have changed
            if self.save is not None:
                check_save(self.save, force=self.force)
            aside = self._set_aside()
            try:
                if self.dir is not None and self.out is not None:
                    os.replace(self.dir, os.path.abspath(self.out))
                    self.dir = None
                if self.file is not None and self.save is not None and self.file.exists():
                    os.replace(self.file, os.path.abspath(self.save))
                    self.file = None
            except BaseException:
                self._undo(aside)
                raise
            if aside is not None:
                shutil.rmtree(aside, ignore_errors=True)

    def _set_aside(self) -> Path | None:
        """Move an existing `out` into a hidden sibling (removed once the run is published);
        None when there is none."""
        if self.out is None or _lstat(self.out, "--out") is None:
            return None
        aside = _temporary_dir(self.out, "old")
        try:
            os.replace(os.path.abspath(self.out), aside / "old")
        except BaseException:
            aside.rmdir()
            raise
        return aside

    def _undo(self, aside: Path | None) -> None:
        """Publishing failed half-way: take a published directory back (into a temporary that
        _discard removes) and put the old one, if any, where it was."""
        if self.out is None:
            return
        directory = os.path.abspath(self.out)
        if self.dir is None:
            self.dir = _temporary_dir(self.out, "tmp")
            os.replace(directory, self.dir / "new")
        if aside is not None:
            os.replace(aside / "old", directory)
            aside.rmdir()

    def _discard(self) -> None:
        """Remove the temporaries (with interrupts held, so a second one cannot leave them)."""
        with _signals_held():
            if self.dir is not None:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None
            if self.file is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.file)
                self.file = None


def json_file(obj: object, *, indent: int = 1) -> bytes:
    """obj as the bytes of an indented JSON file (theory.jsonable first; strict JSON, no NaN):
    what every --out's .json files hold."""
    return (json.dumps(jsonable(obj), allow_nan=False, indent=indent) + "\n").encode()
