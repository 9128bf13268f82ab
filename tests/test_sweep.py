"""`fourier-circuits sweep` (issue 19; docs/sweep.md): the grid, each cell checked by its
subcommand before any runs, a small sweep on a LocalCluster whose cells equal their single
commands, rows recorded as cells finish (resume, a partial last line, failed cells as rows), the
seed statistics against an independent computation (scipy's Wilson interval), and bad input."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from scipy.stats import binomtest

from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.sweep import parse_grid, plan, run_sweep, summarise, wilson
from fourier_circuits.experiments.sweep.grid import MAX_CELLS, check_size
from fourier_circuits.experiments.sweep.store import JSONL
from fourier_circuits.theory import FourierCircuitsError

CLI = str(Path(sys.executable).with_name("fourier-circuits"))


def single(argv: list[str]) -> dict[str, Any]:
    """The JSON object of `fourier-circuits ARGV --json`, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        main([*argv, "--json"])
    return json.loads(out.getvalue())


def numbers(data: dict[str, Any]) -> dict[str, Any]:
    """A JSON object without what depends on the clock."""
    return {key: value for key, value in data.items() if "seconds" not in key}


def cell_data(row: dict[str, Any], axes: list[str]) -> dict[str, Any]:
    """The cell's JSON object back from its row (result_KEY is KEY where KEY is an axis)."""
    skip = {"cell", "status", "exit_status", "error", "failures", "wall_seconds", *axes}
    return {key.removeprefix("result_"): value for key, value in row.items() if key not in skip}


# --- the grid ---------------------------------------------------------------------------------


def test_a_grid_expands_ranges_and_names_flags() -> None:
    grid = parse_grid(" p=7,11 ; k=2..3; weight-decay=0.1,1;seed=-1..1")
    assert grid.names == ("p", "k", "weight_decay", "seed")
    assert grid.axes[2].flag == "--weight-decay"
    assert grid.axes[3].values == ("-1", "0", "1")
    assert grid.n_cells == 2 * 2 * 2 * 3
    cells = list(grid.cells())
    assert len(cells) == grid.n_cells and cells[1] == {
        "p": "7",
        "k": "2",
        "weight_decay": "0.1",
        "seed": "0",
    }


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("", ["empty"]),
        ("p=", ["empty value"]),
        ("p=7,,11", ["empty value"]),
        ("p=7;;k=2", ["empty axis"]),
        ("p=7;p=9", ["'p'", "twice"]),
        ("weight_decay=1;weight-decay=2", ["twice"]),
        ("p=7,7", ["repeats"]),
        ("p=3..1", ["empty"]),
        ("p=1..x", ["range"]),
        ("p=1...3", ["range"]),
        ("p7", ["'='"]),
        ("=7", ["name"]),
        ("seed=0..2000000", ["cells"]),
    ],
)
def test_a_malformed_grid_is_refused_naming_the_rule(spec: str, words: list[str]) -> None:
    with pytest.raises(FourierCircuitsError) as err:
        parse_grid(spec)
    for word in words:
        assert word in str(err.value), str(err.value)


def test_more_than_ten_thousand_cells_need_force() -> None:
    grid = parse_grid(f"p=5,7;seed=0..{MAX_CELLS // 2}")
    assert grid.n_cells > MAX_CELLS
    with pytest.raises(FourierCircuitsError, match="--force"):
        check_size(grid, force=False)
    check_size(grid, force=True)
    check_size(parse_grid(f"seed=1..{MAX_CELLS}"), force=False)  # control: exactly the limit


def test_an_unknown_axis_is_named_with_the_valid_ones() -> None:
    with pytest.raises(FourierCircuitsError) as err:
        plan("train", parse_grid("p=5;k=2;weigth_decay=0.1"))
    message = str(err.value)
    assert "'weigth_decay'" in message and "weight_decay" in message and "seed" in message


@pytest.mark.parametrize("axis", ["save", "out", "force"])
def test_options_that_write_files_are_not_axes(axis: str) -> None:
    with pytest.raises(FourierCircuitsError, match="cannot be swept"):
        plan("construct", parse_grid(f"p=5;k=2;{axis}=x"))


