"""`fourier-circuits train`: DESIGN.md's JSON keys, exit status 0/1/2, one-line errors, files
written atomically and only after the checks, and numbers that `theory` reproduces from --save."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import PolyNet, fourier_summary, gamma_star, margin_report

TRAIN_KEYS = {
    "p",
    "k",
    "width",
    "normalized_margin",
    "gamma_star",
    "margin_ratio",
    "train_accuracy",
    "test_accuracy",
    "max_normalized_power_median",
    "frequencies_covered",
}
FIGURES = {
    "margin_ratio.png",
    "power_heatmap.png",
    "neuron_cosines.png",
    "neurons_per_frequency.png",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["train", *argv, "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0]), err


def test_train_prints_the_design_keys_and_saves_what_theory_measures(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    target, out = tmp_path / "net.npz", tmp_path / "run"
    code, data, err = run_json(
        capsys, "--p", "5", "--k", "2", "--seed", "1", "--save", str(target), "--out", str(out)
    )
    assert code == 0, data
    assert data.keys() >= TRAIN_KEYS
    assert data["gamma_star"] == gamma_star(5, 2) and data["width"] == 16
    assert data["margin_ratio"] >= 0.99 and data["frequencies_covered"] == 1.0
    assert data["test_accuracy"] is None and "no held-out" in data["test_note"]
    assert data["comparison"]["analytic"]["margin_ratio"] == pytest.approx(1.0, rel=1e-9)
    # stderr is not a terminal here: progress only as log lines (experiments.progress), none
    # for a run this short
    assert all(line.startswith("train: step ") for line in err.splitlines()), err
    # the saved weights, measured by the theory module, give the printed numbers
    net = PolyNet.load(target)
    report, summary = margin_report(net), fourier_summary(net)
    assert data["normalized_margin"] == pytest.approx(report.normalized_margin, rel=1e-12)
    assert data["max_normalized_power_median"] == summary.max_normalized_power_median
    assert data["frequencies_covered"] == summary.frequencies_covered
    assert net.meta["seed"] == 1 and net.meta["command"] == "train" and "versions" in net.meta
    assert net.meta["config"]["optimizer"] == "margin"
    # --out: history, result, figures; no temporary files anywhere
    assert sorted(os.listdir(out)) == sorted({"history.json", "result.json"} | FIGURES)
    assert sorted(os.listdir(tmp_path)) == ["net.npz", "run"]
    history = json.loads((out / "history.json").read_text())
    assert history["history"][-1]["margin_ratio"] == data["margin_ratio"]
    assert json.loads((out / "result.json").read_text())["p"] == 5


def test_same_seed_prints_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("--p", "5", "--k", "3", "--steps", "200", "--no-early-stop", "--seed", "2")
    _, first, _ = run_json(capsys, *argv)
    _, second, _ = run_json(capsys, *argv)
    for key in ("seconds", "seconds_to_ratio_099"):
        first.pop(key)
        second.pop(key)
    assert first == second


def test_negative_control_short_unregularised_run_fails_the_margin_claim(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["--p", "5", "--k", "2", "--optimizer", "gd", "--weight-decay", "0", "--steps", "100"]
    code = main(["train", *argv])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: normalized margin >= 0.99 gamma*" in out
    assert "some checked claims FAILED" in out


def test_split_reports_held_out_accuracy(capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = run_json(
        capsys, "--p", "7", "--k", "2", "--train-fraction", "0.5", "--steps", "100"
    )
    assert code == 1  # 100 steps on half of D_p: not the maximum margin over D_p
    assert isinstance(data["test_accuracy"], float) and 0 <= data["test_accuracy"] <= 1
    assert "test_note" not in data


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--p", "4", "--k", "2"], "p=4 must be an odd integer"),
        (["--p", "5", "--k", "2", "--width", "0"], "width=0 must be a positive integer"),
        (["--p", "5", "--k", "2", "--train-fraction", "0"], "train_fraction=0.0"),
        (["--p", "5", "--k", "2", "--save", "{tmp}/missing/net.npz"], "does not exist"),
        (["--p", "5", "--k", "2", "--out", "{tmp}/file.txt"], "is not a directory"),
        (["--p", "5", "--k", "2", "--out", "{tmp}/missing/run"], "does not exist"),
        (
            ["--p", "5", "--k", "2", "--optimizer", "gd", "--lr", "1e4", "--save", "{tmp}/n.npz"],
            "the loss became",
        ),
    ],
)
def test_bad_input_is_one_stderr_line_and_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], words: str
) -> None:
    (tmp_path / "file.txt").write_text("not a directory")
    code = main(["train", *(a.replace("{tmp}", str(tmp_path)) for a in argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err
    assert lines[0].startswith("fourier-circuits train: error:")
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]
