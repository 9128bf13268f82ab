"""Start-up time of the command line (issue 12's target), and what each light subcommand imports.

    .venv/bin/python benchmarks/bench_startup.py            # 15 interleaved rounds
    .venv/bin/python benchmarks/bench_startup.py --rounds 30 --json

Each round runs, in fresh child processes and in this order,
  1. the reference `python -c "import numpy, sympy"` (what any closed form needs),
  2. `fourier-circuits theory --p 7 --k 3 --json`,
  3. `fourier-circuits inspect NET.npz --json` of the paper's network at (7, 3),
so machine load hits every side alike (interleaved, not one block after another). Printed: the
median and fastest wall time of each, and the ratios of the medians to the reference. Target:
theory / reference <= 1.5. Then, once each, the modules `theory`, `construct`, `inspect` and
`--help` leave loaded (`sys.modules` after `main`): torch and cvxpy must be absent from all four.
Exit status 0 when the target is met and no light subcommand loads torch or cvxpy, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: Issue 12: `theory --p 7 --k 3 --json` within this multiple of `import numpy, sympy`.
TARGET_RATIO = 1.5
#: Libraries that only training (torch) or a convex program (cvxpy, highspy) may load.
HEAVY = ("torch", "cvxpy", "highspy", "matplotlib")
#: Of those, the ones a light subcommand must never load (matplotlib: only inspect --out).
FORBIDDEN = ("torch", "cvxpy", "highspy")

_PROBE = """
import contextlib, io, json, sys
from fourier_circuits.experiments.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
print(json.dumps([m for m in %r if m in sys.modules]))
"""


def timed(argv: list[str]) -> float:
    """Wall seconds of one child process (its output discarded); it must exit 0."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def loaded(argv: list[str]) -> list[str]:
    """The heavy libraries that `fourier-circuits ARGV` leaves in sys.modules."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE % (HEAVY,), *argv],
        check=True,
        capture_output=True,
        text=True,
    )
    return list(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="interleaved rounds (default 15)")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    cli = str(Path(sys.executable).with_name("fourier-circuits"))
    with tempfile.TemporaryDirectory() as scratch:
        net = os.path.join(scratch, "net.npz")
        subprocess.run(
            [cli, "construct", "--p", "7", "--k", "3", "--save", net, "--json"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        sides = {
            "reference": [sys.executable, "-c", "import numpy, sympy"],
            "theory": [cli, "theory", "--p", "7", "--k", "3", "--json"],
            "inspect": [cli, "inspect", net, "--json"],
        }
        for argv in sides.values():  # warm the file cache once, untimed
            timed(argv)
        seconds: dict[str, list[float]] = {name: [] for name in sides}
        load = os.getloadavg()
        for _ in range(args.rounds):
            for name, argv in sides.items():
                seconds[name].append(timed(argv))
        imports = {
            " ".join(argv): loaded(argv)
            for argv in (
                ["theory", "--p", "7", "--k", "3"],
                ["construct", "--p", "7", "--k", "3"],
                ["inspect", net],
                ["--help"],
            )
        }
    median = {name: statistics.median(values) for name, values in seconds.items()}
    ratio = {name: median[name] / median["reference"] for name in sides if name != "reference"}
    light = all(not set(mods) & set(FORBIDDEN) for mods in imports.values())
    ok = ratio["theory"] <= TARGET_RATIO and light
    result = {
        "rounds": args.rounds,
        "load_average": load,
        "median_seconds": median,
        "fastest_seconds": {name: min(values) for name, values in seconds.items()},
        "ratio_to_reference": ratio,
        "target_ratio_theory": TARGET_RATIO,
        "heavy_modules_loaded": imports,
        "ok": ok,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.rounds} interleaved rounds, load average {load[0]:.1f}")
        for name in sides:
            extra = f"  ratio {ratio[name]:.2f}" if name in ratio else ""
            print(
                f"{name:<10} median {median[name]:.3f} s  fastest {min(seconds[name]):.3f} s{extra}"
            )
        print(f"target: theory / reference <= {TARGET_RATIO}: {'met' if ok else 'NOT met'}")
        for argv, mods in imports.items():
            print(f"fourier-circuits {argv}: loads {', '.join(mods) or 'none of ' + str(HEAVY)}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
