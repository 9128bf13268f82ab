"""train_transformer(config): the training loop. Pure: it prints nothing and writes no files;
progress goes to an optional callback, randomness comes only from config.seed.

Each run: split the p^k examples (numpy Generator(seed), constructions.training's data_split);
draw the initial parameters (torch.Generator(seed), float64 on the CPU, then moved to the device
and cast to config.dtype); step AdamW (decoupled weight decay on the matrices, none on the biases;
linear warm-up), measuring train and test accuracy every `eval_every` steps; stop once the test
accuracy reaches `target_accuracy` (or, with `stop`, once stop says so) or the steps are used up;
raise TrainingDivergedError on a non-finite loss or parameters and TrainingStalledError when the
loss does not move.

For long runs (the paper's settings, experiments/paper/transformer.py):
- monitor_examples=n measures the accuracies on a fixed random n of the training and of the
  held-out part (numpy default_rng([seed, MONITOR_STREAM]), drawn once) instead of all of them;
  `evaluate` measures the final parameters over any inputs, in chunks.
- stop(record, params) replaces the target rule: called after each measurement after step 0
  with the float64 parameters, it returns whether to stop (e.g. once the accuracy is reached
  and the attention's Fourier statistics have settled).
- checkpoint(state) is called every `checkpoint_every` steps (a multiple of eval_every, right
  after that step's measurement and stop decision) with the run's whole state, and
  train_transformer(config, resume=state) continues from it: the parameters, AdamW's moments and
  step counts, the batch order (the torch generator's state at the start of the epoch and the
  position in it), the step, the history, the stall watch and the seconds so far. The state holds
  only tensors, numbers, strings, None, lists and dicts (torch.load(weights_only=True) reads it
  back). A resumed run takes exactly the steps the uninterrupted run takes from there, so it ends
  with the same numbers (tests/test_transformer_resume.py); its `seconds` add up both sessions.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from fourier_circuits.constructions.training.loop import LossWatch, auto_threads, thread_limit
from fourier_circuits.constructions.training.model import (
    Batch,
    data_split,
    resolve_device,
    select,
    torch_dtype,
)
from fourier_circuits.constructions.training.result import TrainingDivergedError
from fourier_circuits.constructions.training.state import BatchStream
from fourier_circuits.constructions.transformer.config import TransformerConfig
from fourier_circuits.constructions.transformer.model import (
    BIASES,
    DECAYED,
    Params,
    init_params,
    logits,
    to_numpy,
)
from fourier_circuits.constructions.transformer.result import TransformerRecord, TransformerResult
from fourier_circuits.theory import FourierCircuitsError, Task, labels
from fourier_circuits.theory._validation import check_int

Callback = Callable[[TransformerRecord, int], None]
#: stop(record, params): after a measurement, whether to stop (params: float64 numpy arrays).
Stop = Callable[[TransformerRecord, dict[str, np.ndarray[Any, Any]]], bool]
#: checkpoint(state): the run's whole state (module docstring), to save and resume from.
Checkpoint = Callable[[dict[str, Any]], None]
#: The numpy stream of the monitor's subsets: default_rng([seed, MONITOR_STREAM]).
MONITOR_STREAM = 1
#: The version of the state's layout; a state of another version is refused.
STATE_VERSION = 1


def train_transformer(
    config: TransformerConfig,
    *,
    callback: Callback | None = None,
    monitor_examples: int | None = None,
    stop: Stop | None = None,
    checkpoint: Checkpoint | None = None,
    checkpoint_every: int | None = None,
    resume: Mapping[str, Any] | None = None,
) -> TransformerResult:
    """Train the one-layer Transformer as `config` says; see the module docstring.

    callback(record, total_steps) is called after each measurement (for a progress bar);
    monitor_examples, stop, checkpoint, checkpoint_every and resume: the module docstring.
    """
    if monitor_examples is not None:
        check_int("monitor_examples", monitor_examples, min_value=1)
    if (checkpoint is None) != (checkpoint_every is None):
        raise FourierCircuitsError("checkpoint and checkpoint_every go together: give both")
    if checkpoint_every is not None:
        check_int("checkpoint_every", checkpoint_every, min_value=1)
        if checkpoint_every % config.eval_every:
            raise FourierCircuitsError(
                f"checkpoint_every={checkpoint_every} must be a multiple of eval_every="
                f"{config.eval_every} (a state is saved right after a measurement)"
            )
    if resume is not None:
        _check_state(resume, config)
    task = Task(config.p, config.k)
    device = resolve_device(config.device)
    train_inputs, test_inputs = data_split(
        task, config.train_fraction, np.random.default_rng(config.seed)
    )
    # the per-example work is dominated by the (N, d_mlp) MLP layer: the same rule as train's
    threads = config.threads or auto_threads(len(train_inputs), max(config.d_mlp, config.d_model))
    options = _Options(callback, monitor_examples, stop, checkpoint, checkpoint_every, resume)
    with thread_limit(threads):
        return _train(config, device, train_inputs, test_inputs, threads, options)


class _Options:
    """train_transformer's keyword arguments besides the config, passed on as one."""

    def __init__(
        self,
        callback: Callback | None,
        monitor_examples: int | None,
        stop: Stop | None,
        checkpoint: Checkpoint | None,
        checkpoint_every: int | None,
        resume: Mapping[str, Any] | None,
    ) -> None:
        self.callback = callback
        self.monitor_examples = monitor_examples
        self.stop = stop
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.resume = resume


