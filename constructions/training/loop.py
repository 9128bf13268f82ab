"""train(config): the training loop. Pure: it prints nothing and writes no files; progress goes to
an optional callback, randomness comes only from config.seed.

Each run: validate and resolve the config; split D_p (numpy Generator(seed)); draw the initial
weights (torch.Generator(seed), float64 on the CPU, then moved to the device); step the optimiser,
measuring the network with the theory module every `eval_every` steps; stop when the claims hold
(`target_ratio`), when the steps are used up, or on a plateau; raise TrainingDivergedError on a
non-finite loss or weights and TrainingStalledError when the loss does not move.

For long runs (the paper's sizes, experiments/paper): train_run(config, monitor=Monitor(...))
measures cheaply every monitor.every steps instead (training.monitor: samples of the data and one
DFT of the neurons), stops when accuracy and the Fourier statistics have settled, and measures
all of D_p once at the end. Either loop hands its whole state (training.state.TrainState) to
`on_state` every `state_every` steps, and `resume=state` continues from one exactly.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from fourier_circuits.constructions.training.config import TrainConfig
from fourier_circuits.constructions.training.methods import make_method
from fourier_circuits.constructions.training.model import (
    Batch,
    data_split,
    init_weights,
    make_batch,
    resolve_device,
    select,
    to_polynet,
    torch_dtype,
)
from fourier_circuits.constructions.training.monitor import Monitor, MonitorRecord, Watcher
from fourier_circuits.constructions.training.result import (
    HistoryRecord,
    TrainingDivergedError,
    TrainingStalledError,
    TrainResult,
    measure,
)
from fourier_circuits.constructions.training.state import BatchStream, TrainState
from fourier_circuits.theory import FourierCircuitsError, PolyNet, Task, gamma_star
from fourier_circuits.theory.margins import require_representable

#: Problems whose hidden layer (training examples x width) has at most this many entries run
#: on one thread. Measured on the 2-core reference machine, ms per "margin" step with 1 | 2
#: threads, one other process running: (13,2) 0.47 | 0.50, (23,2) 0.98 | 1.38, (7,3) 0.86 | 0.82,
#: (11,3) 4.35 | 4.16, (31,2) 2.7 | 2.9, (17,3) (N m = 1.26e6) 36 | 23. While other processes
#: load both cores, a second thread made the small problems 5 to 25 times slower (the threads
#: wait on each other at each of the ~20 small operations of a step). See docs/training.md.
SINGLE_THREAD_MAX_WORK = 2**19
#: The loss must fall below this share of its first value within config.stall_steps steps.
STALL_SHARE = 0.99
#: A plateau: the best margin ratio grew by less than this over config.patience steps.
PLATEAU_GAIN = 1e-4


@dataclass
class LossWatch:
    """Stops a run that has failed, with a message that says what to change: a non-finite loss
    raises TrainingDivergedError; at step `stall_steps`, a best loss not below STALL_SHARE times
    the first raises TrainingStalledError. Shared by every training loop of this package."""

    stall_steps: int | None
    diverged_hint: str  # e.g. "lower --lr (now 0.05)"
    stalled_hint: str
    label: str = ""  # e.g. the optimiser, named in the messages
    first: float = math.nan
    best: float = math.inf

    def see(self, step: int, loss: float, lr: float, history: Sequence[Any]) -> None:
        """Record the loss of step `step` (1-based) and raise if the run has failed."""
        where = f"{self.label}, lr {lr:.3g}" if self.label else f"lr {lr:.3g}"
        if not math.isfinite(loss):
            raise TrainingDivergedError(
                f"the loss became {loss} at step {step} ({where}); {self.diverged_hint}",
                step=step,
                history=tuple(history),
            )
        if step == 1:
            self.first = loss
        self.best = min(self.best, loss)
        if step == self.stall_steps and not self.best < STALL_SHARE * self.first:
            raise TrainingStalledError(
                f"training stalled: the loss stayed at {self.best:.6g} (first {self.first:.6g}) "
                f"for {step} steps ({where}); {self.stalled_hint}",
                step=step,
                history=tuple(history),
            )


Callback = Callable[[HistoryRecord, int], None]
MonitorCallback = Callable[[MonitorRecord, int], None]
StateCallback = Callable[[TrainState], None]


@dataclass(frozen=True)
class TrainRun:
    """train_run's answer: the result, and the cheap measurements (empty without a Monitor)."""

    result: TrainResult
    monitor: tuple[MonitorRecord, ...]


