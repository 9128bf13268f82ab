"""The paper's MLP experiments (eq. 2, App. J.1 of arXiv 2402.09469): mlp-k4-p47, mlp-k3-p97 and
mlp-k5-p23, at the paper's settings.

Width exactly 2^(2k-2)(p-1), a 50/50 split of D_p, cross-entropy, AdamW (betas (0.9, 0.98), lr
5e-3, weight decay 5e-3, batch 1024, 10 warm-up steps): the toolkit's optimizer "adamw"
(constructions.training, DEFAULTS["adamw"]). The paper states no step count: the run stops when
the held-out sample's accuracy is >= 0.99 and the Fourier statistics have settled
(constructions.training.monitor: median maximum normalized power and the neurons-per-frequency
shares each change by < 0.005 over the last 3 measurements), or at the step budget. The final
network is measured over all of D_p in float64 (training.result.measure: accuracies, margins,
Fourier statistics, phase sums) and saved as DIR/<name>/network.npz for `fourier-circuits inspect`.
Beside it, the toolkit's default optimizer "margin" from the same initialisation (same seed, same
split, the same step budget up to MARGIN_STEPS) where its estimate fits COMPARISON_SECONDS;
otherwise the report says so, with the estimate.
The verdict: "reproduced" when test accuracy >= 0.99, the median maximum normalized power >= 0.9
and every frequency is used; "partly reproduced" when some of these hold; else "not reproduced".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.constructions.training import TrainConfig, TrainResult
from fourier_circuits.constructions.training.config import STEP_FLOP_PER_ENTRY
from fourier_circuits.constructions.training.loop import train, train_run
from fourier_circuits.constructions.training.methods import ADAMW_WARMUP, BETAS
from fourier_circuits.constructions.training.monitor import POWER_THRESHOLD, Monitor
from fourier_circuits.constructions.training.state import TrainState
from fourier_circuits.experiments.paper.common import (
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Estimate,
    Experiment,
    ExperimentResult,
    RunContext,
)
from fourier_circuits.experiments.paper.mlp_report import body, comparison_entry
from fourier_circuits.experiments.provenance import provenance
from fourier_circuits.theory import PolyNet, Task, neuron_spectra, width_bound

CLAIM = (
    "Trained at width 2^(2k-2)(p-1) with AdamW, the network of eq. 2 reaches test accuracy near "
    "1 and every neuron becomes a single cosine (maximum normalized power near 1), the neurons "
    "spread nearly uniformly over the frequencies, against spread-out spectra at initialisation "
    "(Fig. 1 and the power histograms of arXiv 2402.09469)."
)
#: The "margin" comparison runs when its estimate (with its early stop) is at most this many
#: seconds at theory.budget.flop_rate(): full batch, it costs p^k / 2 x m x (p + k) x 8 flop a step.
COMPARISON_SECONDS = 600.0
#: Conservative flop/s of a GPU for the estimate (a tenth of an H100's float32 peak).
GPU_FLOP_RATE = 5e12
#: Median maximum normalized power the verdict needs (the paper's "near 1").
POWER_CLAIM = 0.9
#: Test accuracy the verdict (and the stop rule) needs.
ACCURACY_CLAIM = 0.99
#: Most steps of the "margin" comparison: full batch, it reaches 0.99 gamma* in about 2,000-3,500
#: steps where it is affordable (docs/training.md), far fewer than AdamW's mini-batch budget.
MARGIN_STEPS = 3000


@dataclass(frozen=True)
class MLPExperiment(Experiment):
    """One (k, p) of the paper, and the scaled-down problem --quick runs instead."""

    k: int = 3
    p: int = 97
    steps: int = 3000  # step budget of the paper run (MLP_EXPERIMENTS: about 12 minutes of
    # training each at the rates measured on the 2-core machine, 23-48 steps a second)
    every: int = 250  # steps between cheap measurements and checkpoints
    quick_k: int = 2
    quick_p: int = 23
    quick_steps: int = 400
    quick_every: int = 50
    dtype: str = "float32"  # the training dtype (the final measurement is float64)

    def _problem(self, quick: bool) -> tuple[int, int, int, int]:
        if quick:
            return self.quick_k, self.quick_p, self.quick_steps, self.quick_every
        return self.k, self.p, self.steps, self.every

    def config(self, quick: bool, *, seed: int = 0, device: str = "cpu") -> TrainConfig:
        """The paper's AdamW run (App. J.1) as a TrainConfig."""
        k, p, steps, _ = self._problem(quick)
        return TrainConfig(
            p=p,
            k=k,
            width=width_bound(p, k),
            optimizer="adamw",
            steps=steps,
            seed=seed,
            train_fraction=0.5,
            target_ratio=None,  # the monitor's stop rule decides
            device=device,
            dtype=self.dtype,
        )

    def margin_config(self, quick: bool, *, seed: int = 0, device: str = "cpu") -> TrainConfig:
        """The toolkit's default optimizer from the same initialisation and split, with the same
        step budget up to MARGIN_STEPS (and its own early stop)."""
        k, p, steps, _ = self._problem(quick)
        steps = min(steps, MARGIN_STEPS)
        return TrainConfig(p=p, k=k, seed=seed, steps=steps, train_fraction=0.5, device=device)

    def monitor(self, quick: bool) -> Monitor:
        return Monitor(every=self._problem(quick)[3], accuracy=ACCURACY_CLAIM)

    def settings(self, quick: bool) -> dict[str, Any]:
        cfg = self.config(quick).resolved()
        k, p, steps, every = self._problem(quick)
        monitor = self.monitor(quick)
        return {
            "k": k,
            "p": p,
            "width": cfg.width,
            "n_examples": Task(p, k).n_examples,
            "train_fraction": 0.5,
            "loss": "cross-entropy",
            "optimizer": "adamw",
            "betas": list(BETAS),
            "lr": cfg.lr,
            "weight_decay": cfg.weight_decay,
            "batch_size": cfg.batch_size,
            "warmup_steps": ADAMW_WARMUP,
            "init_scale": cfg.init_scale,
            "dtype": self.dtype,
            "step_budget": steps,
            "checkpoint_every": every,
            "stop_rule": {
                "every": monitor.every,
                "sample": monitor.sample,
                "accuracy": monitor.accuracy,
                "tolerance": monitor.tolerance,
                "window": monitor.window,
            },
            "comparison_optimizer": "margin",
        }

    def _flop(self, quick: bool) -> float:
        """The AdamW run's worst case: every step, the monitor, the final measurement (one pass
        over D_p: training.result.measure)."""
        cfg = self.config(quick).resolved()
        k, p, steps, every = self._problem(quick)
        assert cfg.width is not None and cfg.batch_size is not None
        n = Task(p, k).n_examples
        step = STEP_FLOP_PER_ENTRY * cfg.batch_size * cfg.width * (p + k)
        looks = steps // every + 2
        sample = self.monitor(quick).sample
        return (
            steps * step
            + looks * 2 * budget.evaluation_flop(sample, cfg.width, k, p)
            + budget.evaluation_flop(n, cfg.width, k, p)
        )

    def _margin_flop(self, quick: bool) -> float:
        cfg = self.margin_config(quick)
        return cfg.estimate()[1] * budget.EARLY_STOP_SHARE

    def margin_affordable(self, quick: bool) -> bool:
        """Whether the "margin" comparison fits its budget, COMPARISON_SECONDS."""
        return self._margin_flop(quick) <= COMPARISON_SECONDS * budget.flop_rate()

    def estimate(self, quick: bool, device: str) -> Estimate:
        flop = self._flop(quick)
        nbytes = self.config(quick).estimate()[0]
        if self.margin_affordable(quick):
            flop += self._margin_flop(quick)
            nbytes = max(nbytes, self.margin_config(quick).estimate()[0])
        rate = GPU_FLOP_RATE if device == "cuda" else budget.flop_rate()
        return Estimate(bytes=int(nbytes), seconds=flop / rate)

    def run(self, context: RunContext) -> ExperimentResult:
        cfg = self.config(context.quick, seed=context.seed, device=context.device)
        saved = context.load_checkpoint()
        resume = None if saved is None else TrainState.from_dict(saved["train"])
        # a resumed run counts its steps from where it starts, so the rate and time left are true
        first = 0 if resume is None else resume.step
        desc = self.name if resume is None else f"{self.name} (resumed at step {first})"
        progress = context.progress((cfg.resolved().steps or 0) - first, desc)

        def look(record: Any, total: int) -> None:
            test = record.test_accuracy
            progress.update(
                record.step - first,
                test=f"{test:.3f}" if test is not None else "-",
                power=f"{record.max_normalized_power_median:.3f}",
            )

        def keep(state: TrainState) -> None:
            context.save_checkpoint({"train": state.as_dict()}, step=state.step)

        try:
            run = train_run(
                cfg,
                monitor=self.monitor(context.quick),
                monitor_callback=look,
                resume=resume,
                on_state=keep,
                state_every=self._problem(context.quick)[3],
            )
        finally:
            progress.close()
        result = run.result
        comparison = self._comparison(context)
        network = context.work_dir / "network.npz"
        meta = provenance(
            command="paper", experiment=self.name, seed=context.seed, config=cfg.as_dict()
        )
        result.net.with_meta(**{**meta, "training": dict(result.net.meta)}).save(network)
        measurements = self._measurements(result, run.monitor, comparison, context)
        figures = self._figures(result, run.monitor, context)
        final = result.final
        test = final.test_accuracy if final.test_accuracy is not None else final.train_accuracy
        verdict, reason = verdict_of(test, measurements)
        return ExperimentResult(
            name=self.name,
            kind="mlp",
            claim=self.claim,
            settings=self.settings(context.quick),
            steps=result.steps,
            seconds=result.seconds,
            train_accuracy=final.train_accuracy,
            test_accuracy=test,
            measurements=measurements,
            verdict=verdict,
            verdict_reason=reason,
            figures=figures,
            report=body(measurements, result.stop_reason),
        )

    def _comparison(self, context: RunContext) -> dict[str, Any]:
        """The "margin" optimizer from the same initialisation, or why it did not run."""
        cfg = self.margin_config(context.quick, seed=context.seed, device=context.device)
        flop, limit = self._margin_flop(context.quick), COMPARISON_SECONDS * budget.flop_rate()
        if not self.margin_affordable(context.quick):
            return comparison_entry(None, flop=flop, limit=limit, rate=budget.flop_rate())
        return comparison_entry(train(cfg), flop=flop, limit=limit, rate=budget.flop_rate())

    def _measurements(
        self,
        result: TrainResult,
        records: Any,
        comparison: dict[str, Any],
        context: RunContext,
    ) -> dict[str, Any]:
        final = result.final
        end, start = _power(result.net), _power(result.initial)
        mass = _mass(result.net)
        return {
            "network": str(context.work_dir.name + "/network.npz"),
            "stop_reason": result.stop_reason,
            "normalized_margin": final.normalized_margin,
            "gamma_star": final.normalized_margin / final.margin_ratio
            if final.margin_ratio
            else None,
            "margin_ratio": final.margin_ratio,
            "class_weighted_ratio": final.class_weighted_ratio,
            "max_normalized_power_median": final.max_normalized_power_median,
            "max_normalized_power_min": final.max_normalized_power_min,
            "power_share_above_0_9": float(np.mean(end > POWER_THRESHOLD)),
            # by (k+1)-homogeneity neuron i carries ||theta_i||^(k+1) of the logits
            "mass_share_above_0_9": float(mass[end > POWER_THRESHOLD].sum() / mass.sum()),
            "init_max_normalized_power_median": float(np.median(start)),
            "init_power_share_above_0_9": float(np.mean(start > POWER_THRESHOLD)),
            "frequencies_covered": final.frequencies_covered,
            "missing_frequencies": list(final.missing_frequencies),
            "neurons_per_frequency": list(final.neurons_per_frequency),
            "n_active": final.n_active,
            "median_phase_residual": final.median_phase_residual,
            "max_phase_residual": final.max_phase_residual,
            "median_amplitude_balance": final.median_amplitude_balance,
            "monitor": [r.as_dict() for r in records],
            "margin_optimizer": comparison,
        }

    def _figures(
        self, result: TrainResult, records: Any, context: RunContext
    ) -> tuple[tuple[str, str], ...]:
        from fourier_circuits.experiments.plots import (
            network_cosines_figure,
            network_frequency_figure,
            save_figure,
        )
        from fourier_circuits.experiments.plots_paper import monitor_figure, power_histogram_figure

        frequencies = network_frequency_figure(result.net)
        if result.net.p > 41:  # one tick per frequency would overlap
            from matplotlib.ticker import MaxNLocator

            frequencies.axes[0].xaxis.set_major_locator(MaxNLocator(integer=True))
        title = f"{self.name}: p={result.net.p}, k={result.net.k}, m={result.net.m}, AdamW"
        made = [
            (
                "neurons",
                network_cosines_figure(result.net),
                "the heaviest neurons and their fitted cosines (the paper's Fig. 1)",
            ),
            (
                "power_histogram",
                power_histogram_figure(result.initial, result.net),
                "maximum normalized power of every neuron, at initialisation and at the end",
            ),
            ("frequencies", frequencies, "active neurons per frequency"),
            (
                "training",
                monitor_figure(records, title),
                "accuracy on the samples and the median maximum normalized power during training",
            ),
        ]
        figures = []
        for what, fig, caption in made:
            path, relative = context.figure_path(self.name, what)
            save_figure(fig, path)
            figures.append((relative, f"{self.name}: {caption}"))
        return tuple(figures)


