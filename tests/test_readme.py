"""README.md stays true: its Python example runs, and .ci/run runs README's test command."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    section = README.split("## Run the tests", 1)[1].split("##", 1)[0]
    commands = [line.strip() for line in section.splitlines() if line.startswith("    ")]
    assert len(commands) == 2, commands
    setup, test = commands
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci, f"{test!r} is not a line of .ci/run"
    for step in setup.split(" && ")[1:]:  # after the venv is created
        assert any(step in line for line in ci), f"{step!r} missing from .ci/run"


def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README.md has no Python example"
    monkeypatch.chdir(tmp_path)  # the example writes mine.npz
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "mine.npz").is_file()


def test_readme_command_line_tour_parses() -> None:
    """Every `fourier-circuits ...` line of README's tour names a real subcommand with real flags
    (parsed only: running them is the other tests' job)."""
    import shlex

    from fourier_circuits.experiments.cli import build_parser

    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    lines = [line.strip() for line in section.splitlines() if line.startswith("    fourier-")]
    assert len(lines) >= 8, lines
    parser = build_parser()
    for line in lines:
        argv = shlex.split(line.split("#", 1)[0])[1:]
        try:
            parser.parse_args(argv)
        except SystemExit as err:  # argparse's way of refusing
            pytest.fail(f"README line {line!r} does not parse (exit {err.code})")
