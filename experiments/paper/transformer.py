"""The paper's one-layer Transformer experiments (Sec. 5 and Fig. 3 of arXiv 2402.09469):
`transformer-k4-p31`, `transformer-k3-p61`, `transformer-k5-p17`.

Settings: constructions.transformer.paper_config (App. J.1: 160 heads of width 8, hidden size
128, a ReLU MLP of 512, AdamW lr 1e-3, weight decay 1e-3, betas (0.9, 0.98), batch 1024, 10
warm-up steps), a random half of D_p trained on, within STEPS steps.

Stop rule (the paper gives no step counts): every EVAL_EVERY steps the accuracies are measured on
a fixed random MONITOR_EXAMPLES of the training and of the held-out part, and the attention's
pooled Fourier concentration C (constructions.transformer.analyse_attention) is computed; the run
stops once the last SETTLE_WINDOW measurements all have held-out accuracy >= 0.99 and their C
lie within SETTLE_TOLERANCE of each other (the statistics "stop changing"), or at STEPS.
The final accuracies are measured over the whole training and held-out parts, or over a fixed
random FINAL_EXAMPLES of each part where it is larger (the entry says how many).

The claim checked: test accuracy >= 0.99 and the attention's number-number query-key matrices
(the key-query matrix seen through the embeddings, M_h = E W_Q^h (E W_K^h)^T) have a sparse 2-D
spectrum: C above two Gaussian-noise controls, the 99th percentile of i.i.d. Gaussian p x p
matrices (theory.noise_concentrations, NOISE_SAMPLES; C is a power-weighted mean over heads, so
structureless heads would sit near that distribution's mean) and the largest C of
WEIGHT_NOISE_SAMPLES models whose E, W_Q, W_K are Gaussian with the trained tensors' root mean
square (the same low-rank view, as constructions.foreign.lens_analysis's control).

Files: DIR/<name>/model.pt (a TransformerLens checkpoint, `fourier-circuits inspect` reads it),
DIR/<name>/checkpoint.pt (the training state, RunContext), figures/<name>_{accuracy,attention,
embedding}.png (plots_transformer: the curves, Fig. 3's heatmaps and spectra, the embeddings).
`--quick`: the same pipeline at (k, p) = (4, 7), (3, 13), (5, 5) with the toolkit's small model
(TransformerConfig's defaults, full batch, an MLP of 128: QUICK_SETTINGS).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import fourier_circuits.theory.budget as budget
from fourier_circuits.experiments.paper.common import (
    NOT_REPRODUCED,
    PARTLY,
    REPRODUCED,
    Estimate,
    Experiment,
    ExperimentResult,
    RunContext,
)
from fourier_circuits.theory import TOP_FREQUENCIES

#: Most optimiser steps of a paper-size run.
STEPS = 5000
#: Torch threads of a paper-size run: one. With other processes on the two cores, two threads
#: took 520-640 ms a step at (61, 3) against 180-210 ms for one (load 10).
THREADS = 1
#: A GPU counted as this many CPU cores in the time estimate (a guess, not measured here).
GPU_CORES = 100
#: Steps between measurements (and checkpoints) of a paper-size run.
EVAL_EVERY = 100
#: Examples of each part measured during training (a fixed random subset).
MONITOR_EXAMPLES = 8192
#: Examples of each part measured at the end (all of them where there are fewer).
FINAL_EXAMPLES = 2**17
#: The stop rule: this many measurements in a row at test accuracy >= 0.99 ...
SETTLE_WINDOW = 3
#: ... whose pooled concentrations lie within this of each other.
SETTLE_TOLERANCE = 0.01
#: i.i.d. Gaussian p x p matrices of the noise control (its 99th percentile).
NOISE_SAMPLES = 200
#: Models with Gaussian E, W_Q, W_K of the second control (their largest C).
WEIGHT_NOISE_SAMPLES = 20
#: flop of one p x p spectrum and its ranking per p^2 log2 p, Python's share included (the
#: attention analysis of 160 heads at p = 61 took 2.7 s at load 4).
ANALYSIS_FLOP = 1000
#: The quick variants' small model (TransformerConfig's defaults otherwise).
QUICK_SETTINGS: dict[str, Any] = {"d_mlp": 128, "steps": 300, "eval_every": 50, "threads": 1}
CLAIM = (
    "A one-layer Transformer trained on k-input modular addition generalises, and the key-query "
    "matrix seen through the embeddings is a 2-D cosine pattern with a sparse 2-D Fourier "
    "spectrum (Sec. 5, Fig. 3)."
)


@dataclass
class Settle:
    """The stop rule (module docstring) with the statistics it has seen, in order: one row
    (step, test accuracy of the monitor, pooled concentration C, top classes) per measurement."""

    claim: float
    window: int = SETTLE_WINDOW
    tolerance: float = SETTLE_TOLERANCE
    rows: list[list[Any]] | None = None

    def __call__(self, record: Any, params: dict[str, np.ndarray]) -> bool:
        from fourier_circuits.constructions.transformer import analyse_attention

        analysis = analyse_attention(params)
        top = [list(f) for f in analysis.top_frequencies]
        self.rows = [
            *(self.rows or []),
            [record.step, record.test_accuracy, analysis.concentration, top],
        ]
        last = self.rows[-self.window :]
        if len(last) < self.window or any(row[1] < self.claim for row in last):
            return False
        values = [row[2] for row in last]
        return max(values) - min(values) < self.tolerance


def train_paper_run(
    config: Any,
    context: RunContext,
    *,
    key: str,
    monitor: int | None,
    extra: dict[str, Any] | None = None,
    on_record: Callable[[Any, int], None] | None = None,
    settle: bool = True,
    offset: int = 0,
) -> tuple[Any, Settle]:
    """train_transformer(config) with the stop rule, checkpoints every eval_every steps into
    context (under `key`, beside `extra`, what the caller keeps) and a resume from the last one.
    settle=False: the config's own rule (stop at target_accuracy) instead of Settle; offset: the
    steps of the caller's earlier runs (the checkpoint's step counts them, for context.stop_after).
    Returns the TransformerResult and the Settle rule with its statistics."""
    from fourier_circuits.constructions.transformer import TEST_ACCURACY_CLAIM, train_transformer

    saved = context.load_checkpoint()
    state = saved.get(key) if saved else None
    rule = Settle(TEST_ACCURACY_CLAIM, rows=list(state["settle"]) if state else None)

    def checkpoint(run_state: dict[str, Any]) -> None:
        run_state["settle"] = rule.rows or []
        step = offset + run_state["step"]
        context.save_checkpoint({**(extra or {}), key: run_state}, step=step)

    result = train_transformer(
        config,
        callback=on_record,
        monitor_examples=monitor,
        stop=rule if settle else None,
        checkpoint=checkpoint,
        checkpoint_every=config.eval_every,
        resume=state,
    )
    return result, rule


def weight_noise_concentrations(
    params: dict[str, np.ndarray], *, samples: int, rng: np.random.Generator, n_top: int
) -> np.ndarray:
    """The pooled C of `samples` models whose number embeddings, W_Q and W_K are i.i.d. Gaussian
    with the trained tensors' root mean square (module docstring)."""
    from fourier_circuits.theory import attention_spectrum, pooled_concentration, query_key_matrix

    p = params["E"].shape[0] - 1
    shapes = {"E": (p, params["E"].shape[1]), "WQ": params["WQ"].shape, "WK": params["WK"].shape}
    rms = {n: float(np.sqrt(np.mean(params[n][: p if n == "E" else None] ** 2))) for n in shapes}
    out = np.empty(samples)
    for i in range(samples):
        E, WQ, WK = (rng.standard_normal(shapes[n]) * rms[n] for n in ("E", "WQ", "WK"))
        heads = [
            attention_spectrum(query_key_matrix(E, WQ[h], WK[h]), n_top=n_top)
            for h in range(WQ.shape[0])
        ]
        out[i] = pooled_concentration(heads)
    return out