def _check_state(state: Mapping[str, Any], config: TransformerConfig) -> None:
    """Refuse a state that is not one of train_transformer's, or is of another config."""
    if not isinstance(state, Mapping) or state.get("version") != STATE_VERSION:
        raise FourierCircuitsError(
            f"resume: not a Transformer training state of version {STATE_VERSION}"
        )
    if state.get("config") != config.as_dict():
        saved = state.get("config") or {}
        differ = sorted(k for k, v in config.as_dict().items() if saved.get(k) != v)
        raise FourierCircuitsError(
            f"resume: the state was saved by a run of another config ({', '.join(differ)} "
            "differ); a run resumes only with the config it started with"
        )


def _data(inputs: np.ndarray[Any, Any], p: int, device: torch.device) -> Batch:
    """The inputs (N, k) and labels (N,) as int64 tensors (no one-hot: the model embeds)."""
    x = torch.tensor(np.asarray(inputs), dtype=torch.int64, device=device)
    y = torch.tensor(labels(inputs, p), dtype=torch.int64, device=device)
    return Batch(x, y)


def _monitor(data: Batch, n: int | None, rng: np.random.Generator) -> Batch:
    """A fixed random n of `data` (all of it when n is None or not smaller)."""
    if n is None or n >= len(data):
        return data
    rows = torch.as_tensor(np.sort(rng.choice(len(data), size=n, replace=False)))
    return select(data, rows.to(data.labels.device))


def record_from_dict(entry: Mapping[str, Any]) -> TransformerRecord:
    """A TransformerRecord from its as_dict() (None back to NaN), as a state keeps it."""
    values: dict[str, Any] = {k: math.nan if v is None else v for k, v in entry.items()}
    return TransformerRecord(**values)


