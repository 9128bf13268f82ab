"""Benchmark of `fourier-circuits solve` against the targets of issue 3.

Targets: relative gap <= 1e-6 between the column-generation lower bound and the SDP/SOS
certificate for (p, k) = (5,2), (7,2), (11,2) (k = 2 SDP) and (5,3), (7,3) (k = 3 SOS), each
< 60 s, (11, 3) < 300 s; the reduced master with the symmetric-q bound within 1e-6 for p up to
101 and k up to 5, each < 60 s. `seconds` is the whole solve (column generation, every bound).
Run: .venv/bin/python benchmarks/bench_convex.py [--quick]  (prints a Markdown table; note the
load average beside it: the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CASES = [
    (5, 2),
    (7, 2),
    (11, 2),
    (5, 3),
    (7, 3),
    (11, 3),
    (31, 2),
    (101, 2),
    (101, 3),
    (23, 4),
    (47, 4),
    (17, 5),
    (23, 5),
    (101, 4),
    (101, 5),
]
#: Cases whose target is met only by the SDP (k = 2) or SOS (k = 3) certificate's own gap.
SDP_CASES = {(5, 2), (7, 2), (11, 2), (5, 3), (7, 3), (11, 3)}
QUICK = [(5, 2), (7, 3), (101, 3)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    print(
        "| p | k | lower bound | upper bound | gap (best rigorous) | gap (SDP/SOS) | seconds "
        "| limit | met | load |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for p, k in QUICK if args.quick else CASES:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "fourier_circuits.experiments.cli",
                "solve",
                "--p",
                str(p),
                "--k",
                str(k),
                "--json",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode == 2:
            print(f"| {p} | {k} | failed: {done.stderr.strip()} | | | | | | no | |")
            continue
        d = json.loads(done.stdout)
        limit = 300 if (p, k) == (11, 3) else 60
        met = d["relative_gap"] <= 1e-6 and d["seconds"] <= limit
        sdp = [b["value"] for b in d["upper_bounds"] if b["method"].startswith(("SDP", "SOS"))]
        sdp_gap = f"{(sdp[0] - d['lower_bound']) / sdp[0]:.2e}" if sdp else "-"
        if sdp and (p, k) in SDP_CASES:
            met = met and (sdp[0] - d["lower_bound"]) / sdp[0] <= 1e-6
        print(
            f"| {p} | {k} | {d['lower_bound']:.10g} | {d['upper_bound']:.10g} | "
            f"{d['relative_gap']:.2e} | {sdp_gap} | {d['seconds']:.1f} | {limit} | "
            f"{'yes' if met else 'no'} | {os.getloadavg()[0]:.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
