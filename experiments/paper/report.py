"""What `fourier-circuits paper` writes: report.md (per experiment: the paper's claim, the
settings, what was measured, the figures and the verdict) and results.json (every number)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fourier_circuits.experiments.paper.common import REPRODUCED, ExperimentResult
from fourier_circuits.experiments.progress import duration


def results(found: Sequence[ExperimentResult], meta: dict[str, Any]) -> dict[str, Any]:
    """results.json: every experiment's entry (ExperimentResult.as_dict) and the provenance."""
    return {"experiments": [r.as_dict() for r in found], **meta}


def _setting(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k} {_setting(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_setting, value))
    return str(value)


def _accuracy(value: float) -> str:
    return f"{value:.4f}"


def markdown(found: Sequence[ExperimentResult], meta: dict[str, Any]) -> str:
    """report.md: a summary table, one section per experiment, the provenance."""
    lines = [
        "# fourier-circuits paper: the experiments of arXiv 2402.09469 at its settings",
        "",
        f"Command: `{meta['command']}` (seed {meta['seed']}, device {meta['device']}"
        f"{', quick: scaled-down problems' if meta['quick'] else ''}), started "
        f"{meta['started']} UTC, {duration(meta['seconds'])} in this session.",
        "",
        "| experiment | steps | time | train acc. | test acc. | verdict |",
        "|---|---|---|---|---|---|",
    ]
    for r in found:
        lines.append(
            f"| [{r.name}](#{r.name}) | {r.steps} | {duration(r.seconds)} | "
            f"{_accuracy(r.train_accuracy)} | {_accuracy(r.test_accuracy)} | "
            f"{'**' + r.verdict + '**' if r.verdict != REPRODUCED else r.verdict} |"
        )
    for r in found:
        lines += [
            "",
            f"## {r.name}",
            "",
            f"**The paper's claim.** {r.claim}",
            "",
            "**Settings.** "
            + "; ".join(f"{key} {_setting(value)}" for key, value in r.settings.items())
            + ".",
            "",
            f"**Trained** {r.steps} steps in {duration(r.seconds)}: train accuracy "
            f"{_accuracy(r.train_accuracy)}, test accuracy {_accuracy(r.test_accuracy)}.",
            "",
            r.report.rstrip(),
            "",
        ]
        for path, caption in r.figures:
            lines += [f"![{caption}]({path})", "", f"*{caption}*", ""]
        lines += [f"**Verdict: {r.verdict}.** {r.verdict_reason}."]
    versions = ", ".join(f"{name} {version}" for name, version in meta["versions"].items())
    lines += ["", "## Provenance", "", f"Versions: {versions}.", ""]
    return "\n".join(lines)
