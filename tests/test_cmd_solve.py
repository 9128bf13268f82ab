"""`fourier-circuits solve`: JSON keys of DESIGN.md, exit status 0/1/2, the saved network."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import fourier_circuits.constructions.convex.lp as lp
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, PolyNet, gamma_star, margin_report

SOLVE_KEYS = {"p", "k", "lower_bound", "upper_bound", "gamma_star", "support_size", "seconds"}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0]), err


def test_solve_brackets_gamma_star_and_saves_the_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "net.npz"
    code, data, err = run_json(capsys, "solve", "--p", "5", "--k", "2", "--save", str(target))
    assert code == 0, data
    assert data.keys() >= SOLVE_KEYS
    assert data["lower_bound"] <= data["gamma_star"] <= data["upper_bound"] * (1 + 1e-9)
    assert data["relative_gap"] <= 1e-6
    assert all(b["rigorous"] for b in data["upper_bounds"])
    assert data["heuristic_pricing_value"]["rigorous"] is False
    assert data["sdp_accepted"] is True
    assert "iteration" in err  # progress goes to stderr
    net = PolyNet.load(target)
    # the lower bound is the margin recomputed from the saved weights
    assert margin_report(net).normalized_margin == pytest.approx(data["lower_bound"], rel=1e-12)
    assert data["gamma_star"] == pytest.approx(gamma_star(5, 2), rel=1e-15)


def test_solve_k3_reports_the_sos_certificate(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run_json(capsys, "solve", "--p", "5", "--k", "3")
    assert code == 0, data
    sos = [b for b in data["upper_bounds"] if b["method"].startswith("SOS")]
    assert len(sos) == 1 and sos[0]["rigorous"] and data["sos_accepted"] is True
    assert data["gamma_star"] <= sos[0]["value"] <= data["gamma_star"] * (1 + 1e-6)
    assert any(b["method"].startswith("symmetric-q") for b in data["upper_bounds"])


def test_solve_large_p_measures_the_orbit_network_by_brute_force(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Beyond the explicit network's size the lower bound is still measured over D_p (through
    shift invariance), and the orbit-averaged Fourier form agrees with it."""
    code, data, _ = run_json(capsys, "solve", "--p", "23", "--k", "4")
    assert code == 0, data
    assert data["lower_bound_method"].startswith("brute force over D_p of the orbit network")
    assert data["lower_bound"] == pytest.approx(data["lower_bound_fourier_form"], rel=1e-12)
    assert data["frequencies_covered"] == 1.0


def test_sparsify_saves_a_smaller_network_that_keeps_the_margin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target = tmp_path / "sparse.npz"
    argv = ["solve", "--p", "5", "--k", "2", "--sparsify", "--save", str(target)]
    code, data, _ = run_json(capsys, *argv)
    assert code == 0, data
    orbit_width = data["support_size"] * 5**2
    assert data["width"] == data["sparse_width"] < orbit_width
    net = PolyNet.load(target)
    assert net.m == data["sparse_width"]
    margin = margin_report(net).normalized_margin
    assert margin == pytest.approx(data["sparse_normalized_margin"], rel=1e-12)
    assert margin >= data["lower_bound"] * (1 - 1e-6)


@pytest.mark.parametrize(
    "argv",
    [
        ["solve", "--p", "1", "--k", "2"],
        ["solve", "--p", "11", "--k", "4", "--method", "full"],
        ["solve", "--p", "5", "--k", "2", "--starts", "0"],
        ["solve", "--p", "101", "--k", "3", "--save", "big.npz"],
        ["solve", "--p", "7", "--k", "3", "--sparsify"],  # 2058 rows > 1500: refused up front
    ],
)
def test_bad_input_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())


def test_failed_solve_exits_2_and_writes_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise FourierCircuitsError("master LP: no solver succeeded (HIGHS: status infeasible)")

    monkeypatch.setattr(lp, "solve", fail)
    target = tmp_path / "net.npz"
    assert main(["solve", "--p", "5", "--k", "2", "--save", str(target)]) == 2
    _, err = capsys.readouterr()
    assert "HIGHS: status infeasible" in err and len(err.strip().splitlines()) == 1
    assert not target.exists()
