"""`fourier-circuits inspect F.npz`: claims, exit status 0/1/2, one-line errors, figures; and
experiments.summary, the measurement it shares with other commands."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fourier_circuits.constructions import PhaseDesign, construct, paper_design
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, PolyNet, gamma_star, summarise

INSPECT_KEYS = {
    "p",
    "k",
    "width",
    "normalized_margin",
    "gamma_star",
    "margin_ratio",
    "all_correct",
    "frequencies_covered",
    "max_normalized_power_median",
}


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["inspect", *argv, "--json"])
    out, _ = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0])


def saved(net: PolyNet, path: Path) -> str:
    net.save(path)
    return str(path)


def test_the_analytic_network_passes(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = saved(construct(7, 3), tmp_path / "paper.npz")
    code, data = run_json(capsys, path)
    assert code == 0
    assert data.keys() >= INSPECT_KEYS
    assert (data["p"], data["k"], data["width"]) == (7, 3, 96)
    assert data["gamma_star"] == gamma_star(7, 3)
    assert abs(data["margin_ratio"] - 1) < 1e-12 and data["all_correct"] is True
    assert data["frequencies_covered"] == 1.0 and data["max_normalized_power_median"] > 1 - 1e-12
    assert data["neurons_per_frequency"] == [0, 32, 32, 32]
    assert data["certificate_holds"] and data["condition_3_8"] < 1e-12
    assert data["max_phase_residual"] < 1e-12 and data["min_amplitude_balance"] > 1 - 1e-12
    assert all(data["claims"].values()) and data["failed"] == []
    assert data["meta"]["made_by"] == "fourier_circuits.constructions.analytic.construct"
    assert len(data["neurons"]["dominant_frequency"]) == 96


def test_the_table_names_every_claim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = saved(construct(5, 2, "lattice"), tmp_path / "lattice.npz")
    assert main(["inspect", path]) == 0
    out = capsys.readouterr().out
    assert "claim margin_reaches_gamma_star" in out and "all checked claims held" in out
    assert "neurons per frequency" in out and "1:6  2:6" in out


def test_a_random_network_fails_and_names_the_margin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    path = saved(PolyNet(rng.normal(size=(24, 2, 7)), rng.normal(size=(24, 7))), tmp_path / "r.npz")
    code, data = run_json(capsys, path)
    assert code == 1 and data["margin_ratio"] < 0
    assert data["claims"]["margin_reaches_gamma_star"] is False
    assert any("normalized margin >=" in claim for claim in data["failed"])
    assert main(["inspect", path]) == 1
    out = capsys.readouterr().out
    assert "FAILED: normalized margin >= " in out and "some checked claims FAILED" in out


def test_a_broken_design_fails_the_margin(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Negative control: the paper's design less one point (wrong labels no longer tied)."""
    paper = paper_design(2)
    broken = PhaseDesign("paper-minus-one", paper.N, paper.points[1:])
    code, data = run_json(capsys, saved(construct(7, 2, broken), tmp_path / "b.npz"))
    assert code == 1 and data["margin_ratio"] < 1
    assert data["wrong_labels_tied"] is False
    assert data["failed"][0].startswith("normalized margin >= ")


