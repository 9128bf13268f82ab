"""The project's one atomic writer (theory.network_file.write_atomic): the bytes arrive whole or
not at all, with the mode open() would give, and every failure leaves the old file and no
temporary file behind. (The network file format itself is tested in tests/test_network.py.)"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import pytest

from fourier_circuits.theory import FourierCircuitsError, write_atomic


def test_writes_the_bytes_and_returns_the_path(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    assert write_atomic(target, b"abc") == target
    assert target.read_bytes() == b"abc"
    assert write_atomic(str(target), b"") == target  # str paths too; empty data is data
    assert target.read_bytes() == b""
    assert sorted(os.listdir(tmp_path)) == ["out.bin"]


def test_the_mode_is_0666_less_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        write_atomic(tmp_path / "private", b"x")
    finally:
        os.umask(old)
    assert (tmp_path / "private").stat().st_mode & 0o777 == 0o600


def test_a_missing_directory_is_refused_naming_the_action(tmp_path: Path) -> None:
    with pytest.raises(FourierCircuitsError, match=r"^cannot write .*missing.* is not a directory"):
        write_atomic(tmp_path / "missing" / "out.bin", b"x")
    with pytest.raises(FourierCircuitsError, match=r"^cannot save to "):
        write_atomic(tmp_path / "missing" / "out.bin", b"x", action="save to")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(
    "failure",
    [OSError(errno.ENOSPC, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "interrupt"],
)
@pytest.mark.parametrize("where", ["write", "replace"])
def test_a_failure_leaves_the_old_file_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException, where: str
) -> None:
    target = tmp_path / "out.bin"
    write_atomic(target, b"old")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise failure

    real_fdopen = os.fdopen

    def half_then_fail(fd: int, mode: str) -> Any:
        fh = real_fdopen(fd, mode)

        def write(data: bytes) -> int:
            fh.raw.write(data[:2])  # some bytes reach the disk
            raise failure

        fh.write = write
        return fh

    if where == "replace":
        monkeypatch.setattr(os, "replace", refuse)
    else:
        monkeypatch.setattr(os, "fdopen", half_then_fail)
    expected = FourierCircuitsError if isinstance(failure, OSError) else KeyboardInterrupt
    with pytest.raises(expected):
        write_atomic(target, b"new")
    assert os.listdir(tmp_path) == ["out.bin"]
    assert target.read_bytes() == b"old"
