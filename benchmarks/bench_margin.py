"""Speed and memory of the normalized margin at the paper's size (p = 97, k = 3, m = 1536).

    python benchmarks/bench_margin.py            # a table and the ratios
    python benchmarks/bench_margin.py --json     # one JSON object on stdout

What it measures, all in one run on this machine:
- the wall time of theory.normalized_margin and theory.margin_report on the paper's analytic
  network (912,673 inputs), each divided by the time of ONE float64 matrix product of the same
  inherent size, (N x m) @ (m x p) with N = p^k: 2 N m p flop, the work no evaluation of the
  network can avoid. Target: normalized_margin / matmul <= 1.5;
- the peak memory of the margin computation, target <= 1.5 GiB.

So that neither measurement pollutes the other, every measurement runs in a fresh subprocess:
the reference product is computed in row chunks of CHUNK rows (one (CHUNK x m) block reused, the
same total flop as the whole product; the whole (N x m) operand would be 11 GB) with numpy's
default BLAS threads; the margin worker records its peak resident memory (VmHWM, reset just
before the call) and, in a separate call, the peak of numpy's allocations seen by tracemalloc.
Repeats are interleaved (reference, margin, reference, margin, ...). The headline ratio is that
of the fastest run of each side (as timeit advises: slower runs measure interference from other
processes, not the code); the median of the per-run ratios and the ratio of CPU seconds (user +
system, all threads) are printed beside it, and the load average says how busy the machine was.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHUNK = 4096  # rows per block of the reference product
TIME_TARGET = 1.5  # normalized_margin seconds / reference matmul seconds
MEMORY_TARGET = 1.5 * 2**30  # bytes


# --- workers (run in fresh subprocesses) --------------------------------------------------------


def _vm_kib(field: str) -> int | None:
    """A Vm* field of /proc/self/status in KiB (None where /proc is missing)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    times = os.times()
    return times.user + times.system


def worker_matmul(p: int, k: int, m: int) -> dict[str, Any]:
    import numpy as np

    n = p**k
    rng = np.random.default_rng(0)
    A = rng.standard_normal((CHUNK, m))  # (CHUNK, m), reused for every block
    B = rng.standard_normal((m, p))  # (m, p)
    out = np.empty((CHUNK, p))
    np.matmul(A, B, out=out)  # warm up BLAS threads
    cpu, start = _cpu_seconds(), time.perf_counter()
    for s in range(0, n, CHUNK):
        rows = min(CHUNK, n - s)
        np.matmul(A[:rows], B, out=out[:rows])
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "cpu_seconds": _cpu_seconds() - cpu,
        "flop": 2.0 * n * m * p,
        "gflops": 2.0 * n * m * p / seconds / 1e9,
    }


