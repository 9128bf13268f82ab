"""`fourier-circuits verify`: --quick holds every claim and writes the report, results and figures;
a corrupted design or network fed into the pipeline makes it exit 1 naming the claim; a non-empty
--out is refused without --force; an interrupted run leaves nothing behind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fourier_circuits.constructions import construct, designs
from fourier_circuits.constructions.designs import PhaseDesign
from fourier_circuits.experiments import cmd_verify
from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.verify import CLAIM_IDS, VerifyPlan, constructive, empirical
from fourier_circuits.experiments.verify.plan import DEFAULT_PLAN, QUICK_PLAN
from fourier_circuits.theory import PolyNet

TINY = VerifyPlan(exact=((5, 2),), brute_force=((7, 2),), design_orders=(2,), convex=(), trained=())


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict, str]:
    code = main(["verify", *argv, "--json"])
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert len(lines) == 1, f"--json must print exactly one line, got {lines}"
    return code, json.loads(lines[0]), err


def test_verify_quick_holds_every_claim_and_writes_the_report(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "report"
    code, data, err = run_json(capsys, "--quick", "--out", str(out))
    assert code == 0, data["failed"]
    assert data["ok"] and data["failed"] == []
    quick_claims = set(CLAIM_IDS) - {"network", "grokking"}  # grokking: default plan only
    assert set(data["claims"]) == quick_claims and all(data["claims"].values())
    report = (out / "report.md").read_text()
    assert "**All" in report and "FAIL" not in report
    for claim in quick_claims:
        assert f'<a id="{claim}"></a>' in report
    results = json.loads((out / "results.json").read_text())
    assert results["ok"] and results["seed"] == 0 and "numpy" in results["versions"]
    assert {c["claim"] for c in results["checks"]} == quick_claims
    routes = {c["route"] for c in results["checks"]}
    assert routes == {"symbolic", "constructive", "convex", "empirical", "control"}
    figures = {p.name for p in (out / "figures").iterdir()}
    assert "gamma_star.png" in figures and "train_p13_k2_neuron_cosines.png" in figures
    assert "transformer_p11_k3_attention_heads.png" in figures
    for name in figures:
        assert f"figures/{name}" in report
        assert (out / "figures" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "verify [1/" in err  # progress on stderr, the subcommands' own output silenced
    assert "HiGHS" not in err
    assert not list(tmp_path.glob(".report*")), "a temporary directory was left behind"


def _broken_paper(k: int) -> PhaseDesign:
    """The paper's design with its first point removed: a corrupted construction."""
    paper = designs.paper_design(k)
    return PhaseDesign("paper", paper.N, paper.points[1:])


def test_a_corrupted_design_makes_verify_fail_naming_the_claims(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)
    monkeypatch.setitem(designs.DESIGNS, "paper", _broken_paper)
    code, data, _ = run_json(capsys, "--quick", "--out", str(tmp_path / "r"))
    assert code == 1
    assert data["claims"] == {
        "max_margin": False,
        "construction": False,
        "negative_controls": True,
    }
    named = "\n".join(data["failed"])
    assert "construction: design paper, k=2 (unwanted characters survive)" in named
    assert "max_margin: p=7, k=2 (relative error" in named
    assert "**FAILED: max_margin, construction**" in (tmp_path / "r" / "report.md").read_text()
    main(["verify", "--quick", "--out", str(tmp_path / "r2")])  # the human table names them too
    text = capsys.readouterr().out
    assert "FAILED: construction: design paper, k=2" in text
    assert text.rstrip().endswith("some checked claims FAILED")