def verdict_of(test: float, found: dict[str, Any]) -> tuple[str, str]:
    """The verdict of the module docstring, and its reason with the numbers."""
    power, covered = found["max_normalized_power_median"], found["frequencies_covered"]
    checks = {
        f"test accuracy {test:.4f} >= {ACCURACY_CLAIM}": test >= ACCURACY_CLAIM,
        f"median max normalized power {power:.4f} >= {POWER_CLAIM}": power >= POWER_CLAIM,
        f"frequencies covered {covered:.3f} = 1": covered == 1.0,
    }
    held = [text for text, ok in checks.items() if ok]
    failed = [text for text, ok in checks.items() if not ok]
    reason = "; ".join([*held, *(f"NOT {text}" for text in failed)])
    if not failed:
        return REPRODUCED, reason
    return (PARTLY if held else NOT_REPRODUCED), reason


def _power(net: PolyNet) -> np.ndarray[Any, Any]:
    """The active neurons' maximum normalized power (theory.neuron_spectra)."""
    spectra = neuron_spectra(net)
    return np.asarray(spectra.max_normalized_power[spectra.active])


def _mass(net: PolyNet) -> np.ndarray[Any, Any]:
    """The active neurons' ||theta_i||^(k+1), each one's share of the logits' scale."""
    spectra = neuron_spectra(net)
    return np.asarray(spectra.norms[spectra.active] ** (net.k + 1))


MLP_EXPERIMENTS: tuple[MLPExperiment, ...] = (
    MLPExperiment("mlp-k4-p47", "mlp", CLAIM, k=4, p=47, steps=20_000, quick_k=3, quick_p=11),
    MLPExperiment("mlp-k3-p97", "mlp", CLAIM, k=3, p=97, steps=30_000, quick_k=2, quick_p=23),
    MLPExperiment("mlp-k5-p23", "mlp", CLAIM, k=5, p=23, steps=15_000, quick_k=4, quick_p=5),
)
