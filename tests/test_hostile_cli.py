"""The command-line contract under hostile input (issue 14; DESIGN.md, "Contracts"): every bad
input gets exit status 2 and one line on stderr, within seconds and bounded memory, and leaves
nothing on disk; an internal error gets exit 3 and one line.

Each case runs the installed command in a child process under an address-space limit (a runaway
allocation fails the test, not the machine) and a wall-clock limit; its peak resident memory is
the child's own (os.wait4). The cases are the ones measured in the issue, plus generated values
(hypothesis) for the integer and float options."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourier_circuits.constructions import construct

CLI = str(Path(sys.executable).with_name("fourier-circuits"))
#: Every refusal within this many seconds ...
SECONDS = 10.0
#: ... and this much resident memory (the interpreter with torch imported is about 400 MiB).
RSS_LIMIT = 1 << 30
#: Address space a child may map: generous (torch maps a lot it never touches), but finite.
ADDRESS_SPACE = 16 << 30


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def run(
    argv: list[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    stdout: int | None = subprocess.PIPE,
    timeout: float = SECONDS,
) -> tuple[int, str, str, float, int]:
    """(exit status, stdout, stderr, seconds, the child's own peak RSS in bytes) of
    `fourier-circuits ARGV`; killed (and the test failed) past `timeout` seconds."""
    start = time.perf_counter()
    child = subprocess.Popen(
        [CLI, *argv],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        preexec_fn=_limit,
    )
    streams: dict[str, bytes] = {}

    def read(name: str, stream: Any) -> None:
        if stream is None:
            streams[name] = b""
            return
        with stream:  # closed once read: no unclosed-file warning
            streams[name] = stream.read()

    readers = [
        threading.Thread(target=read, args=(name, stream))
        for name, stream in (("out", child.stdout), ("err", child.stderr))
    ]
    for reader in readers:
        reader.start()
    timer = threading.Timer(timeout, child.kill)
    timer.start()
    _, status, usage = os.wait4(child.pid, 0)  # the child's own resource usage
    timer.cancel()
    for reader in readers:
        reader.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if seconds >= timeout:
        pytest.fail(f"fourier-circuits {' '.join(argv)} ran past {timeout} s")
    text = streams["out"].decode()
    return child.returncode, text, streams["err"].decode(), seconds, usage.ru_maxrss * 1024


def assert_refused(argv: list[str], cwd: Path, *words: str, **kwargs: object) -> str:
    """Exit 2, one stderr line (naming `words`), no traceback, nothing written, in time."""
    before = sorted(cwd.rglob("*"))
    code, out, err, seconds, rss = run(argv, cwd, **kwargs)  # type: ignore[arg-type]
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err[-2000:])
    assert len(lines) == 1 and "Traceback" not in err, (argv, err[-2000:])
    for word in words:
        assert word in lines[0], (argv, lines[0])
    assert out == "", (argv, out)
    assert seconds < SECONDS, (argv, seconds)
    assert rss < RSS_LIMIT, (argv, f"peak resident memory {rss / 2**20:.0f} MiB")
    assert sorted(cwd.rglob("*")) == before, (argv, "files were created or removed")
    return lines[0]


HUGE_K = str(10**12)

#: (argv, words the one line must contain): the issue's measured cases that must be refused.
REFUSED = [
    (["theory", "--p", "7", "--k", HUGE_K], ["k="]),
    (["solve", "--p", "7", "--k", HUGE_K], ["k="]),
    (["solve", "--min-width", "--k", HUGE_K], ["k="]),
    (["train", "--p", "7", "--k", HUGE_K], ["k="]),
    (["transformer", "--p", "7", "--k", HUGE_K], ["k="]),
    (["construct", "--p", "1001", "--k", "5"], []),
    (["construct", "--p", "2001", "--k", "3"], []),
    (["construct", "--p", "100003", "--k", "9"], []),
    (["construct", "--p", "100003", "--k", "2"], []),
    (["train", "--p", "301", "--k", "3"], []),
    (["train", "--p", "5", "--k", "2", "--width", "10000000"], []),
    (["transformer", "--p", "5", "--k", "2", "--d-model", "1000000"], []),
    (["train", "--p", "5", "--k", "2", "--seed", "-1"], ["seed"]),
    (["train", "--p", "5", "--k", "2", "--seed", str(2**64)], ["seed"]),
    (["solve", "--p", "5", "--k", "2", "--starts", str(10**12)], ["starts"]),
    (["train", "--p", "5", "--k", "2", "--threads", str(10**12)], ["threads"]),
    (["solve", "--min-width", "--k", "2", "--save", "F.npz"], ["--save"]),
    (["solve", "--min-width", "--k", "2", "--sparsify"], ["--sparsify"]),
    (["solve", "--min-width", "--k", "2", "--method", "full"], ["--method"]),
    (["solve", "--p", "5", "--k", "2", "--max-seconds", "nan"], ["--max-seconds"]),
    (["solve", "--p", "5", "--k", "2", "--max-seconds", "-1"], ["--max-seconds"]),
    (["solve", "--min-width", "--k", "2", "--search-seconds", "-1"], ["--search-seconds"]),
    (["solve", "--p", "5", "--k", "2", "--search-seconds", "5"], ["--search-seconds"]),
    (
        ["train", "--p", "5", "--k", "2", "--optimizer", "gd", "--temperature", "5"],
        ["--temperature"],
    ),
    (["train", "--p", "5", "--k", "2", "--weight-decay", "0.1"], ["--weight-decay"]),
    (
        ["train", "--p", "5", "--k", "2", "--optimizer", "adamw", "--reg-power", "2"],
        ["--reg-power"],
    ),
    (["construct", "--p", "5", "--k", "2", "--save", ""], ["--save"]),
    (["train", "--p", "5", "--k", "2", "--out", ""], ["--out"]),
    (["verify", "--quick", "--out", "/proc/x"], ["--out"]),
    (["sweep", "train", "--grid", "p=5;k=2;bogus=1"], ["'bogus'", "weight_decay"]),
    (["sweep", "train", "--grid", "p=5,4;k=2", "--out", "D"], ["cell 1", "p=4"]),
    (["sweep", "construct", "--grid", "p=5;seed=0..10000"], ["10001 cells", "--force"]),
    (
        ["sweep", "construct", "--grid", "p=5;k=2", "--scheduler", "tcp://127.0.0.1:9"],
        ["--scheduler"],
    ),
    (["sweep", "construct", "--grid", "p=5;k=2", "--workers", "0"], ["--workers"]),
]


@pytest.mark.slow
@pytest.mark.parametrize(("argv", "words"), REFUSED, ids=[" ".join(a)[:60] for a, _ in REFUSED])
def test_the_issues_bad_inputs_are_refused_at_once(
    argv: list[str], words: list[str], tmp_path: Path
) -> None:
    assert_refused(argv, tmp_path, *words)


def test_a_split_with_no_held_out_example_completes_and_says_so(tmp_path: Path) -> None:
    """--train-fraction 0.99 of 25 examples rounds to all 25: no test set (it was a traceback)."""
    code, out, err, _, _ = run(
        ["train", "--p", "5", "--k", "2", "--train-fraction", "0.99", "--json"], tmp_path
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["test_accuracy"] is None and "no held-out examples" in data["test_note"]


def test_a_huge_prime_is_answered_at_once(tmp_path: Path) -> None:
    """Not bad input: p = 2^61 - 1 is prime, and the closed forms need no enumeration."""
    code, out, err, seconds, _ = run(
        ["theory", "--p", str(2**61 - 1), "--k", "2", "--json"], tmp_path
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["prime"] is True and data["gamma_star"] > 0
    assert seconds < SECONDS


def _oversized_network(path: Path) -> None:
    """96 KB on disk, U of 1000 x 3 x 2047 zeros but one: about 490 hours of brute force."""
    U = np.zeros((1000, 3, 2047))
    U[0, 0, 0] = 1.0
    W = np.zeros((1000, 2047))
    W[0, 0] = 1.0
    np.savez_compressed(path, U=U, W=W, p=2047, k=3)


def _npy_header(shape: tuple[int, ...]) -> bytes:
    """The .npy version 1.0 header of a float64 C-order array of `shape` (no data)."""
    text = repr({"descr": "<f8", "fortran_order": False, "shape": shape}).encode()
    text += b" " * (-(len(text) + 11) % 64) + b"\n"  # 10-byte prefix + text + newline, to 64
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text


def _bomb(path: Path) -> None:
    """A .npz whose U and W headers claim 600 GB and 200 GB of float64: a reader that trusts
    them decompresses (or allocates) all of it; each member's data stops after 1 MB of zeros,
    which deflate to about 1 KB."""
    m, k, p = 10**6, 3, 25_001
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("U.npy", _npy_header((m, k, p)) + bytes(1 << 20))
        archive.writestr("W.npy", _npy_header((m, p)) + bytes(1 << 20))
        for name, value in (("p", p), ("k", k)):
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, np.asarray(value))


@pytest.mark.slow
def test_inspect_refuses_a_network_too_large_to_evaluate_with_its_estimate(tmp_path: Path) -> None:
    _oversized_network(tmp_path / "big.npz")
    line = assert_refused(["inspect", "big.npz"], tmp_path)
    assert "hour" in line or "flop" in line, line
    line = assert_refused(["verify", "--quick", "--network", "big.npz"], tmp_path)
    assert "--network" in line


@pytest.mark.slow
def test_inspect_refuses_a_compression_bomb_unread(tmp_path: Path) -> None:
    _bomb(tmp_path / "bomb.npz")
    assert_refused(["inspect", "bomb.npz"], tmp_path)
    _, _, _, _, rss = run(["inspect", "bomb.npz"], tmp_path)
    assert rss < RSS_LIMIT, rss


class _Payload:
    """Unpickling this would create the file `ran` in the current directory."""

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, ("touch ran",))


def _foreign_files(cwd: Path) -> None:
    """Issue 17's hostile foreign files: a code-running pickle, a whole nn.Module, a state dict
    with an extra layer, a safetensors header claiming 8 PB, a directory with no networks."""
    import pickle

    import torch

    (cwd / "evil.pt").write_bytes(pickle.dumps({"fc1.weight": torch.ones(2, 2), "x": _Payload()}))
    torch.save(torch.nn.Sequential(torch.nn.Linear(14, 4), torch.nn.Linear(4, 7)), cwd / "model.pt")
    layers = torch.nn.Sequential(
        torch.nn.Linear(14, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 7)
    )
    torch.save(layers.state_dict(), cwd / "deep.pt")
    header = b'{"w":{"dtype":"F64","shape":[1000000,1000000,1000],"data_offsets":[0,8]}}'
    (cwd / "huge.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    (cwd / "empty").mkdir()


FOREIGN_REFUSED = [
    (["inspect", "evil.pt"], ["refused unread"]),
    (["inspect", "model.pt"], ["model.state_dict()"]),
    (["inspect", "deep.pt"], ["extra layer", "2.weight"]),
    (["inspect", "huge.safetensors"], ["forged"]),
    (["inspect", "empty"], ["no network files"]),
    (["inspect", "deep.pt", "--layout", "diagonal"], ["--layout"]),
]


@pytest.mark.slow
def test_hostile_foreign_files_are_refused_and_nothing_runs(tmp_path: Path) -> None:
    _foreign_files(tmp_path)
    for argv, words in FOREIGN_REFUSED:
        line = assert_refused(argv, tmp_path, *words)  # nothing created: `ran` would be
        assert "weights_only=False" not in line and "trust" not in line, line
    assert not (tmp_path / "ran").exists()


def _deep_meta(path: Path, depth: int) -> None:
    net = construct(5, 2)
    arrays = {"U": net.U, "W": net.W, "p": 5, "k": 2}
    meta = "[" * depth + "]" * depth
    np.savez(path, **arrays, meta=np.array(meta))


@pytest.mark.slow
def test_deeply_nested_meta_is_bad_input_not_a_recursion_error(tmp_path: Path) -> None:
    _deep_meta(tmp_path / "deep.npz", 100_000)
    assert_refused(["inspect", "deep.npz"], tmp_path, "meta")


@pytest.mark.slow
def test_a_closed_stdout_ends_quietly(tmp_path: Path) -> None:
    """EPIPE: the reader went away (`fourier-circuits ... | head -0`); no traceback."""
    reader = subprocess.Popen(["true"], stdin=subprocess.PIPE)
    reader.wait()
    assert reader.stdin is not None
    code, _, err, _, _ = run(
        ["theory", "--p", "7", "--k", "3", "--json"], tmp_path, stdout=reader.stdin.fileno()
    )
    reader.stdin.close()
    assert "Traceback" not in err and code in (0, 2, 141), (code, err)


@pytest.mark.slow
def test_a_full_stdout_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """ENOSPC on stdout (/dev/full, written to, never created or replaced)."""
    with open("/dev/full", "w") as full:
        code, _, err, _, _ = run(["theory", "--p", "7", "--k", "3"], tmp_path, stdout=full.fileno())
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


@pytest.mark.slow
def test_an_invalid_mplbackend_does_not_break_figures(tmp_path: Path) -> None:
    construct(5, 2).save(tmp_path / "n.npz")
    code, _, err, _, _ = run(
        ["inspect", "n.npz", "--out", "figs"], tmp_path, env={"MPLBACKEND": "no-such-backend"}
    )
    assert code == 0, err
    assert (tmp_path / "figs" / "power_heatmap.png").is_file()


@pytest.mark.slow
def test_search_seconds_tiny_still_prints_valid_json(tmp_path: Path) -> None:
    code, out, err, _, _ = run(
        ["solve", "--min-width", "--k", "2", "--search-seconds", "1e-12", "--json"],
        tmp_path,
        timeout=60,
    )
    assert code in (0, 1), err
    json.loads(out)  # strict JSON: no Infinity, no NaN


def test_an_internal_error_is_one_line_and_exit_3(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not bad input: a bug. One line naming it and how to see the traceback; exit 3."""
    from fourier_circuits.experiments import cmd_theory
    from fourier_circuits.experiments.cli import main

    def broken(args: object) -> object:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cmd_theory, "run", broken)
    assert main(["theory", "--p", "5", "--k", "2"]) == 3
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "ZeroDivisionError" in lines[0] and "--debug" in lines[0], err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "theory", "--p", "5", "--k", "2"])