def worker_margin(p: int, k: int, design: str, tracemalloc_run: bool) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import tracemalloc

    from fourier_circuits.constructions import construct
    from fourier_circuits.theory import gamma_star, margin_report, normalized_margin

    net = construct(p, k, design)
    result: dict[str, Any] = {"m": net.m}
    baseline_kib = _vm_kib("VmRSS")
    peak_reset = _reset_peak_rss()
    cpu, start = _cpu_seconds(), time.perf_counter()
    value = normalized_margin(net)
    result["normalized_margin_seconds"] = time.perf_counter() - start
    result["normalized_margin_cpu_seconds"] = _cpu_seconds() - cpu
    peak_kib = _vm_kib("VmHWM")
    result["normalized_margin"] = value
    result["relative_error"] = abs(value - gamma_star(p, k)) / gamma_star(p, k)
    if peak_reset and baseline_kib is not None and peak_kib is not None:
        result["peak_rss_bytes"] = peak_kib * 1024
        result["peak_rss_increase_bytes"] = (peak_kib - baseline_kib) * 1024
    cpu, start = _cpu_seconds(), time.perf_counter()
    report = margin_report(net)
    result["margin_report_seconds"] = time.perf_counter() - start
    result["margin_report_cpu_seconds"] = _cpu_seconds() - cpu
    result["all_correct"] = report.all_correct
    result["all_on_margin"] = report.all_on_margin
    if tracemalloc_run:
        tracemalloc.start()
        normalized_margin(net)
        result["tracemalloc_peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return result


def _run_worker(args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--worker", *args],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(done.stdout)


# --- driver ---------------------------------------------------------------------------------------


def measure(p: int, k: int, design: str, repeats: int) -> dict[str, Any]:
    sys.path.insert(0, str(ROOT))
    import numpy as np
    from threadpoolctl import threadpool_info

    from fourier_circuits.constructions import get_design

    m = get_design(design, k).width(p)
    runs = []
    for r in range(repeats):
        reference = _run_worker(["matmul", str(p), str(k), str(m)])
        margin = _run_worker(["margin", str(p), str(k), design, "1" if r == 0 else "0"])
        runs.append({"reference": reference, "margin": margin})
        print(
            f"  run {r + 1}/{repeats}: matmul {reference['seconds']:.2f} s, "
            f"normalized_margin {margin['normalized_margin_seconds']:.2f} s, "
            f"margin_report {margin['margin_report_seconds']:.2f} s",
            file=sys.stderr,
        )
    ref = min(run["reference"]["seconds"] for run in runs)
    nm = min(run["margin"]["normalized_margin_seconds"] for run in runs)
    mr = min(run["margin"]["margin_report_seconds"] for run in runs)
    paired = statistics.median(
        run["margin"]["normalized_margin_seconds"] / run["reference"]["seconds"] for run in runs
    )
    cpu_ratio = min(run["margin"]["normalized_margin_cpu_seconds"] for run in runs) / min(
        run["reference"]["cpu_seconds"] for run in runs
    )
    peaks = [run["margin"].get("peak_rss_increase_bytes") for run in runs]
    peak = max(peaks) if all(x is not None for x in peaks) else None
    first = runs[0]["margin"]
    blas = [
        {key: info.get(key) for key in ("internal_api", "version", "num_threads")}
        for info in threadpool_info()
        if info.get("user_api") == "blas"
    ]
    return {
        "p": p,
        "k": k,
        "m": m,
        "design": design,
        "n_examples": p**k,
        "repeats": repeats,
        "reference": (
            f"float64 (N x m) @ (m x p) in row chunks of {CHUNK} (one block reused, same total "
            "flop as the whole product), default BLAS threads, separate subprocess"
        ),
        "memory_method": (
            "peak RSS (VmHWM, reset just before the call) minus RSS before it, in a fresh "
            "subprocess that holds only the network; tracemalloc peak of a separate call"
        ),
        "reference_seconds": ref,
        "reference_gflops": max(run["reference"]["gflops"] for run in runs),
        "normalized_margin_seconds": nm,
        "margin_report_seconds": mr,
        "ratio_normalized_margin": nm / ref,
        "ratio_margin_report": mr / ref,
        "ratio_normalized_margin_median_of_runs": paired,
        "ratio_normalized_margin_cpu_seconds": cpu_ratio,
        "ratio_target": TIME_TARGET,
        "peak_memory_bytes": peak,
        "peak_rss_bytes": max(run["margin"].get("peak_rss_bytes") or 0 for run in runs) or None,
        "tracemalloc_peak_bytes": first.get("tracemalloc_peak_bytes"),
        "memory_target_bytes": MEMORY_TARGET,
        "time_target_met": nm / ref <= TIME_TARGET,
        "memory_target_met": peak is not None and peak <= MEMORY_TARGET,
        "normalized_margin": first["normalized_margin"],
        "relative_error_vs_gamma_star": first["relative_error"],
        "all_correct": first["all_correct"],
        "all_on_margin": first["all_on_margin"],
        "runs": runs,
        "machine": {
            "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "processor": platform.processor() or platform.machine(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "blas": blas,
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
    }


def print_table(r: dict[str, Any]) -> None:
    mib = 2**20
    print(
        f"normalized margin at p={r['p']}, k={r['k']}, m={r['m']} ({r['design']} design), "
        f"N = p^k = {r['n_examples']:,} inputs; fastest of {r['repeats']} interleaved runs"
    )
    print(f"reference: {r['reference']}")
    print()
    print(f"| {'computation':<38} | {'seconds':>8} | {'/ matmul':>8} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 10}|")
    rows = [
        (f"matmul reference ({r['reference_gflops']:.0f} GFLOP/s)", r["reference_seconds"], 1.0),
        ("theory.normalized_margin", r["normalized_margin_seconds"], r["ratio_normalized_margin"]),
        ("theory.margin_report", r["margin_report_seconds"], r["ratio_margin_report"]),
    ]
    for name, seconds, ratio in rows:
        print(f"| {name:<38} | {seconds:>8.2f} | {ratio:>8.2f} |")
    print()
    ok = "met" if r["time_target_met"] else "MISSED"
    print(
        f"time ratio normalized_margin / matmul = {r['ratio_normalized_margin']:.2f} "
        f"(target <= {r['ratio_target']}): {ok}; median of per-run ratios "
        f"{r['ratio_normalized_margin_median_of_runs']:.2f}; CPU-seconds ratio "
        f"{r['ratio_normalized_margin_cpu_seconds']:.2f}"
    )
    peak = r["peak_memory_bytes"]
    ok = "met" if r["memory_target_met"] else "MISSED"
    if peak is None:
        print("peak memory: not measurable here (needs Linux /proc)")
    else:
        print(
            f"peak memory of normalized_margin = {peak / mib:.0f} MiB "
            f"(target <= {r['memory_target_bytes'] / 2**30:.1f} GiB): {ok}; whole process "
            f"{r['peak_rss_bytes'] / mib:.0f} MiB; numpy allocations (tracemalloc) "
            f"{r['tracemalloc_peak_bytes'] / mib:.0f} MiB"
        )
    print(f"memory: {r['memory_method']}")
    print(
        f"check: normalized margin {r['normalized_margin']:.10e}, relative error vs gamma* "
        f"{r['relative_error_vs_gamma_star']:.1e}, all correct {r['all_correct']}, "
        f"all on the margin {r['all_on_margin']}"
    )
    machine = r["machine"]
    blas = ", ".join(f"{b['internal_api']} {b['version']}" for b in machine["blas"])
    load = " ".join(f"{x:.1f}" for x in machine["load_average"] or [])
    print(
        f"machine: {machine['cpus']} CPUs, {machine['processor']}, numpy {machine['numpy']}, "
        f"BLAS libraries loaded: {blas}; load average {load} (1, 5, 15 min)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--p", type=int, default=97, help="modulus (default 97, the paper's)")
    parser.add_argument("--k", type=int, default=3, help="summands (default 3, the paper's)")
    parser.add_argument("--design", default="paper", help="paper (default), grid3 or lattice")
    parser.add_argument("--repeats", type=int, default=3, help="interleaved runs (default 3)")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, *rest = args.worker
        if kind == "matmul":
            p, k, m = map(int, rest)
            print(json.dumps(worker_matmul(p, k, m)))
        else:
            p, k = int(rest[0]), int(rest[1])
            print(json.dumps(worker_margin(p, k, rest[2], rest[3] == "1")))
        return 0
    result = measure(args.p, args.k, args.design, args.repeats)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print_table(result)
    return 0 if result["time_target_met"] and result["memory_target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
