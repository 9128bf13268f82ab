"""One import package, `fourier_circuits`, that users' own folders cannot shadow, and a command line
that loads only what the subcommand needs (issue 12; DESIGN.md, "Layout")."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import fourier_circuits

ROOT = Path(__file__).resolve().parent.parent
CLI = str(Path(sys.executable).with_name("fourier-circuits"))

#: What `main(argv)` leaves in sys.modules, printed as a JSON list by a fresh interpreter.
_PROBE = """
import contextlib, io, json, sys
from fourier_circuits.experiments.cli import main
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    try:
        code = main(sys.argv[1:])
    except SystemExit as done:  # --help exits through argparse
        code = done.code
print(json.dumps([code, sorted(m.split(".")[0] for m in sys.modules)]))
"""


def _loaded(argv: list[str], cwd: Path) -> tuple[int, set[str]]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv], capture_output=True, text=True, cwd=cwd
    )
    assert done.returncode == 0, done.stderr
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    return code, set(modules)


def test_version_comes_from_the_distribution() -> None:
    assert fourier_circuits.__version__ == metadata.version("fourier-circuits")


@pytest.mark.parametrize(
    "argv",
    [
        ["theory", "--p", "7", "--k", "3", "--json"],
        ["construct", "--p", "5", "--k", "3", "--json"],
        ["inspect", "NET", "--json"],
        ["--help"],
        ["theory", "--help"],
        ["sweep", "--help"],
    ],
    ids=lambda argv: " ".join(argv),
)
def test_light_subcommands_load_neither_torch_nor_cvxpy(argv: list[str], tmp_path: Path) -> None:
    """Closed forms, constructions and inspecting a saved network need no training library and
    no convex solver; `--help` loads no subcommand."""
    net = tmp_path / "net.npz"
    subprocess.run(
        [CLI, "construct", "--p", "5", "--k", "3", "--save", str(net)],
        check=True,
        capture_output=True,
    )
    code, modules = _loaded([str(net) if word == "NET" else word for word in argv], tmp_path)
    assert code == 0
    assert not modules & {"torch", "cvxpy", "highspy", "clarabel", "scs"}, modules


def test_heavy_subcommands_still_load_what_they_need(tmp_path: Path) -> None:
    """Negative control for the probe above: a subcommand that trains does load torch."""
    _, modules = _loaded(["train", "--p", "5", "--k", "2", "--steps", "2", "--json"], tmp_path)
    assert "torch" in modules


def _users_folders(tmp_path: Path) -> Path:
    """A researcher's project with its own `theory/`, `experiments/` and `constructions/`."""
    for name in ("theory", "experiments", "constructions"):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "__init__.py").write_text(f"raise ImportError('the user\\'s own {name}')\n")
        (folder / "cli.py").write_text("raise SystemExit('the user\\'s cli')\n")
    return tmp_path


def test_users_folders_named_theory_and_experiments_shadow_nothing(tmp_path: Path) -> None:
    project = _users_folders(tmp_path)
    done = subprocess.run(
        [CLI, "theory", "--p", "7", "--k", "3", "--json"],
        capture_output=True,
        text=True,
        cwd=project,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gamma_star_exact"] == "1/224"
    # the current directory is first on sys.path for `python -c`: the user's folders are there
    code = (
        "import fourier_circuits.theory as t, fourier_circuits.experiments.cli as c;"
        "print(t.gamma_star_exact(7, 3), c.PROG)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1/224", "fourier-circuits"]


def test_the_bare_folder_names_are_not_installed(tmp_path: Path) -> None:
    """Negative control: outside the checkout, `import theory` finds nothing of ours."""
    for name in ("theory", "constructions", "experiments"):
        done = subprocess.run(
            [sys.executable, "-c", f"import {name}"], capture_output=True, text=True, cwd=tmp_path
        )
        assert done.returncode != 0 and "ModuleNotFoundError" in done.stderr, (name, done.stderr)


def _setuptools_is_recent() -> bool:
    try:
        return int(metadata.version("setuptools").split(".")[0]) >= 77
    except metadata.PackageNotFoundError:
        return False


@pytest.mark.slow
def test_a_built_wheel_holds_one_top_level_package(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path)]
    if _setuptools_is_recent():  # build offline with the installed backend
        argv.append("--no-build-isolation")
    # a copy of the sources: an in-tree build would reuse (and ship) a stale build/ directory
    source = tmp_path / "source"
    shutil.copytree(
        ROOT,
        source,
        symlinks=True,  # fourier_circuits/'s links to the layer folders stay links
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "dist", "site", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    done = subprocess.run([*argv, str(source)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("fourier_circuits-*.whl")
    assert "fourier_circuits/experiments/summary.py" not in zipfile.ZipFile(wheel).namelist()
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top == {"fourier_circuits"}, top
    for module in (
        "fourier_circuits/__init__.py",
        "fourier_circuits/py.typed",
        "fourier_circuits/testing.py",
        "fourier_circuits/theory/network.py",
        "fourier_circuits/constructions/convex/lp.py",
        "fourier_circuits/experiments/cli.py",
        "fourier_circuits/experiments/verify/runner.py",
    ):
        assert module in names, module
    entry = zipfile.ZipFile(wheel).read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    )
    assert b"fourier-circuits = fourier_circuits.experiments.cli:main" in entry
