"""The command line contract of DESIGN.md: JSON keys, exit status 0/1/2, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import (
    PolyNet,
    gamma_star,
    gamma_star_exact,
    lattice_width,
    width_bound,
)

THEORY_KEYS = {"p", "k", "gamma_star", "gamma_star_exact", "width_bound", "lattice_width"}
CONSTRUCT_KEYS = {
    "p",
    "k",
    "width",
    "normalized_margin",
    "gamma_star",
    "relative_error",
    "all_correct",
    "frequencies_covered",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0])


@pytest.mark.parametrize(("p", "k"), [(5, 2), (7, 3), (9, 3), (5, 4)])
def test_theory_prints_the_closed_forms(capsys: pytest.CaptureFixture[str], p: int, k: int) -> None:
    code, data = run_json(capsys, "theory", "--p", str(p), "--k", str(k))
    assert code == 0
    assert data.keys() >= THEORY_KEYS
    assert data["gamma_star"] == gamma_star(p, k)
    assert data["gamma_star_exact"] == str(gamma_star_exact(p, k))
    assert data["width_bound"] == width_bound(p, k) == 4 ** (k - 1) * (p - 1)
    assert data["lattice_width"] == lattice_width(p, k) == 3 ** (k - 1) * (p - 1)
    assert data["prime"] == (p != 9)


@pytest.mark.parametrize("design", ["paper", "grid3", "lattice"])
def test_construct_reaches_gamma_star(capsys: pytest.CaptureFixture[str], design: str) -> None:
    code, data = run_json(capsys, "construct", "--p", "7", "--k", "3", "--design", design)
    assert code == 0
    assert data.keys() >= CONSTRUCT_KEYS
    assert data["relative_error"] < 1e-9
    assert data["all_correct"] is True
    assert data["frequencies_covered"] == 1.0


def test_construct_table_names_every_claim(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["construct", "--p", "5", "--k", "2"]) == 0
    out = capsys.readouterr().out
    assert "normalized_margin" in out and "all checked claims held" in out


def test_construct_save_round_trips(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "net.npz"
    code, data = run_json(capsys, "construct", "--p", "5", "--k", "3", "--save", str(target))
    assert code == 0 and data["saved"] == str(target)
    net = PolyNet.load(target)
    assert (net.p, net.k, net.m) == (5, 3, data["width"])
    assert net.meta["design"] == "paper" and "versions" in net.meta
    assert sorted(os.listdir(tmp_path)) == ["net.npz"]  # no temporary file left behind


@pytest.mark.slow
def test_construct_at_the_papers_size(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 2's acceptance check: p = 97, k = 3, m = 1536, relative error below 1e-9."""
    code, data = run_json(capsys, "construct", "--p", "97", "--k", "3")
    assert code == 0
    assert data["width"] == 1536 and data["n_examples"] == 97**3
    assert data["relative_error"] < 1e-9


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["theory", "--p", "4", "--k", "2"], "p=4 must be an odd integer >= 3"),
        (["theory", "--p", "1", "--k", "2"], "p=1 must be an odd integer >= 3"),
        (["theory", "--p", "5", "--k", "1"], "k=1 must be an integer >= 2"),
        (["theory", "--p", "5.5", "--k", "2"], "invalid int value: '5.5'"),
        (["theory", "--p", "five", "--k", "2"], "invalid int value: 'five'"),
        (["construct", "--p", "5", "--k", "2", "--design", "nope"], "invalid choice: 'nope'"),
        (["construct", "--p", "97", "--k", "6"], "more than the limit"),
        (["construct", "--p", "5"], "required: --k"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        ([], "required: SUBCOMMAND"),
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err
    assert "Traceback" not in err


def test_unwritable_save_fails_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "dir" / "net.npz"
    assert main(["construct", "--p", "5", "--k", "2", "--save", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "no").exists()
    assert main(["construct", "--p", "5", "--k", "2", "--save", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_cli_runs_as_a_console_script() -> None:
    """The installed entry point: exit status and stdout of a real process."""
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fourier_circuits.experiments.cli",
            "theory",
            "--p",
            "5",
            "--k",
            "3",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gamma_star"] == pytest.approx(0.009375, rel=1e-15)
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "fourier_circuits.experiments.cli",
            "theory",
            "--p",
            "6",
            "--k",
            "3",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and "p=6" in bad.stderr


def test_zero_network_is_refused_not_crashed(tmp_path: Path) -> None:
    zero = PolyNet(np.zeros((2, 2, 5)), np.zeros((2, 5)))
    with pytest.raises(ValueError, match="zero"):
        zero.normalized()


def test_construct_exact_proves_small_cases(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "construct", "--p", "5", "--k", "3", "--exact")
    assert code == 0
    assert data["exact_identity_holds"] is True and data["exact_characters_checked"] == 80
    assert data["exact_margin"] == str(gamma_star_exact(5, 3)) == "3/320"
    assert data["exact_margin_equals_gamma_star"] is True


def test_construct_exact_says_why_it_skips_the_exact_margin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, data = run_json(capsys, "construct", "--p", "31", "--k", "3", "--exact")
    assert code == 0 and data["exact_identity_holds"] is True
    assert data["exact_margin"] is None
    assert "more than the limit" in data["exact_margin_note"]


def test_construct_reports_a_failing_network_with_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: the same pipeline fed a construction with frequency 2 dropped."""
    from fourier_circuits.constructions import checked, construct

    def dropped(p: int, k: int, design: str) -> PolyNet:
        return construct(p, k, design, frequencies=[z for z in range(1, (p + 1) // 2) if z != 2])

    monkeypatch.setattr(checked, "construct", dropped)
    assert main(["construct", "--p", "7", "--k", "2"]) == 1
    out = capsys.readouterr().out
    assert "FAILED: normalized margin >= 0.999999999 gamma* (Theorem 4.1 (i))" in out
    assert (
        "FAILED: every frequency used by an active neuron (Theorem 4.1 (iii)): missing [2]" in out
    )
    assert "some checked claims FAILED" in out