def test_verify_passes_with_the_tiny_plan(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The positive twin of the corrupted-design test: the same plan holds with the real design."""
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)
    code, data, _ = run_json(capsys, "--quick", "--out", str(tmp_path / "r"))
    assert code == 0 and all(data["claims"].values())


def test_a_non_empty_out_is_refused_without_force(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)
    out = tmp_path / "r"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    assert main(["verify", "--quick", "--out", str(out)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "is not empty; pass --force" in err
    assert [p.name for p in out.iterdir()] == ["mine.txt"]
    assert main(["verify", "--quick", "--out", str(out), "--force"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["figures", "report.md", "results.json"]
    assert [p.name for p in tmp_path.iterdir()] == ["r"], "temporary directories left behind"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing" / "r", "does not exist"),
        (lambda d: (d / "f").write_text("x") and d / "f", "is not a directory"),
    ],
)
def test_bad_out_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: object, message: str
) -> None:
    out = make(tmp_path)  # type: ignore[operator]
    assert main(["verify", "--quick", "--out", str(out)]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_an_interrupted_run_leaves_no_half_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)

    def interrupted(p: int, k: int) -> list[object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(cmd_verify.constructive, "brute_force_checks", interrupted)
    out = tmp_path / "r"
    assert main(["verify", "--quick", "--out", str(out)]) == 130
    assert list(tmp_path.iterdir()) == [], "an interrupted run left files behind"


def test_network_option_checks_a_saved_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cmd_verify, "QUICK_PLAN", TINY)
    good, bad = tmp_path / "good.npz", tmp_path / "random.npz"
    construct(7, 3, "lattice").save(good)
    rng = np.random.default_rng(0)
    PolyNet(rng.normal(size=(54, 3, 7)), rng.normal(size=(54, 7))).save(bad)
    code, data, _ = run_json(
        capsys, "--quick", "--out", str(tmp_path / "a"), "--network", str(good)
    )
    assert code == 0 and data["claims"]["network"]
    code, data, _ = run_json(capsys, "--quick", "--out", str(tmp_path / "b"), "--network", str(bad))
    assert code == 1 and data["claims"] == {
        "max_margin": True,
        "construction": True,
        "negative_controls": True,
        "network": False,
    }
    assert any(f.startswith(f"network: {bad} (") for f in data["failed"])
    report = (tmp_path / "b" / "report.md").read_text()
    assert "**FAILED: network**" in report and "margin_ratio" in report


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--network", "missing.npz"], "--network: "),
        (["--min-ratio", "0.99"], "--min-ratio applies to --network"),
        (["--network", "x.npz", "--min-ratio", "2"], "min_ratio=2.0 must be in (0, 1]"),
    ],
)
def test_bad_network_options_are_refused_before_any_work(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    construct(5, 2).save("x.npz")
    assert main(["verify", "--quick", "--out", "r", *extra]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "r").exists()


class _Grokking:
    """What constructions.transformer.grokking returns, for one problem (its as_dict, no runs)."""

    runs: dict = {}  # noqa: RUF012 - a stand-in, never mutated

    def __init__(self, row: dict) -> None:
        self.row = row

    def as_dict(self) -> dict:
        return {"per_k": [self.row]}


def _grokking_outcome(reached: list[int | None]) -> _Grokking:
    """What `grokking` returns for one problem whose seeds reach test accuracy 0.99 at `reached`."""
    row = {
        "p": 13,
        "k": 3,
        "n_examples": 2197,
        "seeds": [0, 1, 2],
        "steps_to_test_099": reached,
        "steps_to_train_099": [100, 100, 100],
        "final_test_accuracy": [1.0 if r else 0.5 for r in reached],
        "test_examples_unseen_multisets": [80, 90, 70],
        "test_accuracy_unseen_multisets": [0.9, 0.9, 0.9],
        "seconds": [1.0, 1.0, 1.0],
        "test_099": {"reached": sum(r is not None for r in reached)},
        "grokking_delay": {"mean": 50.0},
    }
    return _Grokking(row)


def test_grokking_checks_hold_only_when_most_seeds_generalise(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The grokking step (default plan) maps each k to one check: two seeds of three that never
    reach test accuracy 0.99 fail it, naming how many (a negative control on the mapping)."""
    from matplotlib.figure import Figure

    from fourier_circuits.constructions import transformer
    from fourier_circuits.experiments import plots_transformer

    monkeypatch.setattr(plots_transformer, "grokking_figure", lambda runs: Figure())
    cases = (([150, 200, 120], True), ([150, None, 120], True), ([None, None, 120], False))
    for reached, holds in cases:
        outcome = _grokking_outcome(reached)
        monkeypatch.setattr(transformer, "grokking", lambda configs, o=outcome: o)
        (check,) = empirical.grokking_checks(0, tmp_path / "g")
        assert check.claim == "grokking" and check.subject == "p=13, k=3 (3 seeds)"
        assert check.holds is holds
        why = "2 of 3 runs did not reach test accuracy 0.99 (a majority must)"
        assert holds or check.why == why
    assert DEFAULT_PLAN.grokking and not QUICK_PLAN.grokking


class _Report:
    """What constructions.transformer.report returns: as_dict() and failures."""

    def __init__(self, data: dict, failures: list[str]) -> None:
        self.data, self.failures = data, failures

    def as_dict(self) -> dict:
        return self.data


def _transformer_outcome(seed: int, test_accuracy: float, concentration: float) -> _Report:
    """What a Transformer run reports for (11, 3) at `seed` with final `test_accuracy` and
    attention_fourier_concentration."""
    data = {
        "seed": seed,
        "test_accuracy": test_accuracy,
        "train_accuracy": 1.0,
        "steps_to_test_099": 500 if test_accuracy >= 0.99 else None,
        "steps_to_train_099": 200,
        "steps": 500,
        "seconds": 4.0,
        "test_accuracy_seen_multisets": 1.0,
        "test_accuracy_unseen_multisets": 0.9,
        "test_examples_unseen_multisets": 62,
        "n_top": 4,
        "attention_fourier_concentration": concentration,
        "noise_concentration": 0.24,
        "top_frequencies": [[1, 2]],
        "top_frequency_shares": [0.6],
        "embedding_frequencies": [1, 2],
        "explained_by_embedding_frequencies": 1.0,
        "head_concentrations": [0.6],
    }
    failures = [] if test_accuracy >= 0.99 else [f"test accuracy >= 0.99: {test_accuracy}"]
    return _Report(data, failures)


@pytest.mark.parametrize(
    ("runs", "tried", "holds", "sparse"),
    [
        ([(0.995, 0.6)], [7], True, True),
        ([(0.989, 0.6), (0.991, 0.5)], [7, 8], True, True),
        ([(0.995, 0.30), (0.991, 0.5)], [7, 8], True, True),
        ([(0.989, 0.6), (0.98, 0.6), (0.985, 0.6)], [7, 8, 9], False, True),
        ([(0.995, 0.30), (0.995, 0.29), (0.995, 0.28)], [7, 8, 9], True, False),
    ],
)
def test_transformer_check_tries_up_to_three_seeds_and_reports_each(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    runs: list[tuple[float, float]],
    tried: list[int],
    holds: bool,
    sparse: bool,
) -> None:
    """verify's seed S, then S + 1, S + 2 until a run reaches test accuracy 0.99 with attention
    above the noise threshold (0.313 at p = 11); every attempt is in the numbers, and three misses
    fail the claim naming every seed (negative controls: accuracy, then spectrum)."""
    calls: list[int] = []

    def fake_run(p: int, k: int, seed: int, steps: int | None, out: Path) -> _Report:
        assert (p, k, steps) == (11, 3, 6000)
        out.mkdir()  # the run's figures; the next attempt must be able to reuse the directory
        calls.append(seed)
        return _transformer_outcome(seed, *runs[len(calls) - 1])

    monkeypatch.setattr(empirical, "transformer_run", fake_run)
    monkeypatch.setattr(empirical, "attempt", lambda run: (run(), "", 2.0))
    accuracy, spectrum = empirical.transformer_checks(11, 3, 7, tmp_path / "t", steps=6000)
    assert calls == tried
    assert accuracy.holds is holds and spectrum.holds is sparse
    assert accuracy.numbers["seeds_tried"] == tried
    assert accuracy.numbers["test_accuracy_per_seed"] == [a for a, _ in runs]
    assert accuracy.numbers["concentration_per_seed"] == [c for _, c in runs]
    assert accuracy.seconds == 2.0 * len(tried)
    assert accuracy.command.endswith(f"--seed {tried[-1]} --steps 6000")
    assert (accuracy.why == "") is holds
    if not holds:
        assert all(f"seed {seed}: test accuracy" in accuracy.why for seed in tried)
    assert (spectrum.why == "") is sparse
    if not sparse:
        assert spectrum.why.startswith("attention_fourier_concentration 0.28 <= noise 0.3")


def test_min_width_check_fails_when_the_bound_and_the_design_disagree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """k = 2: the proved lower bound must meet the design size; a width with no brute-force margin
    is not evidence."""
    from types import SimpleNamespace

    result = SimpleNamespace(
        smallest_design_size=8,
        lower_bound_per_frequency=6,
        lower_bound_method="clique",
        paper_size=8,
        lattice_size=6,
        proved=True,
        width=None,
        margin_ratio=None,
        failures=(),
    )
    monkeypatch.setattr(constructive, "smallest_width", lambda k, p: result)
    (check,) = constructive.min_width_checks(7, 2)
    assert not check.holds
    assert (
        "lower bound must meet the design size: 6 != 8" in check.why
        and "no brute-force" in check.why
    )
