"""Training (constructions.trained): what it finds, measured by the theory module; determinism;
divergence, stall and bad-config errors; the torch network against theory.PolyNet."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from torch.nn import functional

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.trained import (
    MARGIN_RATIO_CLAIM,
    TrainConfig,
    TrainingDivergedError,
    TrainingStalledError,
    TrainResult,
    train,
)
from fourier_circuits.constructions.training import methods, model
from fourier_circuits.constructions.training.loop import LossWatch, thread_limit
from fourier_circuits.theory import (
    FourierCircuitsError,
    PolyNet,
    Task,
    all_inputs,
    fourier_summary,
    gamma_star,
    margin_report,
    width_bound,
)

#: Relative agreement between a metric reported during training and the theory module's own
#: recomputation on the saved weights: the same float64 functions on the same weights, so only
#: summation order may differ (margin_report's chunking).
AGREE_RTOL = 1e-12


@pytest.fixture(scope="module")
def trained_5_2() -> TrainResult:
    """The default run on the smallest interesting case: p = 5, k = 2, m = 16, seed 0."""
    return train(TrainConfig(p=5, k=2, seed=0))


def test_training_raises_the_margin_to_gamma_star(trained_5_2: TrainResult) -> None:
    result = trained_5_2
    assert result.history[0].margin_ratio < 0.5  # a random network is far from max-margin
    assert result.stop_reason == "target"
    final = result.final
    assert MARGIN_RATIO_CLAIM <= final.margin_ratio <= 1 + 1e-9  # nothing beats gamma*
    assert final.frequencies_covered == 1.0
    assert final.max_normalized_power_median >= 0.95
    assert final.train_accuracy == 1.0 and final.test_accuracy is None
    assert result.failures() == []
    assert result.net.m == width_bound(5, 2)


def test_reported_metrics_agree_with_theory_on_saved_weights(
    trained_5_2: TrainResult, tmp_path: Path
) -> None:
    result = trained_5_2
    path = result.net.save(tmp_path / "trained.npz")
    loaded = PolyNet.load(path)
    assert np.array_equal(loaded.U, result.net.U) and np.array_equal(loaded.W, result.net.W)
    assert loaded.meta["optimizer"] == "margin" and loaded.meta["seed"] == 0
    report, summary = margin_report(loaded), fourier_summary(loaded)
    final = result.final
    assert final.normalized_margin == pytest.approx(report.normalized_margin, rel=AGREE_RTOL)
    assert final.margin_ratio == pytest.approx(report.margin_ratio, rel=AGREE_RTOL)
    assert final.class_weighted_margin == pytest.approx(report.mean_class_weighted, rel=1e-9)
    assert final.max_normalized_power_median == summary.max_normalized_power_median
    assert final.frequencies_covered == summary.frequencies_covered
    assert final.neurons_per_frequency == summary.neurons_per_frequency
    assert final.max_phase_residual == summary.max_phase_residual
    assert final.train_accuracy == report.n_correct / report.n_examples


def test_same_seed_same_numbers() -> None:
    config = TrainConfig(p=5, k=2, seed=3, steps=300, target_ratio=None)
    first, second = train(config), train(config)
    assert np.array_equal(first.net.U, second.net.U) and np.array_equal(first.net.W, second.net.W)
    assert [r.as_dict() | {"seconds": 0} for r in first.history] == [
        r.as_dict() | {"seconds": 0} for r in second.history
    ]
    other = train(TrainConfig(p=5, k=2, seed=4, steps=300, target_ratio=None))
    assert not np.array_equal(first.net.U, other.net.U)


@pytest.mark.parametrize("optimizer", ["gd", "adamw"])
def test_same_seed_same_numbers_for_every_optimizer(optimizer: str) -> None:
    config = TrainConfig(p=5, k=2, optimizer=optimizer, steps=60, eval_every=20, batch_size=16)
    first, second = train(config), train(config)
    assert np.array_equal(first.net.U, second.net.U)
    assert first.history[-1].loss < first.history[1].loss  # it learns


def test_negative_control_short_unregularised_gd_is_not_max_margin() -> None:
    """A claim that could not fail would prove nothing: 200 steps of plain gradient descent
    without regularisation separate the data but are far from the maximum margin."""
    result = train(TrainConfig(p=5, k=2, optimizer="gd", weight_decay=0.0, steps=200))
    assert result.stop_reason == "steps"
    failures = result.failures()
    assert any("normalized margin" in failure for failure in failures)
    assert result.final.margin_ratio < 0.9


def test_negative_control_one_neuron_cannot_cover_every_frequency() -> None:
    """Theorem 4.1 (iii) needs every frequency: a single neuron has one (p = 7: three)."""
    result = train(TrainConfig(p=7, k=2, width=1, steps=300))
    assert result.final.frequencies_covered <= 1 / 3
    assert any("every frequency" in failure for failure in result.failures())
    assert result.final.margin_ratio < MARGIN_RATIO_CLAIM


def test_train_test_split_reports_held_out_accuracy() -> None:
    result = train(TrainConfig(p=7, k=2, train_fraction=0.5, steps=100, target_ratio=None))
    final = result.final
    assert final.test_accuracy is not None and 0.0 <= final.test_accuracy <= 1.0
    assert final.as_dict()["test_accuracy"] == final.test_accuracy


def test_data_split_is_a_partition() -> None:
    task = Task(5, 3)
    train_part, test_part = model.data_split(task, 0.3, np.random.default_rng(0))
    assert len(train_part) == round(0.3 * 125) and len(train_part) + len(test_part) == 125
    rows = {tuple(a) for a in train_part} | {tuple(a) for a in test_part}
    assert rows == {tuple(a) for a in all_inputs(task)}
    again, _ = model.data_split(task, 0.3, np.random.default_rng(0))
    assert np.array_equal(again, train_part)


def test_divergence_is_detected_with_a_suggestion() -> None:
    with pytest.raises(TrainingDivergedError, match="lower --lr") as info:
        train(TrainConfig(p=5, k=2, optimizer="gd", lr=1e4, steps=500))
    assert info.value.step < 500


def test_stall_is_detected_with_a_suggestion() -> None:
    """z^k has a flat saddle at 0: from a tiny initialisation gradient descent learns nothing."""
    with pytest.raises(TrainingStalledError, match="init-scale"):
        train(TrainConfig(p=5, k=3, optimizer="gd", init_scale=1e-3, stall_steps=100, steps=500))


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("width", 0, "width=0 must be a positive integer"),
        ("optimizer", "sgd", "optimizer='sgd' must be one of"),
        ("train_fraction", 0.0, "train_fraction=0.0 must lie in (0, 1]"),
        ("lr", -1.0, "lr=-1.0 must be a positive finite number"),
        ("temperature", math.nan, "temperature=nan"),
        ("temperature", 1e300, "temperature=1e+300 must be at most 700"),
        ("device", "tpu", "device='tpu'"),
        ("seed", -1, "seed=-1"),
        ("steps", 2.5, "steps=2.5"),
    ],
)
def test_bad_config_names_the_field(field: str, value: object, words: str) -> None:
    with pytest.raises(FourierCircuitsError) as info:
        TrainConfig(p=5, k=2, **{field: value})  # type: ignore[arg-type]
    assert words in str(info.value)


def test_even_p_is_refused() -> None:
    with pytest.raises(FourierCircuitsError, match="p=4 must be an odd integer"):
        TrainConfig(p=4, k=2)


def test_cuda_runs_or_is_refused_clearly() -> None:
    config = TrainConfig(p=5, k=2, device="cuda", steps=20, eval_every=10)
    if torch.cuda.is_available():
        assert train(config).net.m == 16
    else:
        with pytest.raises(FourierCircuitsError, match="use device='cpu'"):
            train(config)


def test_thread_setting_is_restored() -> None:
    before = torch.get_num_threads()
    with thread_limit(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    train(TrainConfig(p=5, k=2, steps=10, eval_every=10, threads=1))
    assert torch.get_num_threads() == before


@st.composite
def networks(draw: st.DrawFn) -> tuple[PolyNet, bool]:
    p = draw(st.sampled_from([3, 5, 7]))
    k = draw(st.sampled_from([2, 3]))
    m = draw(st.integers(1, 12))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return PolyNet(rng.normal(size=(m, k, p)), rng.normal(size=(m, p))), draw(st.booleans())


@given(networks())
@settings(max_examples=25)
def test_torch_logits_equal_theory_logits(case: tuple[PolyNet, bool]) -> None:
    """The trained network is eq. 2 exactly: torch's logits equal
    theory.PolyNet.logits on every input of D_p."""
    net, _ = case
    inputs = all_inputs(net.task)
    batch = model.make_batch(inputs, net.p, device=torch.device("cpu"))
    ours = model.logits(torch.tensor(net.U), torch.tensor(net.W), batch).numpy()
    np.testing.assert_allclose(
        ours, net.logits(inputs), rtol=1e-12, atol=1e-12 * np.abs(ours).max()
    )
    np.testing.assert_allclose(
        float(model.norm_power(torch.tensor(net.U), torch.tensor(net.W))),
        net.norm() ** (net.k + 1),
        rtol=1e-12,
    )


def _normalized_ce_ratio(net: PolyNet, temperature: float) -> float:
    """CE( s f(theta / ||theta||) ) / CE*, the quantity "margin" minimises (methods docstring)."""
    inputs = all_inputs(net.task)
    z = torch.from_numpy(net.normalized().logits(inputs)) * (temperature / gamma_star(net.p, net.k))
    y = torch.from_numpy((inputs.sum(axis=1) % net.p).astype(np.int64))
    optimum = math.log1p((net.p - 1) * math.exp(-temperature))
    return float(functional.cross_entropy(z, y)) / optimum


@given(networks(), st.sampled_from([1.0, 5.0, 20.0]))
@example((construct(5, 2), False), 20.0)
@settings(max_examples=30)
def test_normalized_cross_entropy_is_minimised_by_the_max_margin_network(
    case: tuple[PolyNet, bool], temperature: float
) -> None:
    """For prime p, CE at a fixed norm is at least its value at a max-margin network with every
    wrong-label gap equal (Jensen + the class-weighted bound E[g'] <= gamma*), for every logit
    scale: checked on random networks, with equality for the analytic construction."""
    net, _ = case
    ratio = _normalized_ce_ratio(net, temperature)
    note(f"p={net.p}, k={net.k}, m={net.m}, CE / CE* = {ratio}")
    assert ratio >= 1 - 1e-9
    analytic = _normalized_ce_ratio(construct(net.p, net.k), temperature)
    assert analytic == pytest.approx(1.0, rel=1e-6)


def test_split_leaves_the_network_function_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Birth-death: the two halves of the heaviest neuron, each scaled by 2^(-1/(k+1)), compute
    what it computed (homogeneity); only the removed lightest neuron's contribution is lost."""
    monkeypatch.setattr(methods, "SPLIT_NOISE", 0.0)
    rng = np.random.default_rng(1)
    U = torch.from_numpy(rng.normal(size=(6, 3, 5)))
    W = torch.from_numpy(rng.normal(size=(6, 5)))
    U[0] *= 1e-3  # the lightest neuron, made negligible
    W[0] *= 1e-3
    config = TrainConfig(p=5, k=3).resolved()
    method = methods.MarginMethod(
        U.clone(), W.clone(), config, gamma_star=gamma_star(5, 3), generator=torch.Generator()
    )
    batch = model.make_batch(all_inputs(Task(5, 3)), 5, device=torch.device("cpu"))
    with torch.no_grad():
        before = model.logits(method.U, method.W, batch)
        method._split()
        after = model.logits(method.U, method.W, batch)
        assert float(model.norm_power(method.U, method.W)) == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(after.numpy(), before.numpy(), atol=1e-6 * float(before.abs().max()))


@pytest.mark.slow
@pytest.mark.parametrize(("p", "k"), [(13, 2), (23, 2), (7, 3)])
def test_issue_targets_are_reached_by_default(p: int, k: int) -> None:
    """Issue 4's targets at the paper's width with default settings (benchmarks/bench_train.py
    measures all four, with (11, 3), and the other optimisers)."""
    result = train(TrainConfig(p=p, k=k, seed=1))
    assert result.stop_reason == "target", result.final.failures()
    assert result.final.margin_ratio >= MARGIN_RATIO_CLAIM
    assert result.final.frequencies_covered == 1.0
    assert result.final.max_normalized_power_median >= 0.95


def test_loss_watch_stops_diverged_and_stalled_runs_and_passes_a_falling_loss() -> None:
    """The watch both training loops share: NaN and a flat loss raise with the hint; a loss that
    falls by more than 1% within stall_steps is left alone (the control)."""
    for bad, error, hint in (
        ([1.0, math.nan], TrainingDivergedError, "lower --lr"),
        ([1.0, 0.999, 0.995], TrainingStalledError, "raise --lr"),
    ):
        watch = LossWatch(3, diverged_hint="lower --lr", stalled_hint="raise --lr", label="gd")
        with pytest.raises(error, match=f"gd, lr 0.1.*{hint}"):
            for step, loss in enumerate(bad, 1):
                watch.see(step, loss, 0.1, [])
    watch = LossWatch(3, diverged_hint="", stalled_hint="")
    for step, loss in enumerate([1.0, 0.995, 0.98, 0.98], 1):
        watch.see(step, loss, 0.1, [])
    assert watch.best == 0.98 and watch.first == 1.0