def _train(
    cfg: TransformerConfig,
    device: torch.device,
    train_inputs: np.ndarray[Any, Any],
    test_inputs: np.ndarray[Any, Any],
    threads: int,
    options: _Options,
) -> TransformerResult:
    generator = torch.Generator().manual_seed(cfg.seed)
    initial = init_params(cfg, generator=generator)
    dtype = torch_dtype(cfg.dtype)
    params: Params = {name: x.to(device, dtype).requires_grad_(True) for name, x in initial.items()}
    optimizer = torch.optim.AdamW(
        [
            {
                "params": [params[n] for n in DECAYED if n in params],
                "weight_decay": cfg.weight_decay,
            },
            {"params": [params[n] for n in BIASES if n in params], "weight_decay": 0.0},
        ],
        lr=cfg.lr,
        betas=(cfg.beta1, cfg.beta2),
    )
    train_data = _data(train_inputs, cfg.p, device)
    test_data = _data(test_inputs, cfg.p, device)
    subsets = np.random.default_rng([cfg.seed, MONITOR_STREAM])
    train_watch = _monitor(train_data, options.monitor_examples, subsets)
    test_watch = _monitor(test_data, options.monitor_examples, subsets)
    stream = BatchStream(train_data, cfg.batch_size, generator)

    def lr(t: int) -> float:
        """Linear warm-up over the first warmup_steps steps, then constant."""
        return cfg.lr * min(1.0, (t + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr

    history: list[TransformerRecord] = []
    last_loss = math.nan
    watch = LossWatch(
        cfg.stall_steps,
        diverged_hint=f"lower --lr (now {cfg.lr}) or --init-scale (now {cfg.init_scale})",
        stalled_hint=f"raise --lr (now {cfg.lr}) or lower --weight-decay (now {cfg.weight_decay})",
    )
    step = 0
    earlier = 0.0  # seconds of the sessions before a resume
    state = options.resume
    if state is not None:
        with torch.no_grad():
            for name, x in params.items():
                x.copy_(state["params"][name].to(device, dtype))
        optimizer.load_state_dict(copy.deepcopy(dict(state["optimizer"])))
        stream.load_state_dict(dict(state["batches"]))
        generator.set_state(state["generator"])
        history = [record_from_dict(entry) for entry in state["history"]]
        step, last_loss, earlier = int(state["step"]), float(state["loss"]), float(state["seconds"])
        watch.first, watch.best = float(state["watch"]["first"]), float(state["watch"]["best"])
    start = time.perf_counter()

    def record(step: int) -> TransformerRecord:
        train_loss, train_accuracy = _evaluate(params, train_watch, chunk=cfg.eval_chunk)
        test_loss, test_accuracy = _evaluate(params, test_watch, chunk=cfg.eval_chunk)
        if not all(math.isfinite(v) for v in (train_loss, test_loss)):
            raise TrainingDivergedError(
                f"the logits became non-finite by step {step}; lower --lr (now {cfg.lr})",
                step=step,
                history=tuple(history),
            )
        rec = TransformerRecord(
            step=step,
            seconds=earlier + time.perf_counter() - start,
            loss=last_loss,
            lr=lr(max(step - 1, 0)),
            train_loss=train_loss,
            test_loss=test_loss,
            train_accuracy=train_accuracy,
            test_accuracy=test_accuracy,
        )
        history.append(rec)
        if options.callback is not None:
            options.callback(rec, cfg.steps)
        return rec

    def stopping(rec: TransformerRecord) -> bool:
        if options.stop is not None:
            return options.stop(rec, to_numpy(params))
        return cfg.target_accuracy is not None and rec.test_accuracy >= cfg.target_accuracy

    def save(step: int) -> None:
        assert options.checkpoint is not None
        options.checkpoint(
            {
                "version": STATE_VERSION,
                "config": cfg.as_dict(),
                "step": step,
                "params": {name: x.detach().to("cpu").clone() for name, x in params.items()},
                "optimizer": copy.deepcopy(optimizer.state_dict()),
                "batches": stream.state_dict(),
                "generator": generator.get_state(),
                "history": [r.as_dict() for r in history],
                "loss": last_loss,
                "watch": {"first": watch.first, "best": watch.best},
                "seconds": earlier + time.perf_counter() - start,
            }
        )

    stop_reason = "steps"
    if state is None:
        record(0)
    while step < cfg.steps:
        batch = next(stream)
        for group in optimizer.param_groups:
            group["lr"] = lr(step)
        loss = functional.cross_entropy(logits(params, batch.inputs), batch.labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        last_loss = float(loss.detach())
        step += 1
        watch.see(step, last_loss, lr(step - 1), history)
        if step % cfg.eval_every and step != cfg.steps:
            continue
        if stopping(record(step)):
            stop_reason = "target"
            break
        if options.checkpoint_every is not None and step % options.checkpoint_every == 0:
            save(step)
    return TransformerResult(
        config=cfg,
        initial=to_numpy(initial),
        params=to_numpy(params),
        history=tuple(history),
        stop_reason=stop_reason,
        steps=step,
        seconds=earlier + time.perf_counter() - start,
        threads=threads,
    )


def evaluate(
    config: TransformerConfig,
    params: Mapping[str, np.ndarray[Any, Any]],
    inputs: np.ndarray[Any, Any],
) -> tuple[float, float]:
    """(cross-entropy, accuracy) of the parameters (float64 numpy, TransformerResult.params) over
    `inputs` (N, k), in config.dtype on config.device, config.eval_chunk examples at a time; as
    the loop measures (a tie is wrong)."""
    device = resolve_device(config.device)
    dtype = torch_dtype(config.dtype)
    weights = {name: torch.as_tensor(x).to(device, dtype) for name, x in params.items()}
    threads = config.threads or auto_threads(len(inputs), max(config.d_mlp, config.d_model))
    with thread_limit(threads):
        return _evaluate(weights, _data(inputs, config.p, device), chunk=config.eval_chunk)


def _evaluate(params: Params, data: Batch, *, chunk: int) -> tuple[float, float]:
    """(cross-entropy, accuracy) over all of `data`; correct: the label's logit strictly largest.
    The logits are computed `chunk` examples at a time (one pass when the data are no more), so
    the activations stay bounded (TransformerConfig.eval_chunk)."""
    with torch.no_grad():
        n = data.inputs.shape[0]
        if n <= chunk:
            z = logits(params, data.inputs)
        else:
            z = torch.cat([logits(params, data.inputs[i : i + chunk]) for i in range(0, n, chunk)])
        loss = float(functional.cross_entropy(z, data.labels))
        rows = torch.arange(len(data), device=z.device)
        right = z[rows, data.labels]
        others = z.clone()
        others[rows, data.labels] = -math.inf
        correct = right > others.max(dim=1).values  # margin g > 0 (a tie is wrong)
        return loss, float(correct.double().mean())
