"""Output targets (DESIGN.md, "Contracts"): every subcommand that writes checks its --save file and
--out directory before any work, builds them in hidden siblings and renames them into place only
when the run is complete. Hostile targets: FIFOs, sockets, directories given as files, existing
files and symbolic links without --force, non-empty directories, the current directory and its
ancestors (also with --force), a --save inside --out, a full disk mid-write, SIGTERM and SIGINT
mid-run. Each is refused or cleaned up with one line on stderr and exit 2 (143, 130 for the
signals), and the disk is left as it was; the same targets, made legitimate, are accepted (the
negative controls). Write targets are FIFOs, sockets and files in tmp_path only, never devices."""

from __future__ import annotations

import errno
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fourier_circuits.constructions import construct
from fourier_circuits.experiments import cmd_verify, outputs
from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.outputs import Staged, check_out, check_save
from fourier_circuits.experiments.verify import VerifyPlan
from fourier_circuits.theory import FourierCircuitsError, PolyNet, network_file

#: verify's plan in these tests (as in test_cmd_verify): seconds, not minutes
TINY = VerifyPlan(exact=((5, 2),), brute_force=((7, 2),), design_orders=(2,), convex=(), trained=())


@dataclass(frozen=True)
class Writer:
    """A subcommand that writes, on a tiny problem."""

    argv: tuple[str, ...]  # "{input}": a saved network (inspect's argument)
    save: bool  # takes --save F
    out: tuple[str, ...] = ()  # files a published --out holds (empty: no --out)


WRITERS = {
    "construct": Writer(("construct", "--p", "5", "--k", "2"), save=True),
    "solve": Writer(("solve", "--p", "5", "--k", "2"), save=True),
    "train": Writer(
        ("train", "--p", "5", "--k", "2", "--steps", "50"),
        save=True,
        out=("history.json", "result.json", "margin_ratio.png", "power_heatmap.png"),
    ),
    "transformer": Writer(
        ("transformer", "--p", "5", "--k", "2", "--steps", "20"),
        save=False,
        out=("history.json", "result.json", "params.npz", "attention_heads.png"),
    ),
    "grokking": Writer(
        ("grokking", "--problems", "5,2", "--seeds", "0", "--steps", "20"),
        save=False,
        out=("history.json", "result.json", "grokking.png"),
    ),
    "inspect": Writer(
        ("inspect", "{input}"), save=False, out=("inspect.json", "power_heatmap.png")
    ),
    "verify": Writer(("verify", "--quick"), save=False, out=("report.md", "results.json")),
}
SAVERS = [name for name, w in WRITERS.items() if w.save]
OUTERS = [name for name, w in WRITERS.items() if w.out]
TARGETS = [(name, "--save") for name in SAVERS] + [(name, "--out") for name in OUTERS]


