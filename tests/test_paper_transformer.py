"""experiments.paper's Transformer and grokking experiments: the paper's settings, the --quick
pipeline with the keys the issue lists, the saved model read back by `inspect`, an interrupted
run resumed to the uninterrupted result, the stop rule, the weight-noise control and the grokking
verdict, each with a negative control. The quick runs are shortened here (monkeypatched step
budgets and problems): the tests check the pipeline, the runs in the docs check the science."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from fourier_circuits.constructions.transformer import TransformerConfig, TransformerRecord
from fourier_circuits.constructions.transformer.model import init_params, to_numpy
from fourier_circuits.experiments.cli import main
from fourier_circuits.experiments.paper import grokking, transformer
from fourier_circuits.experiments.paper.common import RunContext, StepBudgetReached
from fourier_circuits.experiments.paper.plan import experiment
from fourier_circuits.theory import attention_spectrum, pooled_concentration, query_key_matrix

GIB = 2**30


@pytest.fixture
def short(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quick runs of at most 200 steps, and grokking on two tiny problems."""
    monkeypatch.setattr(transformer, "QUICK_SETTINGS", {**transformer.QUICK_SETTINGS, "steps": 200})
    monkeypatch.setattr(grokking, "QUICK_SETTINGS", {**grokking.QUICK_SETTINGS, "steps": 300})
    monkeypatch.setattr(grokking, "QUICK_PROBLEMS", ((2, 11), (3, 5)))


def context(root: Path, *, resume: bool = False, stop_after: int | None = None) -> RunContext:
    (root / "figures").mkdir(parents=True, exist_ok=True)
    return RunContext(
        work_dir=root / "run",
        figures_dir=root / "figures",
        device="cpu",
        quick=True,
        resume=resume,
        seed=0,
        stop_after=stop_after,
    )


def without_seconds(entry: dict[str, Any]) -> dict[str, Any]:
    """The entry with every wall-clock time left out."""
    text = json.dumps(entry, default=str)
    data = json.loads(text)
    data.pop("seconds")
    for row in data.get("per_k", []):
        row.pop("seconds")
    return data


def test_the_full_experiments_use_the_papers_settings_and_fit_in_memory() -> None:
    for name in ("transformer-k4-p31", "transformer-k3-p61", "transformer-k5-p17"):
        settings = experiment(name).settings(False)
        paper = {"n_heads": 160, "d_model": 128, "lr": 1e-3, "weight_decay": 1e-3}
        assert {key: settings[key] for key in paper} == paper
        assert (settings["batch_size"], settings["beta2"], settings["warmup_steps"]) == (
            1024,
            0.98,
            10,
        )
        assert settings["train_fraction"] == 0.5
        assert experiment(name).estimate(False, "cpu").bytes < 8 * GIB
        quick = experiment(name).settings(True)
        assert quick["n_heads"] < 160 and quick["p"] ** quick["k"] < 5000
    grok = experiment("grokking").settings(False)
    assert grok["problems"] == [[2, 97], [3, 31], [4, 11], [5, 5]]
    model = grok["model"]
    assert (model["n_heads"], model["d_model"], model["batch_size"]) == (160, 128, 1024)
    assert (model["lr"], model["weight_decay"]) == (1e-3, 1e-3)
    assert grok["model_toolkit"]["weight_decay"] == 1.0  # the arm beside it
    assert experiment("grokking").estimate(False, "cpu").bytes < 8 * GIB


