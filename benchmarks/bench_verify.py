"""Wall time and peak memory of the main job, `fourier-circuits verify` (issue 6's targets).

    .venv/bin/python benchmarks/bench_verify.py            # --quick, then the default grid
    .venv/bin/python benchmarks/bench_verify.py --plans quick
    .venv/bin/python benchmarks/bench_verify.py --json     # one JSON object on stdout

Each plan runs as its own child process (`fourier-circuits verify [--quick] --out TMP --json`,
exactly what a user runs), so its peak resident memory is the child's own (`os.wait4`), not
this script's. Printed per plan: wall seconds, the target, their ratio (target: <= 1), peak
memory, whether every claim held, and the load average (the machine is shared: a loaded machine
inflates the seconds, never the ratio's meaning). Exit status 0 when every plan met its time
target and held every claim, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Issue 6: the default grid in under 10 minutes on a 2-core machine, --quick in under 2.
TARGET_SECONDS = {"quick": 120.0, "default": 600.0}


def run_plan(plan: str, scratch: Path) -> dict[str, object]:
    """One verify run in a child process: seconds, peak RSS (MiB), its JSON summary."""
    out = scratch / f"report-{plan}"
    argv = [
        sys.executable,
        "-m",
        "fourier_circuits.experiments.cli",
        "verify",
        "--out",
        str(out),
        "--json",
    ]
    argv += ["--quick"] if plan == "quick" else []
    load = os.getloadavg()
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdout is not None
    stdout = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    child.returncode = os.waitstatus_to_exitcode(status)
    summary = json.loads(stdout) if stdout.strip() else {}
    return {
        "plan": plan,
        "seconds": seconds,
        "target_seconds": TARGET_SECONDS[plan],
        "ratio": seconds / TARGET_SECONDS[plan],
        "peak_mib": usage.ru_maxrss / 1024,  # KiB on Linux
        "exit_status": child.returncode,
        "every_claim_held": bool(summary.get("ok")),
        "n_checks": summary.get("n_checks"),
        "load_average_before": [round(x, 2) for x in load],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plans", default="quick,default", help="comma-separated: quick,default")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    plans = args.plans.split(",")
    unknown = [plan for plan in plans if plan not in TARGET_SECONDS]
    if unknown:
        print(f"--plans: unknown {unknown}; choose from {sorted(TARGET_SECONDS)}", file=sys.stderr)
        return 2
    scratch = Path(tempfile.mkdtemp(prefix="bench-verify-"))
    try:
        rows = [run_plan(plan, scratch) for plan in plans]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    met = all(row["ratio"] <= 1 and row["every_claim_held"] for row in rows)  # type: ignore[operator]
    if args.json:
        print(json.dumps({"rows": rows, "targets_met": met}))
    else:
        print("| plan | checks | seconds | target | ratio | peak MiB | every claim held | load |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            print(
                f"| {r['plan']} | {r['n_checks']} | {r['seconds']:.1f} | {r['target_seconds']:.0f}"
                f" | {r['ratio']:.2f} | {r['peak_mib']:.0f} | {r['every_claim_held']} | "
                f"{r['load_average_before']} |"
            )
        print("targets met" if met else "a target was MISSED")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
