"""What `fourier-circuits verify` writes: report.md (per claim: the claim, how it was checked, the
numbers, holds or fails), results.json (every number) and the gamma* figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from matplotlib.figure import Figure

from fourier_circuits.experiments.outcome import fmt
from fourier_circuits.experiments.verify.claims import CLAIMS, Check
from fourier_circuits.theory import gamma_star

ROUTES = ("symbolic", "constructive", "convex", "empirical", "control")


def verdicts(checks: Sequence[Check]) -> dict[str, bool]:
    """Each claim holds when it has at least one check and every check holds."""
    found: dict[str, bool] = {}
    for claim in CLAIMS:
        mine = [c for c in checks if c.claim == claim.id]
        if mine:
            found[claim.id] = all(c.holds for c in mine)
    return found


def failed_claims(checks: Sequence[Check]) -> list[str]:
    """'claim: subject (why)' for every failed check, in claim order."""
    order = {claim.id: i for i, claim in enumerate(CLAIMS)}
    failed = sorted((c for c in checks if not c.holds), key=lambda c: order.get(c.claim, 99))
    return [f"{c.claim}: {c.subject} ({c.why})" for c in failed]


def results(checks: Sequence[Check], meta: dict[str, Any]) -> dict[str, Any]:
    """results.json: the verdicts, every check with every number, and the provenance."""
    found = verdicts(checks)
    return {
        "ok": all(found.values()) and bool(found),
        "claims": [
            {**asdict(claim), "holds": found[claim.id]} for claim in CLAIMS if claim.id in found
        ],
        "failed": failed_claims(checks),
        "checks": [{k: v for k, v in asdict(c).items() if k != "shown"} for c in checks],
        **meta,
    }


def _cell(value: Any) -> str:
    if isinstance(value, float) and (value == 0 or 1e-4 <= abs(value) < 1e6):
        return f"{value:.10g}"
    if isinstance(value, float):
        return f"{value:.3e}"
    return fmt(value).replace("|", "\\|")


def _numbers(check: Check) -> str:
    keys = check.shown or tuple(check.numbers)
    return "; ".join(f"{key} = {_cell(check.numbers.get(key))}" for key in keys)


def markdown(
    checks: Sequence[Check], meta: dict[str, Any], figures: Sequence[tuple[str, str]]
) -> str:
    """report.md: a summary table, then one section per claim, the figures and the provenance."""
    found = verdicts(checks)
    ok = all(found.values()) and bool(found)
    lines = [
        "# fourier-circuits verify: arXiv 2402.09469, checked",
        "",
        (
            f"**All {len(found)} claims held** ({len(checks)} checks)."
            if ok
            else f"**FAILED: {', '.join(c for c, held in found.items() if not held)}** "
            f"({sum(not c.holds for c in checks)} of {len(checks)} checks failed)."
        ),
        "",
        f"Command: `{meta['command']}`; seed {meta['seed']}; plan `{meta['plan_name']}`; "
        f"{meta['seconds']:.0f} s.",
        "",
        "| claim | source | routes | checks | holds |",
        "|---|---|---|---|---|",
    ]
    for claim in CLAIMS:
        if claim.id not in found:
            continue
        mine = [c for c in checks if c.claim == claim.id]
        routes = ", ".join(r for r in ROUTES if any(c.route == r for c in mine))
        lines.append(
            f"| [{claim.title}](#{claim.id}) | {claim.source} | {routes} | {len(mine)} | "
            f"{'yes' if found[claim.id] else '**NO**'} |"
        )
    for claim in CLAIMS:
        if claim.id not in found:
            continue
        mine = [c for c in checks if c.claim == claim.id]
        lines += [
            "",
            f'<a id="{claim.id}"></a>',
            f"## {claim.title}: {'holds' if found[claim.id] else 'FAILS'}",
            "",
            f"**Claim** ({claim.source}). {claim.statement}",
            "",
            f"**How it was checked.** {claim.how}",
            "",
            "| route | subject | numbers | seconds | holds |",
            "|---|---|---|---|---|",
        ]
        for c in mine:
            verdict = "yes" if c.holds else f"**NO**: {c.why}"
            lines.append(
                f"| {c.route} | {c.subject} | {_numbers(c)} | {c.seconds:.2f} | {verdict} |"
            )
        commands = sorted({c.command for c in mine if c.command.startswith("fourier-circuits")})
        if commands:
            lines += ["", "Reproduce: " + ", ".join(f"`{cmd}`" for cmd in commands[:6])]
    if figures:
        lines += ["", "## Figures", ""]
        for name, caption in figures:
            lines += [f"![{caption}](figures/{name})", "", f"*{caption}*", ""]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items())
    lines += [
        "",
        "## Provenance",
        "",
        f"- command line: `{meta['command']}`",
        f"- started (UTC): {meta['started']}",
        f"- versions: {versions}",
        "- every number: `results.json`",
        "",
    ]
    return "\n".join(lines)


def gamma_star_figure(checks: Sequence[Check]) -> Figure | None:
    """gamma*(p, k) from the closed form (lines) beside the values computed by each route
    (markers): the construction by brute force and in exact arithmetic, the convex bracket, and
    trained networks. None when no check measured a margin."""
    points: dict[str, list[tuple[int, int, float]]] = {}

    def add(label: str, p: int, k: int, value: Any) -> None:
        if isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
            points.setdefault(label, []).append((p, k, float(value)))

    for c in checks:
        if c.p is None or c.k is None or not c.numbers:
            continue
        p, k = c.p, c.k
        if c.claim == "max_margin" and c.route == "constructive":
            add("construction, brute force", p, k, c.numbers.get("normalized_margin"))
        if c.claim == "max_margin" and c.route == "convex":
            add("convex lower bound", p, k, c.numbers.get("lower_bound"))
            add("convex upper bound", p, k, c.numbers.get("upper_bound"))
        if c.claim == "training":
            ratio = c.numbers.get("margin_ratio")
            if isinstance(ratio, float):
                add("trained", p, k, ratio * gamma_star(p, k))
    if not points:
        return None
    ks = sorted({k for pts in points.values() for _, k, _ in pts})
    fig = Figure(figsize=(7.0, 4.8))
    ax = fig.add_subplot()
    colors = {k: f"C{i}" for i, k in enumerate(ks)}
    for k in ks:
        top = max(p for pts in points.values() for p, kk, _ in pts if kk == k)
        ps = list(range(3, max(top, 5) + 1, 2))
        ax.plot(ps, [gamma_star(p, k) for p in ps], color=colors[k], lw=1, label=f"gamma*(p, {k})")
    markers = {
        "construction, brute force": ("o", 7),
        "convex lower bound": ("^", 8),
        "convex upper bound": ("v", 8),
        "trained": ("x", 8),
    }
    for label, pts in points.items():
        marker, size = markers[label]
        for i, (p, k, value) in enumerate(pts):
            ax.plot(
                p,
                value,
                marker=marker,
                ms=size,
                ls="none",
                mfc="none",
                color=colors[k],
                label=label if i == 0 else None,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("p")
    ax.set_ylabel("maximum normalized margin")
    ax.set_title("gamma*(p, k): closed form (lines) and computed by each route (markers)")
    ax.legend(fontsize=7, ncols=2)
    fig.tight_layout()
    return fig