@pytest.fixture(autouse=True)
def tiny_verify(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty working directory (the current one) beside in/net.npz, inspect's input."""
    (tmp_path / "in").mkdir()
    construct(5, 2).save(tmp_path / "in" / "net.npz")
    directory = tmp_path / "work"
    directory.mkdir()
    monkeypatch.chdir(directory)
    return directory


def argv_of(name: str, *extra: str) -> list[str]:
    net = str(Path("..", "in", "net.npz"))
    return [word.replace("{input}", net) for word in WRITERS[name].argv] + list(extra)


def snapshot(root: Path) -> dict[str, Any]:
    """Everything under root (hidden entries too), without following links or opening FIFOs."""
    found: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                found[str(path.relative_to(root))] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                found[str(path.relative_to(root))] = path.read_bytes()
            else:
                found[str(path.relative_to(root))] = stat.S_IFMT(mode)
    return found


def refused(capsys: pytest.CaptureFixture[str], argv: list[str], needle: str) -> None:
    """argv exits 2 with one line on stderr naming the problem, nothing on stdout."""
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert needle in err and "Traceback" not in err


def ran(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    """argv completes (0: claims held, 1: the tiny run's claims failed, which is fine here)."""
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1), err
    return out


def no_temporaries(directory: Path) -> None:
    hidden = [p.name for p in directory.iterdir() if p.name.startswith(".")]
    assert hidden == [], f"temporaries left behind: {hidden}"


# -- a FIFO, a socket, a directory: refused always -------------------------------------------


@pytest.mark.parametrize(("name", "flag"), TARGETS)
def test_a_fifo_target_is_refused_also_with_force_and_stays_a_fifo(
    capsys: pytest.CaptureFixture[str], work: Path, name: str, flag: str
) -> None:
    os.mkfifo(work / "target")
    for force in ([], ["--force"]):
        needle = "is a FIFO, not a regular file" if flag == "--save" else "is not a directory"
        refused(capsys, argv_of(name, flag, "target", *force), needle)
        assert stat.S_ISFIFO(os.lstat(work / "target").st_mode)
        assert [p.name for p in work.iterdir()] == ["target"]


def test_a_socket_or_a_directory_is_never_a_save_target(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        for force in (False, True):
            with pytest.raises(FourierCircuitsError, match="is a socket, not a regular file"):
                check_save(tmp_path / "s", force=force)
            with pytest.raises(FourierCircuitsError, match="is a directory; give a file path"):
                check_save(tmp_path, force=force)
            with pytest.raises(FourierCircuitsError, match="not a directory"):
                check_out(tmp_path / "s", force=force)
    finally:
        sock.close()
    assert stat.S_ISSOCK(os.lstat(tmp_path / "s").st_mode)
    assert check_save(tmp_path / "new.npz", force=False) == tmp_path / "new.npz"  # control


def test_a_missing_or_non_directory_parent_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    for check in (check_save, check_out):
        with pytest.raises(FourierCircuitsError, match="does not exist"):
            check(tmp_path / "no" / "t", force=True)
        with pytest.raises(FourierCircuitsError, match=r"'.*file' is not a directory"):
            check(tmp_path / "file" / "t", force=True)
        assert check(tmp_path / "t", force=False) == tmp_path / "t"  # control


# -- an existing file, link or directory: refused without --force, replaced with it ------------


@pytest.mark.parametrize("name", list(WRITERS))
def test_existing_targets_are_kept_without_force_and_replaced_with_it(
    capsys: pytest.CaptureFixture[str], work: Path, name: str
) -> None:
    writer = WRITERS[name]
    targets: list[str] = []
    if writer.save:
        (work / "net.npz").write_bytes(b"my own file")
        refused(capsys, argv_of(name, "--save", "net.npz"), "exists; pass --force")
        targets += ["--save", "net.npz"]
    if writer.out:
        (work / "D").mkdir()
        (work / "D" / "mine.txt").write_text("keep me")
        refused(capsys, argv_of(name, "--out", "D"), "is not empty; pass --force")
        targets += ["--out", "D"]
    before = snapshot(work)
    if writer.save and writer.out:  # each refused alone, and both together
        refused(capsys, argv_of(name, *targets), "exists; pass --force")
    assert snapshot(work) == before, "a refused run changed the disk"
    # the negative control: the same targets, --force, a relative --out inside the current dir
    ran(capsys, argv_of(name, *targets, "--force"))
    if writer.save:
        assert PolyNet.load(work / "net.npz").p == 5
    if writer.out:
        names = {p.name for p in (work / "D").iterdir()}
        assert set(writer.out) <= names and "mine.txt" not in names
    no_temporaries(work)


@pytest.mark.parametrize(("name", "flag"), TARGETS)
def test_a_symbolic_link_is_refused_without_force_and_what_it_points_to_is_kept(
    capsys: pytest.CaptureFixture[str], work: Path, name: str, flag: str
) -> None:
    pointee = work.parent / "elsewhere"
    if flag == "--save":
        pointee.write_bytes(b"precious")
    else:
        pointee.mkdir()
        (pointee / "precious.txt").write_text("precious")
    (work / "link").symlink_to(pointee)
    before = snapshot(work.parent)
    refused(capsys, argv_of(name, flag, "link"), "is a symbolic link; pass --force")
    assert snapshot(work.parent) == before
    if name in ("construct", "inspect"):  # with --force the link itself is replaced
        ran(capsys, argv_of(name, flag, "link", "--force"))
        assert not (work / "link").is_symlink()
        assert (work / "link").is_file() if flag == "--save" else (work / "link").is_dir()
        kept = pointee.read_bytes() if flag == "--save" else (pointee / "precious.txt").read_bytes()
        assert kept == b"precious"
        no_temporaries(work)


def test_a_dangling_link_is_a_target_only_with_force(tmp_path: Path) -> None:
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    for check in (check_save, check_out):
        with pytest.raises(FourierCircuitsError, match="is a symbolic link"):
            check(tmp_path / "link", force=False)
        assert check(tmp_path / "link", force=True) == tmp_path / "link"


# -- the current directory and its ancestors: refused always --------------------------------


@pytest.mark.parametrize("name", OUTERS)
def test_out_that_is_the_current_directory_or_an_ancestor_is_refused_also_with_force(
    capsys: pytest.CaptureFixture[str], work: Path, name: str
) -> None:
    (work / "mine.txt").write_text("keep me")
    (work / "up").symlink_to(work.parent)
    before = snapshot(work.parent)
    for target in (".", "..", str(work), str(work.parent), "sub/..", "up"):
        refused(capsys, argv_of(name, "--out", target, "--force"), "is the current directory or")
    assert snapshot(work.parent) == before


def test_save_inside_out_is_refused(capsys: pytest.CaptureFixture[str], work: Path) -> None:
    (work / "D").mkdir()
    for save in ("D/net.npz", "./D/net.npz", str(work / "D" / "net.npz")):
        refused(capsys, argv_of("train", "--out", "D", "--save", save), "lies inside --out")
    assert snapshot(work) == {"D": stat.S_IFDIR}


def test_an_input_inside_out_is_refused_also_with_force(
    capsys: pytest.CaptureFixture[str], work: Path
) -> None:
    """--force replaces --out as a whole: a network read from inside it would be lost."""
    (work / "D").mkdir()
    construct(5, 2).save(work / "D" / "net.npz")
    before = snapshot(work)
    for argv in (
        ["inspect", "D/net.npz", "--out", "D", "--force"],
        ["verify", "--quick", "--out", "D", "--network", "D/net.npz", "--force"],
    ):
        refused(capsys, argv, "lies inside --out 'D'")
    assert snapshot(work) == before
    ran(capsys, ["inspect", "D/net.npz", "--out", "E"])  # the control: --out elsewhere


# -- a full disk ------------------------------------------------------------------------------


class _FullDisk:
    """theory.network_file's `os` (behind the one atomic writer), on a disk that fills up at the
    n-th file written: that file's write stores half of its bytes, then fails with ENOSPC."""

    def __init__(self, n: int) -> None:
        self.n, self.opened = n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    def fdopen(self, fd: int, *args: Any, **kwargs: Any) -> Any:
        self.opened += 1
        fh = os.fdopen(fd, *args, **kwargs)
        return fh if self.opened < self.n else _FullFile(fh)


class _FullFile:
    def __init__(self, fh: Any) -> None:
        self.fh = fh

    def __enter__(self) -> _FullFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.fh.close()

    def write(self, data: bytes) -> int:
        self.fh.write(data[: len(data) // 2])
        self.fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


#: (subcommand, the file written when the disk fills up, whether old targets exist (--force))
FULL_DISKS = [
    ("construct", 1, False),
    ("solve", 1, False),
    ("train", 3, False),  # after history.json and result.json (issue 14)
    ("train", 7, True),  # the network, after all of --out: neither is published
    ("train", 1, True),
    ("transformer", 2, False),
    ("grokking", 2, False),
    ("inspect", 1, False),
    ("inspect", 2, True),
    ("verify", 2, False),
]


@pytest.mark.parametrize(("name", "nth", "existing"), FULL_DISKS)
def test_a_full_disk_mid_write_leaves_the_disk_as_it_was(
    capsys: pytest.CaptureFixture[str],
    work: Path,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    nth: int,
    existing: bool,
) -> None:
    writer = WRITERS[name]
    argv = argv_of(name)
    if writer.save:
        argv += ["--save", "net.npz"]
        if existing:
            (work / "net.npz").write_bytes(b"my own file")
    if writer.out:
        argv += ["--out", "D"]
        if existing:
            (work / "D").mkdir()
            (work / "D" / "mine.txt").write_text("keep me")
    before = snapshot(work)
    disk = _FullDisk(nth)
    monkeypatch.setattr(network_file, "os", disk)
    assert main([*argv, "--force"]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error" in line]  # after progress lines
    assert out == "" and errors == err.splitlines()[-1:] and "Traceback" not in err, err
    assert "No space left on device" in errors[0] and ".tmp-" not in errors[0]
    assert disk.opened == nth  # it failed where meant, then stopped
    assert snapshot(work) == before


# -- publishing: both targets or neither ------------------------------------------------------


def test_a_failed_file_rename_takes_the_published_directory_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "D").mkdir()
    (tmp_path / "D" / "old.txt").write_text("old run")
    (tmp_path / "F").write_bytes(b"old network")
    before = snapshot(tmp_path)
    real_replace = os.replace

    def replace(src: Any, dst: Any) -> None:
        if Path(dst) == tmp_path / "F":
            raise OSError(errno.EIO, os.strerror(errno.EIO), str(src))
        real_replace(src, dst)

    save, out = check_save(tmp_path / "F", force=True), check_out(tmp_path / "D", force=True)
    failing = pytest.raises(FourierCircuitsError, match=r"cannot write '.*F': Input/output error")
    with failing, Staged(save=save, out=out, force=True) as stage:
        assert stage.dir is not None and stage.file is not None
        (stage.dir / "new.txt").write_text("new run")
        stage.file.write_bytes(b"new network")
        monkeypatch.setattr(outputs.os, "replace", replace)
    monkeypatch.undo()
    assert snapshot(tmp_path) == before
    with Staged(save=save, out=out, force=True) as stage:  # the control: both published
        assert stage.dir is not None and stage.file is not None
        (stage.dir / "new.txt").write_text("new run")
        stage.file.write_bytes(b"new network")
    assert snapshot(tmp_path) == {"D": stat.S_IFDIR, "D/new.txt": b"new run", "F": b"new network"}


def test_an_interrupt_during_clean_up_waits_until_it_is_done(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGINT arriving while the temporaries are removed is held until they are gone."""
    real_rmtree = outputs.shutil.rmtree

    def interrupted_rmtree(path: Any, **kwargs: Any) -> None:
        # raise_signal, not os.kill(getpid()): in a process with other threads (torch's, after
        # earlier tests) kill may deliver to one of them, and on a loaded machine the handler
        # then runs after the clean-up instead of during it (seen: a flaky failure under load)
        signal.raise_signal(signal.SIGINT)
        real_rmtree(path, **kwargs)

    monkeypatch.setattr(outputs.shutil, "rmtree", interrupted_rmtree)
    out = check_out(tmp_path / "D", force=False)
    with pytest.raises(KeyboardInterrupt), Staged(out=out, force=False) as stage:
        assert stage.dir is not None
        (stage.dir / "half.json").write_text("{")
        raise RuntimeError("the run failed")
    assert list(tmp_path.iterdir()) == []


# -- signals ----------------------------------------------------------------------------------


def test_sigterm_in_process_unwinds_like_an_interrupt_and_the_handler_is_restored(
    capsys: pytest.CaptureFixture[str], work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def terminated(p: int, k: int) -> list[object]:
        signal.raise_signal(signal.SIGTERM)  # delivered to this thread (see above)
        time.sleep(5)  # the handler raises here, at once
        raise AssertionError("SIGTERM did not stop the run")

    previous = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(cmd_verify.constructive, "brute_force_checks", terminated)
    assert main(["verify", "--quick", "--out", "R"]) == 143
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == "fourier-circuits: terminated" and "Traceback" not in "\n".join(err)
    assert list(work.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is previous


#: how long a run that has made its temporary directory is left to get past its first imports
SETTLE_SECONDS = 1.0

#: the console script's entry point, run by this interpreter
_ENTRY = "import sys; from fourier_circuits.experiments.cli import main; sys.exit(main())"


def _cli(cwd: Path, *argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", _ENTRY, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _signal_once_writing(proc: subprocess.Popen[str], cwd: Path, sig: int) -> tuple[str, str]:
    """Wait until the run has made its temporary directory (it is past its checks and working)
    and a moment more, send sig, and return its (stdout, stderr). The moment: a signal that lands
    while a C extension module is being imported (numpy.random, on first use) can be swallowed by
    the module's initialisation, as Ctrl-C can be; Python's limitation, not the one tested."""
    try:
        deadline = time.monotonic() + 60
        while not list(cwd.glob(".D.tmp-*")):
            assert proc.poll() is None, f"exited {proc.returncode} first: {proc.communicate()}"
            assert time.monotonic() < deadline, "no temporary directory within 60 s"
            time.sleep(0.02)
        time.sleep(SETTLE_SECONDS)
        assert proc.poll() is None, "the run ended before it was signalled"
        proc.send_signal(sig)
        return proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


@pytest.mark.parametrize(
    ("sig", "code", "line", "existing"),
    [
        (signal.SIGTERM, 143, "fourier-circuits: terminated", False),
        (signal.SIGINT, 130, "fourier-circuits: interrupted", False),
        (signal.SIGTERM, 143, "fourier-circuits: terminated", True),
    ],
)
def test_a_signal_mid_training_leaves_the_disk_as_it_was(
    tmp_path: Path, sig: int, code: int, line: str, existing: bool
) -> None:
    if existing:
        (tmp_path / "D").mkdir()
        (tmp_path / "D" / "mine.txt").write_text("keep me")
        (tmp_path / "F.npz").write_bytes(b"my own file")
    before = snapshot(tmp_path)
    argv = ["train", "--p", "11", "--k", "3", "--steps", "100000", "--no-early-stop"]
    proc = _cli(tmp_path, *argv, "--out", "D", "--save", "F.npz", "--force", "--json")
    out, err = _signal_once_writing(proc, tmp_path, sig)
    assert proc.returncode == code, err
    # the last line names the signal; before it only train's progress lines (one every few
    # seconds, so a slow machine may print one before the signal arrives)
    *progress, last = err.splitlines()
    assert out == "" and last == line, err
    assert all(row.startswith("train: step ") for row in progress), err
    assert snapshot(tmp_path) == before


def test_sigterm_during_verify_leaves_no_temporary_directory(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "verify", "--quick", "--out", "D")
    _, err = _signal_once_writing(proc, tmp_path, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert err.splitlines()[-1] == "fourier-circuits: terminated" and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