def test_a_missing_frequency_is_named(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    net = construct(7, 2, frequencies=[1, 3])
    code, data = run_json(capsys, saved(net, tmp_path / "f.npz"))
    assert code == 1 and data["missing_frequencies"] == [2]
    assert (
        "every frequency used by an active neuron (Theorem 4.1 (iii)): missing [2]"
        in (data["failed"])
    )


def test_min_ratio_relaxes_only_the_margin_claim(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A near-max-margin network (the construction plus noise) fails the default claim and
    passes --min-ratio 0.99, what `train` claims."""
    net = construct(7, 2)
    rng = np.random.default_rng(1)
    noisy = PolyNet(
        net.U + 1e-5 * rng.normal(size=net.U.shape), net.W + 1e-5 * rng.normal(size=net.W.shape)
    )
    path = saved(noisy, tmp_path / "noisy.npz")
    code, data = run_json(capsys, path)
    assert code == 1 and 0.99 < data["margin_ratio"] < 1 - 1e-9
    assert data["failed"] == [data["failed"][0]] and "margin_ratio" in data["failed"][0]
    code, data = run_json(capsys, path, "--min-ratio", "0.99")
    assert code == 0 and data["min_ratio"] == 0.99


def test_the_upper_bound_claim_can_fail(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control for 'normalized margin <= gamma*': a gamma* claimed 1% too low."""
    from fourier_circuits.theory import margins

    path = saved(construct(5, 2), tmp_path / "c.npz")
    monkeypatch.setattr(margins, "gamma_star", lambda p, k: 0.99 * gamma_star(p, k))
    code, data = run_json(capsys, path)
    assert code == 1
    assert data["claims"]["margin_at_most_gamma_star"] is False
    assert data["claims"]["class_weighted_at_most_gamma_star"] is False


def test_out_writes_json_and_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = saved(construct(5, 2), tmp_path / "c.npz")
    out = tmp_path / "report"
    code, data = run_json(capsys, path, "--out", str(out))
    assert code == 0
    names = {"inspect.json", "power_heatmap.png", "neuron_cosines.png", "neurons_per_frequency.png"}
    assert set(os.listdir(out)) == names  # no temporary file left behind
    assert json.loads((out / "inspect.json").read_text()) == data
    assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in names - {"inspect.json"})


def _npz(**arrays: object) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    return buffer.getvalue()


def _good(**override: object) -> bytes:
    net = construct(5, 2)
    arrays: dict[str, object] = {"U": net.U, "W": net.W, "p": 5, "k": 2, "meta": "{}"}
    arrays.update(override)
    return _npz(**{key: value for key, value in arrays.items() if value is not None})


def _pickled_members() -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, U=np.array([object()], dtype=object), W=np.zeros((1, 5)), p=5, k=2)
    return buffer.getvalue()


def _encrypted_flag() -> bytes:
    """A valid file whose zip entries claim to be encrypted (zipfile: RuntimeError)."""
    data = bytearray(_good())
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            data[start + offset] |= 1
            start += 4
    return bytes(data)


