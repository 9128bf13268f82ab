"""`inspect FILE...`: several files and directories in one process (one table, one JSON object, a
checkpoint series as curves); foreign files (PyTorch, safetensors) give the .npz's numbers; the
claims checked follow how the network was trained, and --claims chooses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.foreign import mlp_state
from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.export import save_network
from fourier_circuits.experiments.inspect_claims import MAX_MARGIN_CLAIMS, training_regime
from fourier_circuits.theory import PolyNet


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["inspect", *argv, "--json"])
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0])


def noisy(net: PolyNet, scale: float, seed: int) -> PolyNet:
    rng = np.random.default_rng(seed)
    return PolyNet(
        net.U + scale * rng.normal(size=net.U.shape), net.W + scale * rng.normal(size=net.W.shape)
    )


def test_a_checkpoint_directory_is_one_table_one_object_and_curves(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    run.mkdir()
    base = construct(7, 2)
    for step, scale in ((10, 0.05), (20, 0.02), (100, 0.005), (30, 0.01)):  # any order on disk
        save_network(noisy(base, scale, step), run / f"ckpt_step{step}.pt")
    (run / "notes.txt").write_text("not a network")  # ignored: not a network file's suffix
    code, data = run_json(capsys, str(run), "--out", str(tmp_path / "figs"))
    assert data["n_files"] == 4 and [Path(e["file"]).name for e in data["files"]] == [
        "ckpt_step10.pt",
        "ckpt_step20.pt",
        "ckpt_step30.pt",
        "ckpt_step100.pt",
    ]
    series = data["series"]
    assert series["steps"] == [10, 20, 30, 100]
    ratios = series["margin_ratio"]
    assert ratios == sorted(ratios) and ratios[-1] < 1  # less noise, more margin
    assert series["accuracy"] == [e["accuracy"] for e in data["files"]]
    assert code == (1 if data["failed"] else 0)
    assert (tmp_path / "figs" / "series.png").stat().st_size > 0
    written = json.loads((tmp_path / "figs" / "inspect.json").read_text())
    assert written["series"] == series
    assert main(["inspect", str(run)]) == code  # the table: one row per file and the series
    table = capsys.readouterr().out
    assert table.count("ckpt_step") >= 4 and "4 steps, 10 .. 100" in table


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
def test_an_exported_file_gives_the_npz_numbers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, suffix: str
) -> None:
    npz, foreign = tmp_path / "net.npz", tmp_path / f"net{suffix}"
    assert (
        main(["construct", "--p", "7", "--k", "3", "--design", "lattice", "--save", str(npz)]) == 0
    )
    argv = ["construct", "--p", "7", "--k", "3", "--design", "lattice", "--save", str(foreign)]
    assert main(argv) == 0
    capsys.readouterr()
    code_npz, ours = run_json(capsys, str(npz))
    code, theirs = run_json(capsys, str(foreign))
    assert code_npz == code == 0
    for key in ("normalized_margin", "margin_ratio", "max_normalized_power_median", "norm"):
        assert abs(theirs[key] - ours[key]) <= 1e-12 * abs(ours[key]), key
    assert theirs["frequencies_covered"] == ours["frequencies_covered"] == 1.0
    assert theirs["training"]["regime"] == "max_margin"  # the provenance says `construct`
    assert theirs["checked"] == list(MAX_MARGIN_CLAIMS) and theirs["format"] != "npz"
    assert "checked" not in ours and "training" not in ours  # the .npz object as before


def _mse_network(path: Path, metadata: dict[str, str] | None) -> None:
    """A correct Fourier network below gamma* (noise), saved as safetensors with metadata."""
    save_file(mlp_state(noisy(construct(7, 2), 0.01, 0)), str(path), metadata=metadata)


def test_margin_claims_are_reported_not_checked_for_mse_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "mse.safetensors"
    _mse_network(path, {"loss": "MSE", "weight_decay": "5"})
    code, data = run_json(capsys, str(path))
    assert code == 0 and data["checked"] == ["single_frequency_neurons", "every_frequency_used"]
    assert data["claims"]["margin_reaches_gamma_star"] is False  # reported
    assert data["accuracy"] == 1.0 and data["training"]["regime"] == "other"
    assert "margin-maximising" in data["training"]["reason"] or "MSE" in data["training"]["reason"]
    assert "reported, not checked" in data["training"]["note"]
    assert run_json(capsys, str(path), "--claims", "all")[0] == 1  # checked on request
    assert run_json(capsys, str(path), "--claims", "margin,fourier")[0] == 1
    code, data = run_json(capsys, str(path), "--claims", "none")
    assert code == 0 and data["checked"] == [] and data["failed"] == []
    # the control: cross-entropy with vanishing regularisation puts the margin claims in
    ce = tmp_path / "ce.safetensors"
    _mse_network(ce, {"loss": "cross_entropy", "weight_decay": "0.0001"})
    code, data = run_json(capsys, str(ce))
    assert code == 1 and data["training"]["regime"] == "margin_training"
    assert data["failed"][0].startswith("normalized margin >= 0.99 gamma*")


def test_training_regimes_from_metadata() -> None:
    assert training_regime({})[0] == "unknown"
    assert training_regime({"config": {"loss": "mse"}})[0] == "other"
    assert training_regime({"criterion": "CrossEntropyLoss", "weight_decay": 1.0})[0] == "other"
    assert training_regime({"loss": "cross-entropy"})[0] == "margin_training"
    provenance = json.dumps({"command": "train", "optimizer": "margin"})
    assert training_regime({"provenance": provenance})[0] == "margin_training"
    assert training_regime({"provenance": json.dumps({"command": "construct"})})[0] == "max_margin"


def test_an_npz_with_claims_chosen_and_many_files_with_one_failing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good, bad = tmp_path / "good.npz", tmp_path / "bad.pt"
    construct(5, 2).save(good)
    save_network(noisy(construct(5, 2), 0.05, 1), bad)
    code, data = run_json(capsys, str(good), "--claims", "fourier")
    assert code == 0 and data["checked"] == ["single_frequency_neurons", "every_frequency_used"]
    code, data = run_json(capsys, str(good), str(bad), "--claims", "margin_reaches_gamma_star")
    assert code == 1 and data["n_files"] == 2 and data["series"] is None
    assert data["failed"] and all(f.startswith(str(bad)) for f in data["failed"])
    assert data["files"][0]["claims"]["margin_reaches_gamma_star"] is True


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--claims", "bogus"], "not a claim or group"),
        (["--layout", "concatenated"], "--layout and --k apply"),
        (["--format", "pytorch"], "it is a npz file"),
    ],
)
def test_bad_options_are_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], words: str
) -> None:
    path = tmp_path / "n.npz"
    construct(5, 2).save(path)
    if argv[0] == "--format":
        path = path.rename(tmp_path / "n.bin")
    assert main(["inspect", str(path), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and words in err[0]


def test_a_directory_without_network_files_and_a_missing_file_are_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "readme.txt").write_text("x")
    assert main(["inspect", str(tmp_path)]) == 2
    assert "no network files" in capsys.readouterr().err
    construct(5, 2).save(tmp_path / "a.npz")
    assert main(["inspect", str(tmp_path / "a.npz"), str(tmp_path / "gone.pt")]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.slow
def test_train_saves_safetensors_that_inspect_reads_as_margin_training(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "run.safetensors"
    assert main(["train", "--p", "5", "--k", "2", "--save", str(path), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    code, data = run_json(capsys, str(path))
    assert abs(data["margin_ratio"] - trained["margin_ratio"]) < 1e-12
    assert data["training"]["regime"] == "margin_training" and data["min_ratio"] == 0.99
    assert code == 0 and data["checked"] == list(MAX_MARGIN_CLAIMS)
