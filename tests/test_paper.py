"""`fourier-circuits paper` through the command line: the report and its files, the JSON keys,
an interrupted run resumed to the numbers of an uninterrupted one, and hostile input."""

from __future__ import annotations

import contextlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import fourier_circuits.theory.budget as budget
from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.cmd_paper import STOP_AFTER_ENV, partial_dir
from fourier_circuits.experiments.paper.plan import NAMES
from fourier_circuits.theory import PolyNet

EXPERIMENT = "mlp-k3-p97"  # quick: (k, p) = (2, 23), a few seconds
ENTRY_KEYS = {"name", "settings", "steps", "seconds", "train_accuracy", "test_accuracy"}
MLP_KEYS = {"margin_ratio", "max_normalized_power_median", "frequencies_covered", "network"}


def _paper(out: Path, *extra: str) -> list[str]:
    return ["paper", "--quick", "--experiment", EXPERIMENT, "--out", str(out), *extra]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict[str, Any], Path]:
    """One uninterrupted quick run: (exit status, its --json object, DIR)."""
    out = tmp_path_factory.mktemp("paper") / "report"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*_paper(out), "--json"])
    lines = stdout.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0]), out


def _strip(value: Any) -> Any:
    """The numbers of a result without its wall times (which differ run to run)."""
    if isinstance(value, dict):
        # the report's text names the comparison's wall time too
        return {k: _strip(v) for k, v in value.items() if k not in {"seconds", "report"}}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def test_quick_run_writes_report_results_figures_and_network(
    finished: tuple[int, dict[str, Any], Path],
) -> None:
    code, data, out = finished
    assert code in (0, 1)  # 1: a claim not reproduced at the quick sizes, named in the output
    (entry,) = data["experiments"]
    assert entry.keys() >= ENTRY_KEYS | MLP_KEYS
    assert entry["name"] == EXPERIMENT and entry["settings"]["width"] == 4 * 22
    assert entry["verdict"] in {"reproduced", "partly reproduced", "not reproduced"}
    assert (code == 0) == (entry["verdict"] == "reproduced")
    assert Path(entry["network"]) == out / EXPERIMENT / "network.npz"
    report = (out / "report.md").read_text()
    assert f"## {EXPERIMENT}" in report and entry["verdict_reason"] in report
    saved = json.loads((out / "results.json").read_text())
    assert saved["seed"] == 0 and "torch" in saved["versions"]
    assert _strip(saved["experiments"][0])["margin_ratio"] == entry["margin_ratio"]
    for figure in entry["figures"]:
        assert (out / figure["path"]).is_file() and figure["path"] in report
    assert (out / EXPERIMENT / "checkpoint.pt").is_file()
    assert not partial_dir(out).exists()


def test_inspect_reads_the_saved_network(
    finished: tuple[int, dict[str, Any], Path], capsys: pytest.CaptureFixture[str]
) -> None:
    _, data, _ = finished
    (entry,) = data["experiments"]
    capsys.readouterr()
    code = main(["inspect", entry["network"], "--json"])
    found = json.loads(capsys.readouterr().out)
    assert code in (0, 1)  # an AdamW network need not reach gamma*
    assert found["margin_ratio"] == pytest.approx(entry["margin_ratio"], rel=1e-9)
    assert found["max_normalized_power_median"] == pytest.approx(
        entry["max_normalized_power_median"], rel=1e-9
    )
    assert PolyNet.load(entry["network"]).meta["experiment"] == EXPERIMENT


def test_interrupted_run_resumes_to_the_uninterrupted_numbers(
    finished: tuple[int, dict[str, Any], Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, data, reference = finished
    out = tmp_path / "report"
    monkeypatch.setenv(STOP_AFTER_ENV, "100")  # stop once the checkpoint of step 100 is saved
    assert main(_paper(out)) == 130
    err = capsys.readouterr().err
    assert "--resume" in err and not out.exists()
    checkpoint = partial_dir(out) / EXPERIMENT / "checkpoint.pt"
    assert checkpoint.is_file()
    # without --resume the partial run is refused, with the way out named
    monkeypatch.delenv(STOP_AFTER_ENV)
    assert main(_paper(out)) == 2
    err = capsys.readouterr().err
    assert "--resume" in err and "--force" in err and len(err.strip().splitlines()) == 1
    # another seed cannot continue it
    assert main([*_paper(out), "--resume", "--seed", "1"]) == 2
    assert "seed" in capsys.readouterr().err
    main([*_paper(out), "--resume", "--json"])
    resumed = json.loads(capsys.readouterr().out)
    assert _strip(resumed["experiments"][0]["monitor"]) == _strip(data["experiments"][0]["monitor"])
    mine, theirs = resumed["experiments"][0], data["experiments"][0]
    for entry in (mine, theirs):
        entry.pop("network")
    assert _strip(mine) == _strip(theirs)
    a = PolyNet.load(out / EXPERIMENT / "network.npz")
    b = PolyNet.load(reference / EXPERIMENT / "network.npz")
    np.testing.assert_array_equal(a.U, b.U)
    np.testing.assert_array_equal(a.W, b.W)
    assert not partial_dir(out).exists()


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], *words: str) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err, captured.err
    for word in words:
        assert word in lines[0]


def test_unknown_experiment_lists_the_valid_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["paper", "--experiment", "mlp-k9-p3", "--out", str(tmp_path / "x")]
    _one_line_error(capsys, argv, "mlp-k9-p3", *NAMES)


def test_resume_without_a_partial_run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_error(capsys, [*_paper(tmp_path / "x"), "--resume"], "--resume", "no interrupted")


def test_out_that_is_a_file_or_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    regular = tmp_path / "file"
    regular.write_text("keep")
    _one_line_error(capsys, _paper(regular), "not a directory")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    _one_line_error(capsys, _paper(fifo), "FIFO")
    assert regular.read_text() == "keep"


def test_a_job_that_cannot_fit_is_refused_with_its_estimate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(budget, "memory_limit", lambda: 2**20)
    argv = ["paper", "--experiment", "mlp-k5-p23", "--out", str(tmp_path / "x")]
    _one_line_error(capsys, argv, "mlp-k5-p23", "memory", "MiB")
    assert not (tmp_path / "x").exists() and not partial_dir(tmp_path / "x").exists()