BAD_FILES: dict[str, tuple[Callable[[], bytes] | None, str]] = {
    "missing": (None, "no such file"),
    "empty": (lambda: b"", "not a valid .npz"),
    "text": (lambda: b"hello, world\n", "not a valid .npz"),
    "truncated": (lambda: _good()[:200], "not a valid .npz"),
    "pickle": (lambda: pickle.dumps({"U": 1}), "not a valid .npz"),
    "npy": (lambda: _npy(np.zeros((2, 2, 5))), "single .npy array"),
    "pickled members": (_pickled_members, "not a valid .npz"),
    "encrypted": (_encrypted_flag, "not a valid .npz"),
    "no W": (lambda: _good(W=None), "lacks the arrays ['W']"),
    "W shape": (lambda: _good(W=np.zeros((3, 5))), "W has shape (3, 5)"),
    "even p": (lambda: _npz(U=np.ones((2, 2, 4)), W=np.ones((2, 4)), p=4, k=2), "p=4"),
    "nan": (lambda: _good(U=np.full((16, 2, 5), np.nan)), "non-finite"),
    "complex": (lambda: _good(W=np.zeros((16, 5), dtype=complex)), "real numbers"),
    "stored p": (lambda: _good(p=7), "do not match"),
    "float k": (lambda: _good(k=2.0), "single integer"),
    "meta": (lambda: _good(meta="{not json"), "meta is not valid JSON"),
    "meta list": (lambda: _good(meta="[1, 2]"), "meta must be a JSON object"),
    "zero": (lambda: _npz(U=np.zeros((2, 2, 5)), W=np.zeros((2, 5)), p=5, k=2), "zero"),
    "huge": (lambda: _good(U=np.full((16, 2, 5), 1e200)), "overflow"),
    "too big": (
        lambda: _npz(U=np.ones((1, 8, 97)), W=np.ones((1, 97)), p=97, k=8),
        "more than the limit",
    ),
}


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_file_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    make, needle = BAD_FILES[case]
    path = tmp_path / "net.npz"
    if make is not None:
        path.write_bytes(make())
    assert main(["inspect", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("fourier-circuits inspect: error: ")
    assert needle in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["fifo", "device", "empty path"])
def test_what_is_not_a_regular_file_is_refused_unread(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str
) -> None:
    """A FIFO would block the reader, a device never end; an empty path names no file (it is
    not the current directory): one line, exit 2, nothing read."""
    if kind == "fifo":
        path = tmp_path / "net.npz"
        os.mkfifo(path)
        given, needle = str(path), "it is a FIFO, not a regular file"
    elif kind == "device":
        given, needle = "/dev/zero", "it is a device or socket, not a regular file"
    else:
        given, needle = "", "the path is empty"
    assert main(["inspect", given, "--json"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.strip().splitlines()) == 1 and needle in err, err
    with pytest.raises(FourierCircuitsError, match=needle):
        PolyNet.load(given)


def test_a_directory_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("ratio", ["0", "1.5", "nan", "-1"])
def test_a_bad_min_ratio_exits_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, ratio: str
) -> None:
    path = saved(construct(5, 2), tmp_path / "c.npz")
    assert main(["inspect", path, "--min-ratio", ratio]) == 2
    err = capsys.readouterr().err
    assert "min_ratio" in err and len(err.strip().splitlines()) == 1


def test_an_unwritable_out_fails_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = saved(construct(5, 2), tmp_path / "c.npz")
    assert main(["inspect", path, "--out", str(tmp_path / "no" / "dir")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["inspect", path, "--out", path]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_meta_with_nan_still_prints_valid_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "nan_meta.npz"
    path.write_bytes(_good(meta='{"loss": NaN, "seed": 3}'))
    code, data = run_json(capsys, str(path))
    assert code == 0 and data["meta"] == {"loss": None, "seed": 3}


GOOD = _good()


@settings(max_examples=60)
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.integers(0, 255)), max_size=12))
def test_corrupted_bytes_give_a_domain_error_or_a_network(flips: list[tuple[int, int]]) -> None:
    """Whatever bytes are flipped, PolyNet.load returns a valid network or raises
    FourierCircuitsError (never zipfile's or numpy's own exceptions)."""
    data = bytearray(GOOD)
    for where, byte in flips:
        data[where] = byte
    buffer_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"fc-fuzz-{os.getpid()}.npz"
    buffer_path.write_bytes(bytes(data))
    try:
        net = PolyNet.load(buffer_path)
        assert net.U.shape == (16, 2, 5)
    except FourierCircuitsError as err:
        assert "\n" not in str(err)
    finally:
        buffer_path.unlink()


def test_summarise_is_the_shared_measurement() -> None:
    s = summarise(construct(7, 2, "grid3"))
    assert s.failures() == [] and all(s.claims().values())
    assert abs(s.class_weighted_ratio - 1) < 1e-12
    data = s.as_dict(min_ratio=0.5)
    assert data.keys() >= INSPECT_KEYS and data["min_ratio"] == 0.5
    json.dumps(data, allow_nan=False)
    with pytest.raises(FourierCircuitsError, match="min_ratio"):
        s.failures(min_ratio=2.0)


def test_zip_members_that_are_not_npy_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "raw.npz"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("U", "W", "p", "k"):
            archive.writestr(f"{name}.npy", b"not an array")
    with pytest.raises(FourierCircuitsError, match="cannot load"):
        PolyNet.load(path)
