"""The files `inspect` reads, and a checkpoint series as curves (the "progress measures" view).

- ``network_files(paths)``: each FILE as given; a directory stands for its network files
  (NETWORK_SUFFIXES), in natural order ("step_10" after "step_9");
- ``series_of(entries)``: when the files are one model at several steps (names that differ only
  in their numbers, or a "step"/"epoch" in their metadata, the same p and k), the measurements
  against the step; ``save_series_figure`` draws them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fourier_circuits.theory import FourierCircuitsError
from fourier_circuits.theory.network_file import require_regular_file

#: What a directory's network files end in.
NETWORK_SUFFIXES = (".npz", ".pt", ".pth", ".safetensors", ".ckpt", ".bin")
#: The measurements a series plots, in order, when its files have them.
SERIES_KEYS = (
    "margin_ratio",
    "max_normalized_power_median",
    "frequencies_covered",
    "accuracy",
    "neuron_single_frequency_fraction",
    "logit_variance_explained_by_key_frequencies",
)
#: Most files one `inspect` reads (a directory of more is refused: name a subset).
MAX_FILES = 10_000

_NUMBER = re.compile(r"\d+")


def natural_key(path: Path) -> list[Any]:
    """Sort key: numbers by value."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def network_files(paths: Sequence[str | os.PathLike[str]]) -> list[Path]:
    """The files to inspect (module docstring); a missing path or a directory without network
    files is refused (FourierCircuitsError) before any is read."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if os.fspath(given) != "" and path.is_dir():
            found = sorted(
                (
                    child
                    for child in path.iterdir()
                    if child.is_file()
                    and not child.name.startswith(".")
                    and child.suffix.lower() in NETWORK_SUFFIXES
                ),
                key=natural_key,
            )
            if not found:
                raise FourierCircuitsError(
                    f"cannot read {str(path)!r}: it is a directory with no network files "
                    f"(names ending {', '.join(NETWORK_SUFFIXES)})"
                )
            files.extend(found)
        else:
            files.append(require_regular_file(given, where=f"cannot read {os.fspath(given)!r}"))
        if len(files) > MAX_FILES:
            raise FourierCircuitsError(
                f"more than {MAX_FILES} files to inspect; name a subset (one directory at a time)"
            )
    return files


def _step(entry: dict[str, Any], path: Path) -> int | None:
    """The training step of one file: its metadata's "step"/"epoch", else the last number in
    its name."""
    meta = entry.get("file_metadata") or entry.get("meta") or {}
    if isinstance(meta, dict):
        for key in ("step", "global_step", "epoch"):
            value = meta.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, str) and value.isdigit():
                return int(value)
    numbers = _NUMBER.findall(path.stem)
    return int(numbers[-1]) if numbers else None


def series_of(entries: list[dict[str, Any]], files: list[Path]) -> dict[str, Any] | None:
    """The measurements against the step when the files are one model over training (module
    docstring), sorted by step; None when they are not a series."""
    if len(entries) < 2:
        return None
    templates = {_NUMBER.sub("#", path.name) for path in files}
    steps = [_step(entry, path) for entry, path in zip(entries, files, strict=True)]
    sizes = {(entry.get("p"), entry.get("k")) for entry in entries}
    if len(templates) != 1 or None in steps or len(set(steps)) != len(steps) or len(sizes) != 1:
        return None
    order = sorted(range(len(entries)), key=lambda i: steps[i] or 0)
    series: dict[str, Any] = {
        "steps": [steps[i] for i in order],
        "files": [str(files[i]) for i in order],
    }
    for key in SERIES_KEYS:
        values = [entries[i].get(key) for i in order]
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            series[key] = values
    return series


def save_series_figure(series: dict[str, Any], target: Path) -> Path:
    """One panel per measurement of the series against the step, written atomically."""
    from matplotlib.figure import Figure

    from fourier_circuits.experiments.plots import save_figure  # matplotlib, Agg

    keys = [key for key in SERIES_KEYS if key in series]
    fig = Figure(figsize=(4.0 * max(len(keys), 1), 3.2), layout="constrained")
    axes = fig.subplots(1, max(len(keys), 1), squeeze=False)[0]
    for ax, key in zip(axes, keys, strict=False):
        ax.plot(series["steps"], series[key], marker="o", markersize=3)
        ax.set_xlabel("step")
        ax.set_title(key.replace("_", " "), fontsize=9)
        ax.grid(alpha=0.3)
    return save_figure(fig, target)
