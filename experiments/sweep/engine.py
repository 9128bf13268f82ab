"""Running a sweep's cells: on Dask distributed (an embedded LocalCluster sized to the machine,
or an existing cluster at --scheduler), or one after another in this process (the reference the
benchmark compares with). Dask is an optional extra, imported only here and only when used.

A LocalCluster runs one process per worker (forked from this one where that is safe: see
start_method), one thread each, with the BLAS and OpenMP pools of each worker pinned to one
thread (OMP_NUM_THREADS and friends, set before the worker starts, and threadpoolctl and torch
inside it), so cells do not oversubscribe the cores. Training picks its
own torch threads as the single command does (constructions.training.loop.thread_limit: one for
small problems), so a cell's numbers are the single command's; for large problems give
threads=1 on the grid. A cluster elsewhere (dask-jobqueue's SLURMCluster, say) is reached with
--scheduler and used unchanged; its workers need fourier-circuits installed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator
from typing import Any

from fourier_circuits.experiments.sweep.cells import Cell, Plan, make_row, result_of, run_cell
from fourier_circuits.theory import FourierCircuitsError

#: How long connecting to --scheduler may take before it is refused.
CONNECT_SECONDS = 3
#: A worker count above this is a typo.
MAX_WORKERS = 1024
#: Set in each LocalCluster worker before it starts: numpy's BLAS and OpenMP on one thread.
THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "VECLIB_MAXIMUM_THREADS": "1",
    "NUMEXPR_NUM_THREADS": "1",
}
INSTALL_HINT = "pip install 'fourier-circuits[cluster]' (Dask distributed)"

OnRow = Callable[[dict[str, Any]], None]


def require_dask() -> None:
    """Refuse (exit 2) when Dask distributed is not installed, saying how to install it."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise FourierCircuitsError(f"sweep runs its cells on Dask; {INSTALL_HINT}") from None


def default_workers() -> int:
    """One worker per usable core."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def check_workers(workers: int | None, scheduler: str | None) -> None:
    if workers is None:
        return
    if scheduler is not None:
        raise FourierCircuitsError(
            "--workers applies to the embedded LocalCluster, not to --scheduler (an existing "
            "cluster has the workers it has)"
        )
    if not 1 <= workers <= MAX_WORKERS:
        raise FourierCircuitsError(f"--workers {workers} must lie in 1..{MAX_WORKERS}")


def pin_threads() -> None:
    """Run in each worker: BLAS, OpenMP and torch on one thread outside training's own
    thread_limit (the variables for libraries not loaded yet; torch only if it is loaded)."""
    os.environ.update(THREAD_ENV)
    with contextlib.suppress(ImportError):
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(1)


def start_method() -> str:
    """How LocalCluster workers start: forked from this process where that is safe to ask for
    (Linux, Python < 3.12, which does not yet warn about forking a process with threads), so
    they inherit what it has imported (torch: seconds per worker); spawned elsewhere."""
    if sys.platform == "linux" and sys.version_info < (3, 12):
        return "fork"
    return "spawn"


@contextlib.contextmanager
def client(*, scheduler: str | None = None, workers: int | None = None) -> Iterator[Any]:
    """A dask.distributed Client: connected to `scheduler` (refused within CONNECT_SECONDS when
    it cannot be reached), or to a new LocalCluster of `workers` processes (default: one per
    core) that is closed on leaving."""
    require_dask()
    check_workers(workers, scheduler)
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            connected = Client(scheduler, timeout=f"{CONNECT_SECONDS}s")
        except (OSError, TimeoutError, ValueError, TypeError) as err:
            raise FourierCircuitsError(
                f"--scheduler {scheduler!r}: cannot reach a Dask scheduler within "
                f"{CONNECT_SECONDS} s ({type(err).__name__}: {' '.join(str(err).split())[:200]}); "
                "check the address (tcp://HOST:PORT) and that the scheduler is running"
            ) from None
        with contextlib.closing(connected):
            connected.run(pin_threads)
            yield connected
        return
    import dask

    with dask.config.set({"distributed.worker.multiprocessing-method": start_method()}):
        cluster = LocalCluster(
            n_workers=workers or default_workers(),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            silence_logs=logging.ERROR,
            env=THREAD_ENV,
        )
    try:
        connected = Client(cluster)
        with contextlib.closing(connected):
            connected.run(pin_threads)
            yield connected
    finally:
        cluster.close(timeout=10)


def on_dask(dask_client: Any, plan: Plan, cells: list[Cell], on_row: OnRow) -> None:
    """Submit every cell, and call on_row with each row as its cell finishes (in that order).
    A cell whose worker died is a row with status internal_error. On an interrupt the cells not
    yet finished are cancelled."""
    from distributed import as_completed

    token = secrets.token_hex(4)
    futures = {
        dask_client.submit(
            run_cell, plan.subcommand, cell.argv, key=f"fc-{token}-{cell.index}", pure=False
        ): cell
        for cell in cells
    }
    try:
        for future in as_completed(list(futures)):
            try:
                result = future.result()
            except Exception as err:  # the worker died (KilledWorker), or the result was lost
                result = result_of("internal_error", error=f"{type(err).__name__}: {err}")
            on_row(make_row(futures[future], result))
    finally:
        pending = [future for future in futures if not future.done()]
        if pending:
            with contextlib.suppress(Exception):
                dask_client.cancel(pending)


def in_process(plan: Plan, cells: list[Cell], on_row: OnRow) -> None:
    """The cells one after another in this process (no Dask)."""
    for cell in cells:
        on_row(make_row(cell, run_cell(plan.subcommand, cell.argv)))