@settings(max_examples=25, deadline=None)
@given(
    option=st.sampled_from(["--p", "--k"]),
    value=st.one_of(
        st.integers(max_value=1),
        st.integers(min_value=10**6, max_value=10**30),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.text(max_size=8),
    ),
)
def test_generated_bad_p_and_k_are_refused_in_process(option: str, value: object) -> None:
    """In-process (fast): any non-integer, p < 3 or k < 2, or an absurd size is exit 2 with one
    line, never a traceback; huge values are refused without computing p^k."""
    import contextlib
    import io

    from fourier_circuits.experiments.cli import main

    argv = ["theory", "--p", "7", "--k", "3"]
    argv[argv.index(option) + 1] = str(value)
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    assert time.perf_counter() - start < SECONDS
    if code == 0:  # a legitimate (p, k) that hypothesis happened to draw, e.g. p = 10**6 + 3
        return
    assert code == 2 and len(err.getvalue().strip().splitlines()) == 1, (argv, err.getvalue())


def test_sigterm_handler_is_restored(monkeypatch: pytest.MonkeyPatch) -> None:
    """main installs its SIGTERM clean-up only while it runs."""
    from fourier_circuits.experiments.cli import main

    before = signal.getsignal(signal.SIGTERM)
    assert main(["theory", "--p", "5", "--k", "2", "--json"]) == 0
    assert signal.getsignal(signal.SIGTERM) == before