@pytest.mark.parametrize(
    ("name", "spec", "words"),
    [
        ("train", "p=5,4;k=2", ["cell 1", "p=4"]),  # the theory's rule, before any cell runs
        ("train", "p=5;k=2;seed=x", ["cell 0", "--seed"]),  # argparse's type
        ("train", "p=5;k=2;weight_decay=0.1", ["--weight-decay"]),  # the optimiser's rule
        ("train", "p=5;k=2;optimizer=margin,sgd9", ["cell 1", "optimizer"]),  # a choice
        ("transformer", "p=5;k=2;top=1000", ["--top"]),
        ("solve", "p=5;k=2;min_width=true", ["cell 0"]),  # --p with --min-width is fine ...
        ("construct", "k=2", ["--p"]),  # a required option missing
        ("construct", "p=5;k=2;exact=maybe", ["true or false"]),
        # a peer's flags: only gromov is random; a fixed design's width is its own
        ("construct", "p=5;k=2;design=gromov,cogo4;seed=1", ["cell 1", "deterministic"]),
        ("construct", "p=5;k=2;design=lattice;width=7", ["cell 0", "fixed width"]),
        ("construct", "p=5;k=2;design=cogo6;exact=true", ["cell 0", "--exact"]),
    ],
)
def test_a_value_the_subcommand_refuses_is_reported_before_any_cell_runs(
    name: str, spec: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if name == "solve":  # ... but --starts with --min-width does not apply
        spec += ";starts=3"
    with pytest.raises(FourierCircuitsError) as err:
        plan(name, parse_grid(spec))
    for word in words:
        assert word in str(err.value), str(err.value)


def test_switches_are_true_or_false() -> None:
    checked = plan("construct", parse_grid("p=5;k=2;exact=true,false"))
    assert [cell.argv for cell in checked.cells] == [
        ("--p=5", "--k=2", "--exact"),
        ("--p=5", "--k=2"),
    ]
    assert [cell.values["exact"] for cell in checked.cells] == [True, False]


# --- statistics -------------------------------------------------------------------------------


@pytest.mark.parametrize(("held", "n"), [(0, 1), (1, 1), (0, 10), (3, 10), (18, 24), (24, 24)])
def test_the_wilson_interval_equals_scipys(held: int, n: int) -> None:
    ci = binomtest(held, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(held, n)
    assert low == pytest.approx(ci.low, abs=1e-12) and high == pytest.approx(ci.high, abs=1e-12)


def test_a_wald_interval_is_not_taken_for_wilsons() -> None:
    """Negative control: the Wald interval p -+ z sqrt(p (1 - p) / n) differs from scipy's."""
    held, n = 18, 24
    share = held / n
    half = 1.959963984540054 * (share * (1 - share) / n) ** 0.5
    ci = binomtest(held, n).proportion_ci(method="wilson")
    assert abs((share - half) - ci.low) > 1e-3


def _row(cell: int, status: str, ratio: float | None) -> dict[str, Any]:
    data = (
        {} if ratio is None else {"margin_ratio": ratio, "claims": {"margin_ratio_at_least": 0.99}}
    )
    return {"cell": cell, "status": status, **data}


def test_summaries_count_seeds_per_group() -> None:
    cells = [{"p": p, "seed": s} for p in (5, 7) for s in range(4)]
    ratios = [0.995, 0.98, 0.999, None, 0.5, 0.991, 0.992, 0.993]
    statuses = ["ok", "claims_failed", "ok", "error", "claims_failed", "ok", "ok", "internal_error"]
    rows = [_row(i, st, r) for i, (st, r) in enumerate(zip(statuses, ratios, strict=True))]
    five, seven = summarise("train", ["p", "seed"], cells, rows)
    assert five.axes == {"p": 5} and seven.axes == {"p": 7}
    assert (five.cells, five.finished, five.errors) == (4, 4, 1)
    assert five.claims["all_claims_held"]["held"] == 2 and five.claims["all_claims_held"]["n"] == 4
    assert five.claims["margin_ratio >= 0.99"]["held"] == 2
    assert five.claims["margin_ratio >= 0.99"]["wilson_low"] == pytest.approx(wilson(2, 4)[0])
    q1, median, q3 = statistics.quantiles([0.995, 0.98, 0.999], n=4, method="inclusive")
    assert five.metric["n"] == 3 and five.metric["median"] == pytest.approx(median)
    assert (five.metric["q1"], five.metric["q3"]) == (pytest.approx(q1), pytest.approx(q3))
    # an internal error is no result: three cells of p = 7 count
    assert seven.finished == 3 and seven.claims["all_claims_held"]["n"] == 3
    assert seven.claims["margin_ratio >= 0.99"]["held"] == 2  # 0.5 fails the claim


# --- sweeps -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_sweep_on_a_local_cluster_equals_its_single_commands(tmp_path: Path) -> None:
    spec = "p=5,7;k=2;seed=0,1;steps=60"
    checked = plan("train", parse_grid(spec))
    out = tmp_path / "sweep"
    result = run_sweep(checked, out=out, executor="dask", workers=2)
    assert (result.total, result.ran, result.skipped, result.finished) == (4, 4, 0, 4)
    axes = list(checked.grid.names)
    for row in result.rows:
        cell = checked.cells[row["cell"]]
        expected = single(["train", *cell.argv])
        assert numbers(cell_data(row, axes)) == numbers(expected), cell.text
        assert row["status"] == "claims_failed" and row["failures"]  # 60 steps are too few
    # negative control: the comparison sees a different seed
    other = single(["train", "--p=5", "--k=2", "--seed=7", "--steps=60"])
    assert numbers(cell_data(result.rows[0], axes)) != numbers(other)
    lines = (out / JSONL).read_text().splitlines()
    assert sorted(json.loads(line)["cell"] for line in lines) == [0, 1, 2, 3]
    csv_lines = (out / "results.csv").read_text().splitlines()
    assert len(csv_lines) == 5 and csv_lines[0].startswith("cell,p,k,seed,steps,status")
    summary = json.loads((out / "summary.json").read_text())
    assert [group["axes"]["p"] for group in summary["groups"]] == [5, 7]
    assert (out / "figures" / "curves.png").stat().st_size > 1000
    again = run_sweep(checked, out=out, executor="dask", workers=2)  # resumed: nothing runs
    assert (again.ran, again.skipped) == (0, 4)
    assert numbers(again.rows[0]) == numbers(result.rows[0])


@pytest.mark.slow
def test_a_sweep_runs_on_an_existing_cluster_at_its_address(tmp_path: Path) -> None:
    """--scheduler: the cells go to a cluster the sweep did not start, which it leaves running."""
    from distributed import LocalCluster

    checked = plan("construct", parse_grid("p=5,7;k=2"))
    with LocalCluster(n_workers=1, processes=True, dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        result = run_sweep(checked, out=tmp_path / "d", scheduler=address)
        assert [row["status"] for row in result.rows] == ["ok", "ok"]
        assert len(cluster.scheduler_info["workers"]) == 1  # still there
    with pytest.raises(FourierCircuitsError, match="--workers"):
        run_sweep(checked, scheduler=address, workers=2)


def test_construct_and_solve_cells_equal_their_single_commands(tmp_path: Path) -> None:
    for name, spec in (("construct", "p=5,7;k=2;design=paper,lattice"), ("solve", "p=5;k=2")):
        checked = plan(name, parse_grid(spec))
        result = run_sweep(checked, executor="process")
        for row in result.rows:
            cell = checked.cells[row["cell"]]
            assert row["status"] == "ok", row
            expected = single([name, *cell.argv])
            assert numbers(cell_data(row, list(checked.grid.names))) == numbers(expected)


def test_a_failed_cell_is_a_row_with_its_error(tmp_path: Path) -> None:
    checked = plan("train", parse_grid("p=5;k=2;optimizer=gd;lr=1e12,0.05;steps=5"))
    result = run_sweep(checked, out=tmp_path / "d", executor="process")
    diverged, fine = result.rows
    assert diverged["status"] == "error" and diverged["exit_status"] == 2
    assert "loss" in diverged["error"] and "margin_ratio" not in diverged
    assert fine["status"] == "claims_failed" and fine["error"] is None  # control
    assert result.failed == 1 and result.groups[0].errors == 1
    rerun = run_sweep(checked, out=tmp_path / "d", executor="process")
    assert rerun.ran == 0  # a diverged seed diverges again: not retried


def test_a_partial_last_line_is_dropped_and_its_cell_run_again(tmp_path: Path) -> None:
    checked = plan("construct", parse_grid("p=3,5,7;k=2"))
    out = tmp_path / "d"
    run_sweep(checked, out=out, executor="process")
    lines = (out / JSONL).read_bytes().splitlines(keepends=True)
    (out / JSONL).write_bytes(b"".join(lines[:2]) + lines[2][:40])  # a crash mid-write
    rerun = run_sweep(checked, out=out, executor="process")
    assert (rerun.ran, rerun.skipped) == (1, 2)
    rows = [json.loads(line) for line in (out / JSONL).read_text().splitlines()]
    assert [row["cell"] for row in rows] == [0, 1, 2]
    assert len((out / "results.csv").read_text().splitlines()) == 4


def test_an_internal_error_is_run_again(tmp_path: Path) -> None:
    checked = plan("construct", parse_grid("p=3,5;k=2"))
    out = tmp_path / "d"
    run_sweep(checked, out=out, executor="process")
    lines = (out / JSONL).read_text().splitlines()
    lost = {**json.loads(lines[1]), "status": "internal_error", "exit_status": 3}
    (out / JSONL).write_text(lines[0] + "\n" + json.dumps(lost) + "\n")
    rerun = run_sweep(checked, out=out, executor="process")
    assert (rerun.ran, rerun.skipped) == (1, 1) and rerun.rows[1]["status"] == "ok"


def test_another_grid_in_the_same_dir_is_refused_unless_force(tmp_path: Path) -> None:
    out = tmp_path / "d"
    run_sweep(plan("construct", parse_grid("p=3;k=2")), out=out, executor="process")
    other = plan("construct", parse_grid("p=5;k=2"))
    with pytest.raises(FourierCircuitsError, match="another grid"):
        run_sweep(other, out=out, executor="process")
    fresh = run_sweep(other, out=out, force=True, executor="process")
    assert (fresh.ran, fresh.skipped) == (1, 0)
    assert len((out / JSONL).read_text().splitlines()) == 1


def test_an_edited_results_file_is_refused(tmp_path: Path) -> None:
    checked = plan("construct", parse_grid("p=3,5;k=2"))
    out = tmp_path / "d"
    run_sweep(checked, out=out, executor="process")
    (out / JSONL).write_text("not json\n" + (out / JSONL).read_text())
    with pytest.raises(FourierCircuitsError, match="line 1"):
        run_sweep(checked, out=out, executor="process")


# --- the command line (child processes) -------------------------------------------------------


def cli(argv: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *argv], cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_without_dask_the_sweep_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed: ImportError
    assert main(["sweep", "construct", "--grid", "p=3;k=2"]) == 2
    _, err = capsys.readouterr()
    assert "pip install 'fourier-circuits[cluster]'" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("kind", ["file", "fifo"])
def test_a_dir_that_is_a_file_or_fifo_is_refused(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "D"
    if kind == "file":
        target.write_text("mine")
    else:
        os.mkfifo(target)
    done = cli(["sweep", "construct", "--grid", "p=3;k=2", "--out", "D"], tmp_path, timeout=20)
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "--out 'D'" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D"]


def test_an_unreachable_scheduler_is_refused_within_seconds(tmp_path: Path) -> None:
    start = time.monotonic()
    argv = ["sweep", "construct", "--grid", "p=3;k=2", "--out", "D"]
    done = cli([*argv, "--scheduler", "tcp://127.0.0.1:9"], tmp_path, timeout=30)
    assert time.monotonic() - start < 15
    assert done.returncode == 2, done.stderr
    assert "--scheduler 'tcp://127.0.0.1:9'" in done.stderr and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []  # refused before DIR was written


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_with_only_the_unfinished_cells(tmp_path: Path) -> None:
    # construct cells of 0.2-2 s each (brute force over p^3 examples), no torch to import
    grid = "p=31,37,41,43,47,53;k=3"
    argv = ["sweep", "construct", "--grid", grid, "--out", "D", "--workers", "1"]
    child = subprocess.Popen(
        [CLI, *argv], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    results = tmp_path / "D" / JSONL
    deadline = time.monotonic() + 120
    while not (results.exists() and results.read_text().count("\n") >= 1):
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.05)
    child.send_signal(signal.SIGINT)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 130, err
    finished = results.read_text().count("\n")
    assert 1 <= finished < 6, finished
    done = cli([*argv, "--json"], tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["skipped"], data["ran"], data["finished"]) == (finished, 6 - finished, 6)
    cells = [json.loads(line)["cell"] for line in results.read_text().splitlines()]
    assert sorted(cells) == list(range(6))  # each cell once: none ran twice
