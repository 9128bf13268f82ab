"""`fourier-circuits transformer` and `grokking`: DESIGN.md's JSON keys, exit status 0/1/2, one-line
errors with nothing written, files written atomically, and the same numbers for the same seed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from fourier_circuits.experiments.cli import main

TRANSFORMER_KEYS = {
    "p",
    "k",
    "train_accuracy",
    "test_accuracy",
    "attention_fourier_concentration",
    "top_frequencies",
    "top_frequency_shares",
    "head_concentrations",
    "head_top_frequencies",
    "embedding_frequencies",
    "noise_concentration",
    "steps_to_test_099",
    "seconds_to_test_099",
    "test_accuracy_seen_multisets",
    "test_accuracy_unseen_multisets",
    "test_examples_unseen_multisets",
    "test_errors_listed",
    "config",
}
FILES = {
    "history.json",
    "result.json",
    "params.npz",
    "accuracy.png",
    "attention_heads.png",
    "embedding_spectrum.png",
}
#: (11, 3) with seed 6 reaches test accuracy 0.99 in about 300 steps (a few seconds).
FAST_TARGET = ("--p", "11", "--k", "3", "--seed", "6")


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0]), err


def test_transformer_reaches_the_target_and_writes_its_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    code, data, err = run_json(capsys, "transformer", *FAST_TARGET, "--out", str(out))
    assert code == 0, data
    assert data.keys() >= TRANSFORMER_KEYS
    assert (data["p"], data["k"], data["seed"]) == (11, 3, 6)
    assert data["test_accuracy"] >= 0.99 and data["stop_reason"] == "target"
    assert data["steps_to_test_099"] == data["steps"]
    # stopped at the first measurement past 0.99 (step 300): the spectrum is only beginning to
    # concentrate (tests/test_transformer.py checks a run that sharpened further)
    assert data["noise_concentration"] < data["attention_fourier_concentration"] <= 1
    assert len(data["top_frequencies"]) == 4 and all(len(f) == 2 for f in data["top_frequencies"])
    assert len(data["head_concentrations"]) == data["config"]["n_heads"]
    # the held-out half split by whether each example's multiset is in the training half
    n_test = 11**3 - 666  # round(1331 / 2) = 666 trained on (round half to even)
    assert data["test_examples_seen_multisets"] + data["test_examples_unseen_multisets"] == n_test
    errors = data["test_errors_seen_multisets"] + data["test_errors_unseen_multisets"]
    assert errors == round((1 - data["test_accuracy"]) * n_test)
    assert len(data["test_errors_listed"]) == min(errors, 10)
    # stderr is not a terminal here: progress only as log lines (experiments.progress)
    assert all(line.startswith("transformer: step ") for line in err.splitlines()), err
    assert sorted(os.listdir(out)) == sorted(FILES)  # no temporary files
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert json.loads((out / "result.json").read_text())["test_accuracy"] == data["test_accuracy"]
    history = json.loads((out / "history.json").read_text())
    assert history["history"][-1]["test_accuracy"] == data["test_accuracy"]
    assert history["provenance"]["command"] == "transformer"
    with np.load(out / "params.npz", allow_pickle=False) as saved:
        assert saved["E"].shape == (12, data["config"]["d_model"])
        assert json.loads(str(saved["meta"]))["seed"] == 6


def test_same_seed_prints_the_same_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ("transformer", "--p", "5", "--k", "3", "--steps", "50", "--seed", "2")
    first_code, first, _ = run_json(capsys, *argv)
    _, second, _ = run_json(capsys, *argv)
    for data in (first, second):
        for key in ("seconds", "seconds_to_test_099"):
            data.pop(key)
    assert first == second
    assert first_code == 1  # negative control: 50 steps do not generalise


def test_failed_claim_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["transformer", "--p", "7", "--k", "3", "--steps", "20", "--eval-every", "10"])
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED: test accuracy >= 0.99" in out and "some checked claims FAILED" in out
    assert "whose multiset is absent from training" in out


def test_grokking_reports_steps_per_k_and_writes_the_figure(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "grok"
    code, data, _ = run_json(
        capsys, "grokking", "--problems", "11,3", "--seeds", "6", "--out", str(out)
    )
    assert code == 0, data
    (row,) = data["per_k"]
    assert (row["p"], row["k"], row["seeds"]) == (11, 3, [6])
    assert row["test_099"]["reached"] == 1 and row["steps_to_test_099"][0] > 0
    assert row["steps_to_train_099"][0] <= row["steps_to_test_099"][0]
    assert row["test_examples_unseen_multisets"][0] > 0
    assert 0 <= row["test_accuracy_unseen_multisets"][0] <= 1
    assert sorted(os.listdir(out)) == ["grokking.png", "history.json", "result.json"]


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["transformer", "--p", "4", "--k", "3"], "p=4 must be an odd integer"),
        (["transformer", "--p", "5", "--k", "2", "--d-model", "0"], "d_model=0 must be"),
        (["transformer", "--p", "5", "--k", "2", "--train-fraction", "1"], "train_fraction=1.0"),
        (["transformer", "--p", "5", "--k", "2", "--top", "0"], "--top 0 must lie in 1..12"),
        (["transformer", "--p", "5", "--k", "2", "--out", "{tmp}/file.txt"], "not a directory"),
        (["transformer", "--p", "5", "--k", "2", "--out", "{tmp}/a/b"], "does not exist"),
        (
            ["transformer", "--p", "5", "--k", "2", "--init-scale", "1e30", "--out", "{tmp}/r"],
            "non-finite",
        ),
        (["grokking", "--problems", "11;3", "--out", "{tmp}/g"], "is not 'P,K'"),
        (["grokking", "--problems", "11,3", "--seeds", "-1"], "--seeds '-1'"),
        (["grokking", "--problems", "11,3;6,2", "--out", "{tmp}/g"], "p=6 must be an odd"),
    ],
)
def test_bad_input_is_one_stderr_line_and_nothing_written(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], words: str
) -> None:
    (tmp_path / "file.txt").write_text("not a directory")
    code = main([*(a.replace("{tmp}", str(tmp_path)) for a in argv), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], err
    assert lines[0].startswith(f"fourier-circuits {argv[0]}: error:")
    assert sorted(os.listdir(tmp_path)) == ["file.txt"]
