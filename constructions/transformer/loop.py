"""train_transformer(config): the training loop. Pure: it prints nothing and writes no files;
progress goes to an optional callback, randomness comes only from config.seed.

Each run: split the p^k examples (numpy Generator(seed), constructions.training's data_split);
draw the initial parameters (torch.Generator(seed), float64 on the CPU, then moved to the device
and cast to config.dtype); step AdamW (decoupled weight decay on the matrices, none on the biases;
linear warm-up), measuring train and test accuracy every `eval_every` steps; stop once the test
accuracy reaches `target_accuracy` or the steps are used up; raise TrainingDivergedError on a
non-finite loss or parameters and TrainingStalledError when the loss does not move.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from fourier_circuits.constructions.training.loop import (
    LossWatch,
    auto_threads,
    batches,
    thread_limit,
)
from fourier_circuits.constructions.training.model import (
    Batch,
    data_split,
    resolve_device,
    torch_dtype,
)
from fourier_circuits.constructions.training.result import TrainingDivergedError
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
from fourier_circuits.theory import Task, labels

Callback = Callable[[TransformerRecord, int], None]


def train_transformer(
    config: TransformerConfig, *, callback: Callback | None = None
) -> TransformerResult:
    """Train the one-layer Transformer as `config` says; see the module docstring.

    callback(record, total_steps) is called after each measurement (for a progress bar).
    """
    task = Task(config.p, config.k)
    device = resolve_device(config.device)
    train_inputs, test_inputs = data_split(
        task, config.train_fraction, np.random.default_rng(config.seed)
    )
    # the per-example work is dominated by the (N, d_mlp) MLP layer: the same rule as train's
    threads = config.threads or auto_threads(len(train_inputs), max(config.d_mlp, config.d_model))
    with thread_limit(threads):
        return _train(config, device, train_inputs, test_inputs, threads, callback)


def _data(inputs: np.ndarray[Any, Any], p: int, device: torch.device) -> Batch:
    """The inputs (N, k) and labels (N,) as int64 tensors (no one-hot: the model embeds)."""
    x = torch.tensor(np.asarray(inputs), dtype=torch.int64, device=device)
    y = torch.tensor(labels(inputs, p), dtype=torch.int64, device=device)
    return Batch(x, y)


def _train(
    cfg: TransformerConfig,
    device: torch.device,
    train_inputs: np.ndarray[Any, Any],
    test_inputs: np.ndarray[Any, Any],
    threads: int,
    callback: Callback | None,
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
    stream = batches(train_data, cfg.batch_size, generator)

    def lr(t: int) -> float:
        """Linear warm-up over the first warmup_steps steps, then constant."""
        return cfg.lr * min(1.0, (t + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr

    history: list[TransformerRecord] = []
    start = time.perf_counter()
    last_loss = math.nan
    watch = LossWatch(
        cfg.stall_steps,
        diverged_hint=f"lower --lr (now {cfg.lr}) or --init-scale (now {cfg.init_scale})",
        stalled_hint=f"raise --lr (now {cfg.lr}) or lower --weight-decay (now {cfg.weight_decay})",
    )

    def record(step: int) -> TransformerRecord:
        train_loss, train_accuracy = _evaluate(params, train_data, chunk=cfg.eval_chunk)
        test_loss, test_accuracy = _evaluate(params, test_data, chunk=cfg.eval_chunk)
        if not all(math.isfinite(v) for v in (train_loss, test_loss)):
            raise TrainingDivergedError(
                f"the logits became non-finite by step {step}; lower --lr (now {cfg.lr})",
                step=step,
                history=tuple(history),
            )
        rec = TransformerRecord(
            step=step,
            seconds=time.perf_counter() - start,
            loss=last_loss,
            lr=lr(max(step - 1, 0)),
            train_loss=train_loss,
            test_loss=test_loss,
            train_accuracy=train_accuracy,
            test_accuracy=test_accuracy,
        )
        history.append(rec)
        if callback is not None:
            callback(rec, cfg.steps)
        return rec

    step = 0
    stop_reason = "steps"
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
        rec = record(step)
        if cfg.target_accuracy is not None and rec.test_accuracy >= cfg.target_accuracy:
            stop_reason = "target"
            break
    return TransformerResult(
        config=cfg,
        initial=to_numpy(initial),
        params=to_numpy(params),
        history=tuple(history),
        stop_reason=stop_reason,
        steps=step,
        seconds=time.perf_counter() - start,
        threads=threads,
    )


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