def test_quick_transformer_entry_and_inspect_reads_its_model(
    short: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = experiment("transformer-k4-p31").run(context(tmp_path))
    entry = result.as_dict()
    for key in ("name", "settings", "steps", "seconds", "train_accuracy", "test_accuracy"):
        assert key in entry
    for key in ("attention_fourier_concentration", "noise_concentration_q99", "model"):
        assert key in entry
    assert (entry["p"], entry["k"]) == (7, 4)
    assert 0 < entry["noise_concentration_q99"] < 1
    for path, _ in result.figures:
        assert (tmp_path / path).is_file()
    assert (tmp_path / "run" / "checkpoint.pt").is_file()
    code = main(["inspect", str(tmp_path / entry["model"]), "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code in (0, 1) and (out["p"], out["k"]) == (7, 4)
    # inspect's accuracy over all of D_p, from the file, is the two parts' accuracies weighted
    n_train, n_test = entry["train_examples_measured"], entry["test_examples_measured"]
    overall = (n_train * entry["train_accuracy"] + n_test * entry["test_accuracy"]) / 7**4
    assert out["accuracy"] == pytest.approx(overall, abs=1e-12)


def test_an_interrupted_experiment_resumes_to_the_uninterrupted_result(
    short: None, tmp_path: Path
) -> None:
    name = "transformer-k3-p61"
    whole = experiment(name).run(context(tmp_path / "a"))
    with pytest.raises(StepBudgetReached):
        experiment(name).run(context(tmp_path / "b", stop_after=100))
    saved = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=True)
    assert saved["run"]["step"] == 100 and len(saved["run"]["settle"]) == 2
    resumed = experiment(name).run(context(tmp_path / "b", resume=True))
    assert without_seconds(resumed.as_dict()) == without_seconds(whole.as_dict())
    # negative control: without --resume the same folder starts again from step 0
    assert not context(tmp_path / "b").load_checkpoint()


def record(step: int, accuracy: float) -> TransformerRecord:
    nan = float("nan")
    return TransformerRecord(step, 0.0, nan, 1e-3, nan, nan, 1.0, accuracy)


def small_params(seed: int) -> dict[str, np.ndarray]:
    config = TransformerConfig(p=7, k=2, n_heads=2, d_model=16, d_mlp=0, steps=1)
    return to_numpy(init_params(config, generator=torch.Generator().manual_seed(seed)))


def test_settle_stops_after_three_accurate_measurements_with_steady_statistics() -> None:
    params = small_params(0)
    rule = transformer.Settle(0.99)
    answers = [rule(record(s, a), params) for s, a in ((1, 0.5), (2, 0.995), (3, 0.99), (4, 1.0))]
    assert answers == [False, False, False, True]  # the same params: C does not change
    # negative controls: an accuracy below the claim in the window, or C that moves
    below = transformer.Settle(0.99)
    assert not any(below(record(s, a), params) for s, a in ((1, 1.0), (2, 0.98), (3, 1.0)))
    moving = transformer.Settle(0.99)
    assert not any(moving(record(s, 1.0), small_params(s)) for s in range(1, 6))
    spread = [row[2] for row in moving.rows or []]
    assert max(spread) - min(spread) > transformer.SETTLE_TOLERANCE


def test_weight_noise_control_holds_a_random_model_and_not_a_structured_one() -> None:
    params = small_params(1)
    rng = np.random.default_rng(0)
    noise = transformer.weight_noise_concentrations(params, samples=100, rng=rng, n_top=4)
    heads = [
        attention_spectrum(query_key_matrix(params["E"][:7], params["WQ"][h], params["WK"][h]))
        for h in range(2)
    ]
    assert pooled_concentration(heads) <= noise.max()  # a Gaussian model is one of them
    structured = dict(params)  # embeddings of one frequency: a rank-2 cosine pattern
    a = np.arange(7)[:, None]
    structured["E"] = np.vstack([np.cos(2 * np.pi * a * np.arange(1, 17) / 7), params["E"][7:]])
    heads = [
        attention_spectrum(query_key_matrix(structured["E"][:7], params["WQ"][h], params["WK"][h]))
        for h in range(2)
    ]
    assert pooled_concentration(heads) > noise.max()


def test_grokking_quick_per_k_and_resume(short: None, tmp_path: Path) -> None:
    whole = experiment("grokking").run(context(tmp_path / "a"))
    entry = whole.as_dict()
    assert [(row["k"], row["p"]) for row in entry["per_k"]] == [(2, 11), (3, 5)]
    for row in entry["per_k"]:
        for key in ("steps_to_train_099", "steps_to_test_099", "grokking_delay"):
            assert key in row
    assert (tmp_path / "a" / whole.figures[0][0]).is_file()
    with pytest.raises(StepBudgetReached):  # interrupted in the second problem's run
        experiment("grokking").run(
            context(tmp_path / "b", stop_after=entry["per_k"][0]["steps"] + 50)
        )
    saved = torch.load(tmp_path / "b" / "run" / "checkpoint.pt", weights_only=True)
    assert len(saved["done"]) == 1
    resumed = experiment("grokking").run(context(tmp_path / "b", resume=True))
    assert without_seconds(resumed.as_dict()) == without_seconds(entry)


@pytest.mark.parametrize(
    ("delays", "verdict"),
    [
        ((400, 200, 0, 0), "reproduced"),
        ((400, 200, 50, 0), "reproduced"),  # one measurement interval up is within resolution
        ((0, 100, 200, 400), "not reproduced"),  # negative control: grokking grows with k
        ((50, 0, 50, 50), "not reproduced"),  # negative control: no delay to weaken
        (((1750,), 50, 0, 50), "partly reproduced"),  # k = 2 never generalised: >= 1750
        ((None, 50, 0, 0), "not reproduced"),  # k = 2 never fitted its training part
    ],
)
def test_grokking_verdict(delays: tuple[Any, ...], verdict: str) -> None:
    per_k = [
        {
            "k": k,
            "grokking_delay": None if isinstance(d, tuple) else d,
            "grokking_delay_at_least": d[0] if isinstance(d, tuple) else d,
        }
        for k, d in zip((2, 3, 4, 5), delays, strict=True)
    ]
    assert grokking._verdict(per_k)[0] == verdict