def auto_threads(n_train: int, m: int) -> int:
    """Threads for a problem: 1 when the (N, m) hidden layer is small, else every usable core."""
    if n_train * m <= SINGLE_THREAD_MAX_WORK:
        return 1
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@contextlib.contextmanager
def thread_limit(n: int, *, torch_threads: int | None = None) -> Iterator[None]:
    """BLAS (numpy) on n threads, torch on torch_threads (default n), and torch's deterministic
    algorithms, inside the block; the previous settings after it.

    Deterministic algorithms because the same seed must give the same numbers: on 2 CPU threads
    the backward pass of an indexing op accumulates in a varying order, and the Transformer at
    (47, 2), seed 0, ended at test accuracy 0.99095, 0.99186 and 0.99367 in three runs (one
    thread, or deterministic algorithms on two: 0.99005 every time). warn_only: where an op has no
    deterministic version (some CUDA kernels) torch warns instead of failing the run.

    Deterministic mode also fills every new tensor with NaN
    (torch.utils.deterministic.fill_uninitialized_memory), a pass over memory per allocation;
    nothing here reads memory it did not write, so that fill is off inside the block.
    """
    previous = torch.get_num_threads()
    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory  # type: ignore[attr-defined]
    torch.set_num_threads(n if torch_threads is None else torch_threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = False  # type: ignore[attr-defined]
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(previous)
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = fill  # type: ignore[attr-defined]


def train(
    config: TrainConfig,
    *,
    callback: Callback | None = None,
    resume: TrainState | None = None,
    on_state: StateCallback | None = None,
    state_every: int | None = None,
) -> TrainResult:
    """Train the network of eq. 2 (arXiv 2402.09469) as `config` says; see the module docstring.

    callback(record, total_steps) is called after each measurement (for a progress bar);
    on_state(state) every `state_every` steps; resume: a state that on_state was given by a run
    of the same config, from which this run continues.
    """
    return train_run(
        config, callback=callback, resume=resume, on_state=on_state, state_every=state_every
    ).result


def train_run(
    config: TrainConfig,
    *,
    monitor: Monitor | None = None,
    callback: Callback | None = None,
    monitor_callback: MonitorCallback | None = None,
    resume: TrainState | None = None,
    on_state: StateCallback | None = None,
    state_every: int | None = None,
) -> TrainRun:
    """train, or with a Monitor the cheap measurements and the settle rule (module docstring);
    monitor_callback(record, total_steps) after each cheap measurement."""
    if state_every is not None and (
        isinstance(state_every, bool) or not isinstance(state_every, int) or state_every < 1
    ):
        raise FourierCircuitsError(f"state_every={state_every!r} must be a positive integer")
    cfg = config.resolved()
    if resume is not None:
        resume.require_config(cfg.as_dict())
    task = Task(cfg.p, cfg.k)
    device = resolve_device(cfg.device)
    dtype = torch_dtype(cfg.dtype)
    train_inputs, test_inputs = data_split(
        task, cfg.train_fraction, np.random.default_rng(cfg.seed)
    )
    assert cfg.width is not None and cfg.steps is not None
    threads = cfg.threads or auto_threads(len(train_inputs), cfg.width)
    # torch on one thread, the kernel's chunks on `threads` Python workers (training.kernel)
    watcher = (
        None
        if monitor is None
        else Watcher(monitor, train_inputs, test_inputs, p=task.p, seed=cfg.seed, device=device)
    )
    hooks = _Hooks(callback, monitor_callback, on_state, state_every, resume)
    with thread_limit(threads, torch_threads=1 if device.type == "cpu" else None):
        result = _train(
            cfg, task, device, dtype, train_inputs, test_inputs, threads, hooks, watcher
        )
    return TrainRun(result, () if watcher is None else tuple(watcher.records))


@dataclass(frozen=True)
class _Hooks:
    callback: Callback | None
    monitor_callback: MonitorCallback | None
    on_state: StateCallback | None
    state_every: int | None
    resume: TrainState | None


def _train(
    cfg: TrainConfig,
    task: Task,
    device: torch.device,
    dtype: torch.dtype,
    train_inputs: np.ndarray,
    test_inputs: np.ndarray,
    threads: int,
    hooks: _Hooks,
    watcher: Watcher | None,
) -> TrainResult:
    assert cfg.width is not None and cfg.steps is not None
    generator = torch.Generator().manual_seed(cfg.seed)
    U0, W0 = init_weights(cfg.width, task.k, task.p, scale=cfg.init_scale, generator=generator)
    data = make_batch(train_inputs, task.p, device=device)
    U, W = U0.to(device, dtype), W0.to(device, dtype)
    method = make_method(
        U, W, cfg, gamma_star=gamma_star(task.p, task.k), generator=generator, workers=threads
    )
    initial = _snapshot(method.U, method.W, cfg, step=0, history=())
    stream = BatchStream(data, cfg.batch_size, generator)

    history: list[HistoryRecord] = []
    start = time.perf_counter()
    last_loss = math.nan
    watch = LossWatch(
        cfg.stall_steps,
        diverged_hint=f"lower --lr (now {cfg.lr}) or --init-scale (now {cfg.init_scale}), or use "
        "the default optimizer 'margin', which keeps the norm fixed and cannot diverge this way",
        stalled_hint=f"the z^k activation has a flat saddle at theta = 0, so a small "
        f"initialisation (--init-scale {cfg.init_scale}) or learning rate (--lr {cfg.lr}) learns "
        "nothing: raise them",
        label=cfg.optimizer,
    )
    best_ratio, best_ratio_step = -math.inf, 0
    stop_reason = "steps"
    step = 0
    resume = hooks.resume
    if resume is not None:  # everything as it was after resume.step steps (training.state)
        method.load_state_dict(resume.method)
        generator.set_state(resume.generator)
        stream.load_state_dict(resume.stream)
        watch.first, watch.best = resume.watch
        last_loss, step = resume.last_loss, resume.step
        best_ratio, best_ratio_step = resume.best_ratio, resume.best_ratio_step
        history = list(resume.history)
        start -= resume.seconds
        if watcher is not None:
            watcher.records[:] = [MonitorRecord.from_dict(r) for r in resume.extra["monitor"]]

    def export(step: int) -> None:
        if hooks.on_state is None or hooks.state_every is None or step % hooks.state_every:
            return
        extra = {} if watcher is None else {"monitor": [r.as_dict() for r in watcher.records]}
        hooks.on_state(
            TrainState(
                step=step,
                seconds=time.perf_counter() - start,
                method=method.state_dict(),
                generator=generator.get_state(),
                stream=stream.state_dict(),
                watch=(watch.first, watch.best),
                last_loss=last_loss,
                best_ratio=best_ratio,
                best_ratio_step=best_ratio_step,
                history=tuple(history),
                config=cfg.as_dict(),
                extra=extra,
            )
        )

    def look(step: int) -> bool:
        """The cheap measurement (a Monitor's runs); True when the run has settled."""
        assert watcher is not None
        rec = watcher.measure(
            method.U,
            method.W,
            step=step,
            seconds=time.perf_counter() - start,
            loss=last_loss,
            lr=method.lr(max(step - 1, 0)),
        )
        if hooks.monitor_callback is not None:
            hooks.monitor_callback(rec, cfg.steps or 0)
        return watcher.settled()

    def record(step: int, net: PolyNet) -> HistoryRecord:
        rec = measure(
            net,
            train_inputs,
            test_inputs,
            step=step,
            seconds=time.perf_counter() - start,
            loss=last_loss,
            lr=method.lr(max(step - 1, 0)),
        )
        history.append(rec)
        if hooks.callback is not None:
            hooks.callback(rec, cfg.steps or 0)
        return rec

    if resume is None:
        if watcher is None:
            record(0, initial)
        else:
            look(0)
    while step < cfg.steps:
        last_loss = method.step(step, next(stream))
        step += 1
        watch.see(step, last_loss, method.lr(step - 1), history)
        if watcher is not None:
            if (step % watcher.monitor.every == 0 or step == cfg.steps) and look(step):
                stop_reason = "settled"
                break
            export(step)
            continue
        if step % cfg.eval_every and step != cfg.steps:
            export(step)
            continue
        rec = record(step, _snapshot(method.U, method.W, cfg, step=step, history=history))
        if cfg.target_ratio is not None and rec.claims_hold(cfg.target_ratio):
            stop_reason = "target"
            break
        if rec.margin_ratio >= best_ratio + PLATEAU_GAIN:
            best_ratio, best_ratio_step = rec.margin_ratio, step
        elif step - best_ratio_step >= cfg.patience:
            stop_reason = "plateau"
            break
        export(step)
    if watcher is not None:  # the one measurement over all of D_p, float64
        record(step, _snapshot(method.U, method.W, cfg, step=step, history=history))
    net = _snapshot(method.U, method.W, cfg, step=step, history=history)  # = history[-1]'s
    return TrainResult(
        config=cfg,
        initial=initial,
        net=net.with_meta(**_meta(cfg, step, stop_reason, threads)),
        history=tuple(history),
        stop_reason=stop_reason,
        steps=step,
        seconds=time.perf_counter() - start,
        threads=threads,
    )


def _snapshot(
    U: torch.Tensor,
    W: torch.Tensor,
    cfg: TrainConfig,
    *,
    step: int,
    history: list[HistoryRecord] | tuple[HistoryRecord, ...],
) -> PolyNet:
    """The weights as a theory.PolyNet; non-finite weights, or weights whose logits would
    overflow float64 (theory.margins.require_representable), are a divergence."""
    try:
        net = to_polynet(U, W)
    except FourierCircuitsError as err:
        raise TrainingDivergedError(
            f"the weights became non-finite by step {step} ({cfg.optimizer}): {err}; lower --lr "
            "or use the default optimizer 'margin'",
            step=step,
            history=tuple(history),
        ) from None
    try:
        require_representable(net)
    except FourierCircuitsError as err:
        raise TrainingDivergedError(
            f"the weights grew too large to measure by step {step} ({cfg.optimizer}): {err}; "
            "lower --lr or use the default optimizer 'margin'",
            step=step,
            history=tuple(history),
        ) from None
    return net


def batches(data: Batch, batch_size: int | None, generator: torch.Generator) -> Iterator[Batch]:
    """The full batch forever, or mini-batches of a fresh random permutation each epoch."""
    n = len(data)
    if batch_size is None or batch_size >= n:
        while True:
            yield data
    while True:
        order = torch.randperm(n, generator=generator).to(data.labels.device)
        for lo in range(0, n, batch_size):
            yield select(data, order[lo : lo + batch_size])


def _meta(cfg: TrainConfig, steps: int, stop_reason: str, threads: int) -> dict[str, object]:
    return {
        "made_by": "fourier_circuits.constructions.trained.train",
        "optimizer": cfg.optimizer,
        "seed": cfg.seed,
        "steps": steps,
        "stop_reason": stop_reason,
        "threads": threads,
        "config": cfg.as_dict(),
    }