@dataclass(frozen=True)
class TransformerExperiment(Experiment):
    """One of the paper's Transformer settings; `quick_p`, `quick_k` the scaled-down problem."""

    p: int = 0
    k: int = 0
    quick_p: int = 0
    quick_k: int = 0

    def config(self, quick: bool, device: str, seed: int) -> Any:
        from fourier_circuits.constructions.transformer import TransformerConfig, paper_config

        if quick:
            return TransformerConfig(
                p=self.quick_p, k=self.quick_k, seed=seed, device=device, **QUICK_SETTINGS
            )
        # a run that does not learn is reported (not reproduced), not stopped as stalled
        return paper_config(
            self.p, self.k, seed=seed, device=device, steps=STEPS, eval_every=EVAL_EVERY,
            stall_steps=STEPS + 1, threads=THREADS,
        )  # fmt: skip

    def settings(self, quick: bool) -> dict[str, Any]:
        config = self.config(quick, "cpu", 0).as_dict()
        for name in ("seed", "device"):
            config.pop(name)
        return {
            **config,
            "monitor_examples": None if quick else MONITOR_EXAMPLES,
            "final_examples": FINAL_EXAMPLES,
            "settle_window": SETTLE_WINDOW,
            "settle_tolerance": SETTLE_TOLERANCE,
            "noise_samples": NOISE_SAMPLES,
            "weight_noise_samples": WEIGHT_NOISE_SAMPLES,
        }

    def estimate(self, quick: bool, device: str) -> Estimate:
        """Memory: TransformerConfig.estimate's. Time, at theory.budget's flop rate per thread:
        every step (STEP_FLOP_FACTOR forward passes of a batch, with the per-position tables),
        each measurement (the monitor's two subsets, or all of D_p, and the attention analysis,
        ANALYSIS_FLOP p^2 log2 p a head), the final pass and the two noise controls."""
        from fourier_circuits.constructions.transformer.config import STEP_FLOP_FACTOR

        config = self.config(quick, device, 0)
        nbytes, _ = config.estimate()
        p, k, d, H, e, m = (
            config.p, config.k, config.d_model, config.n_heads, config.d_head, config.d_mlp
        )  # fmt: skip
        per_example = 2 * (H * e * d + 2 * d * m + d * p + 2 * (k + 1) * H * e)
        tables = 2 * k * p * d * H * e
        step = STEP_FLOP_FACTOR * (config.batch * per_example + tables)
        measured = p**k if quick else 2 * MONITOR_EXAMPLES
        spectra = ANALYSIS_FLOP * p * p * math.log2(p)
        measurement = measured * per_example + H * spectra
        final = min(p**k, 2 * FINAL_EXAMPLES) * per_example
        noise = (NOISE_SAMPLES + WEIGHT_NOISE_SAMPLES * H) * spectra
        flop = (
            config.steps * step + (config.steps // config.eval_every + 1) * measurement
            + final + noise
        )  # fmt: skip
        cores = config.threads or budget.max_threads()
        rate = budget.FLOP_RATE_PER_CORE * (cores if device == "cpu" else GPU_CORES)
        return Estimate(bytes=int(nbytes), seconds=flop / rate)

    def run(self, context: RunContext) -> ExperimentResult:
        from fourier_circuits.constructions.training.model import data_split
        from fourier_circuits.constructions.transformer.loop import evaluate
        from fourier_circuits.theory import Task, noise_concentrations

        config = self.config(context.quick, context.device, context.seed)
        bar = context.progress(config.steps, f"{self.name} (p={config.p}, k={config.k})")

        def update(record: Any, total: int) -> None:
            bar.update(record.step, test=f"{record.test_accuracy:.3f}", loss=f"{record.loss:.3g}")

        try:
            monitor = None if context.quick else MONITOR_EXAMPLES
            result, settle = train_paper_run(
                config, context, key="run", monitor=monitor, on_record=update
            )
        finally:
            bar.close()
        train, test = data_split(
            Task(config.p, config.k), config.train_fraction, np.random.default_rng(config.seed)
        )
        rng = np.random.default_rng([config.seed, 2])
        measured = {}
        for part, inputs in (("train", train), ("test", test)):
            if len(inputs) > FINAL_EXAMPLES:
                inputs = inputs[np.sort(rng.choice(len(inputs), FINAL_EXAMPLES, replace=False))]
            measured[part] = (len(inputs), *evaluate(config, result.params, inputs))
        analysis = result.analysis()
        noise = noise_concentrations(
            config.p, n_top=TOP_FREQUENCIES, samples=NOISE_SAMPLES, rng=rng
        )
        weight_noise = weight_noise_concentrations(
            result.params, samples=WEIGHT_NOISE_SAMPLES, rng=rng, n_top=TOP_FREQUENCIES
        )
        return self._result(
            context, config, result, settle, analysis, measured, noise, weight_noise
        )

    def _result(
        self,
        context: RunContext,
        config: Any,
        result: Any,
        settle: Settle,
        analysis: Any,
        measured: dict[str, tuple[int, float, float]],
        noise: np.ndarray,
        weight_noise: np.ndarray,
    ) -> ExperimentResult:
        from fourier_circuits.constructions.transformer import TEST_ACCURACY_CLAIM

        concentration = analysis.concentration
        q99 = float(np.percentile(noise, 99))
        weight_max = float(weight_noise.max())
        test_accuracy, train_accuracy = measured["test"][2], measured["train"][2]
        accurate = test_accuracy >= TEST_ACCURACY_CLAIM
        sparse = concentration > max(q99, weight_max)
        verdict = (
            REPRODUCED if accurate and sparse else PARTLY if accurate or sparse else NOT_REPRODUCED
        )
        reason = (
            f"test accuracy {test_accuracy:.4f} ({'>=' if accurate else '<'} "
            f"{TEST_ACCURACY_CLAIM}) after {result.steps} steps; attention concentration "
            f"{concentration:.3f} vs noise q99 {q99:.3f} and Gaussian-weight max {weight_max:.3f}"
        )
        figures = self._figures(context, result, analysis)
        model = self._save_model(context, result)
        settled = result.stop_reason == "target"
        measurements: dict[str, Any] = {
            "p": config.p,
            "k": config.k,
            "seed": config.seed,
            "stop_reason": "settled" if settled else "steps",
            "train_examples_measured": measured["train"][0],
            "test_examples_measured": measured["test"][0],
            "train_loss": measured["train"][1],
            "test_loss": measured["test"][1],
            "steps_to_test_099": next(
                (r.step for r in result.history if r.test_accuracy >= TEST_ACCURACY_CLAIM), None
            ),
            "attention_fourier_concentration": concentration,
            "noise_concentration_q99": q99,
            "noise_concentration_mean": float(noise.mean()),
            "weight_noise_concentration_max": weight_max,
            "top_frequencies": [list(f) for f in analysis.top_frequencies],
            "top_frequency_shares": list(analysis.top_shares),
            "heads_above_noise_q99": int(sum(c > q99 for c in analysis.head_concentrations)),
            "heads": len(analysis.heads),
            "embedding_frequencies": list(analysis.embedding_frequencies),
            "explained_by_embedding_frequencies": analysis.explained_share,
            "fourier_history": [
                {"step": s, "test_accuracy": a, "concentration": c, "top_frequencies": t}
                for s, a, c, t in settle.rows or []
            ],
            "model": model,
            "checkpoint": f"{context.work_dir.name}/{context.checkpoint_path.name}",
            "threads": result.threads,
        }
        return ExperimentResult(
            name=self.name,
            kind=self.kind,
            claim=self.claim,
            settings=self.settings(context.quick),
            steps=result.steps,
            seconds=result.seconds,
            train_accuracy=train_accuracy,
            test_accuracy=test_accuracy,
            measurements=measurements,
            verdict=verdict,
            verdict_reason=reason,
            figures=figures,
            report=_report(config, result, measurements, settled),
        )

    def _figures(
        self, context: RunContext, result: Any, analysis: Any
    ) -> tuple[tuple[str, str], ...]:
        from fourier_circuits.experiments.plots import save_figure
        from fourier_circuits.experiments.plots_transformer import (
            accuracy_figure,
            attention_heads_figure,
            embedding_spectrum_figure,
        )

        figures = []
        for what, make, caption in (
            ("attention", attention_heads_figure, "Fig. 3: the strongest heads' key-query matrix "
             "through the embeddings, M_h[a, b] = (E[a] W_Q) . (E[b] W_K), and its 2-D power "
             "spectrum (DC hidden)"),
            ("accuracy", None, "train and test accuracy (the monitor's subsets) against steps"),
            ("embedding", embedding_spectrum_figure, "the number embeddings' power per frequency"),
        ):  # fmt: skip
            path, relative = context.figure_path(self.name, what)
            figure = accuracy_figure(result) if make is None else make(analysis)
            save_figure(figure, path)
            figures.append((relative, caption))
        return tuple(figures)

    def _save_model(self, context: RunContext, result: Any) -> str:
        """DIR/<name>/model.pt, the TransformerLens checkpoint that `inspect` reads."""
        from fourier_circuits.experiments.cmd_transformer import lens_checkpoint
        from fourier_circuits.experiments.outputs import write_atomic
        from fourier_circuits.experiments.provenance import provenance

        meta = provenance(command=f"paper --experiment {self.name}", seed=result.config.seed)
        context.work_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(context.work_dir / "model.pt", lens_checkpoint(result, meta))
        return f"{context.work_dir.name}/model.pt"


def _report(config: Any, result: Any, m: dict[str, Any], settled: bool) -> str:
    """The Markdown body of the experiment's section."""
    top = ", ".join(
        f"({a},{b}) {s:.2f}"
        for (a, b), s in zip(m["top_frequencies"], m["top_frequency_shares"], strict=True)
    )
    rule = (
        f"settled: {SETTLE_WINDOW} measurements in a row at test accuracy >= 0.99 with the "
        f"concentration within {SETTLE_TOLERANCE}"
        if settled
        else f"the step budget ({config.steps}) ran out before the stop rule held"
    )
    n_train, n_test = m["train_examples_measured"], m["test_examples_measured"]
    q99, mean = m["noise_concentration_q99"], m["noise_concentration_mean"]
    rows = [
        ("steps", f"{result.steps} ({rule})"),
        ("examples measured (train / test)", f"{n_train} / {n_test}"),
        ("first monitor test accuracy >= 0.99", m["steps_to_test_099"]),
        ("attention concentration C (pooled)", f"{m['attention_fourier_concentration']:.4f}"),
        ("noise: i.i.d. Gaussian q99 / mean", f"{q99:.4f} / {mean:.4f}"),
        ("noise: Gaussian E, W_Q, W_K, largest C", f"{m['weight_noise_concentration_max']:.4f}"),
        ("heads above the noise q99", f"{m['heads_above_noise_q99']} of {m['heads']}"),
        ("top 2-D classes (share of non-DC power)", top),
        ("embedding key frequencies", ", ".join(map(str, m["embedding_frequencies"]))),
        ("top-class power on those", f"{m['explained_by_embedding_frequencies']:.3f}"),
    ]  # fmt: skip
    table = "\n".join(f"| {a} | {b} |" for a, b in rows)
    return (
        f"{config.n_heads} heads of {config.d_head}, d_model {config.d_model}, MLP {config.d_mlp}, "
        f"AdamW lr {config.lr:g}, weight decay {config.weight_decay:g}, batch {config.batch}, "
        f"{result.threads} thread(s).\n\n| quantity | value |\n|---|---|\n{table}\n"
    )


TRANSFORMER_EXPERIMENTS: tuple[TransformerExperiment, ...] = tuple(
    TransformerExperiment(
        name=f"transformer-k{k}-p{p}", kind="transformer", claim=CLAIM, p=p, k=k,
        quick_p=qp, quick_k=k,
    )
    for (k, p), qp in (((4, 31), 7), ((3, 61), 13), ((5, 17), 5))
)  # fmt: skip
