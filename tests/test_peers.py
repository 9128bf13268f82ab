"""The peer constructions of the literature (constructions.peers): each network against an
independent computation (naive one-hot evaluation, margins by sorting, the weights written out
from the papers' formulas), cogo6 = lattice, cogo4 neither accurate nor max-margin, seeded
reproducibility, the comparison and its figure, and construct's new flags with hostile inputs."""

from __future__ import annotations

import cmath
import json
import math
from pathlib import Path

import numpy as np
import pytest
from naive import lexicographic_inputs, naive_logits, naive_margins, naive_norm

from fourier_circuits.constructions import construct, get_design, unwanted_characters
from fourier_circuits.constructions.designs import PhaseDesign
from fourier_circuits.constructions.min_width import clique_lower_bound
from fourier_circuits.constructions.peers import (
    PEERS,
    build_peer,
    cogo_components,
    cogo_design,
    cogo_phases,
    gromov_network,
    morwani_dense_network,
)
from fourier_circuits.constructions.peers_check import _own_failures, check_peer, measure_network
from fourier_circuits.constructions.peers_compare import compare_peers
from fourier_circuits.experiments.cli import main
from fourier_circuits.theory import FourierCircuitsError, PolyNet, gamma_star

# construct's JSON keys (DESIGN.md), which every peer prints too
CONSTRUCT_KEYS = {
    "p",
    "k",
    "width",
    "normalized_margin",
    "gamma_star",
    "relative_error",
    "all_correct",
    "frequencies_covered",
}


def naive_measure(net: PolyNet) -> tuple[float, float]:
    """(accuracy, normalized margin / gamma*) from the definitions (tests/naive.py)."""
    inputs = lexicographic_inputs(net.p, net.k)
    g, _ = naive_margins(naive_logits(net, inputs), inputs.sum(axis=1) % net.p)
    ratio = g.min() / naive_norm(net) ** (net.k + 1) / gamma_star(net.p, net.k)
    return float(np.mean(g > 0)), float(ratio)


@pytest.mark.parametrize(("p", "k", "width", "seed"), [(11, 2, 23, 5), (7, 3, 40, 1)])
def test_gromov_is_the_papers_random_phase_network(p: int, k: int, width: int, seed: int) -> None:
    net = gromov_network(p, k, width=width, seed=seed)
    # the weights written out from Gromov's / Doshi et al.'s formula, neuron by neuron
    phases = np.random.default_rng(seed).uniform(0, 2 * np.pi, size=(width, k))
    h = (p - 1) // 2
    a = np.arange(p)
    scale = math.sqrt(2 / ((k + 1) * p)) * width ** (-1 / (k + 1))
    for i in range(width):
        zeta = 1 + i % h
        for j in range(k):
            expected = scale * np.cos(2 * np.pi * zeta * a / p + phases[i, j])
            np.testing.assert_allclose(net.U[i, j], expected, atol=1e-15)
        w = scale * np.cos(2 * np.pi * zeta * a / p + phases[i].sum())
        np.testing.assert_allclose(net.W[i], w, atol=1e-15)
    check = check_peer(p, k, "gromov", width=width, seed=seed)
    accuracy, ratio = naive_measure(net)
    assert check.accuracy == pytest.approx(accuracy, abs=0)
    assert check.margin_ratio == pytest.approx(ratio, rel=1e-9)
    assert check.holds and check.claim == "measured"
    # width 23 is not a multiple of 5 frequencies: counts 5, 5, 5, 4, 4 (spread evenly)
    counts = check.measurement.per_frequency_counts[1:]
    assert sum(counts) == width and max(counts) - min(counts) <= 1


def test_gromov_is_reproducible_from_its_seed() -> None:
    one, again = gromov_network(11, 2, width=30, seed=3), gromov_network(11, 2, width=30, seed=3)
    np.testing.assert_array_equal(one.U, again.U)
    np.testing.assert_array_equal(one.W, again.W)
    other = gromov_network(11, 2, width=30, seed=4)
    assert not np.allclose(one.U, other.U)
    assert build_peer(11, 2, "gromov", width=30).meta["seed"] == 0  # the default seed


def test_gromov_approaches_gamma_star_only_as_the_width_grows() -> None:
    ratios = [check_peer(13, 2, "gromov", width=w, seed=0).margin_ratio for w in (6, 60, 600)]
    assert ratios[0] < ratios[1] < ratios[2] < 1


def test_cogo6_is_the_lattice_design() -> None:
    """Tian's order-6 solution (nu = e^{i pi/3}) has exactly the lattice's phase points, so the
    networks are the same neurons and have the same normalized margin, gamma*."""
    lattice, cogo6 = get_design("lattice", 2), cogo_design(6)
    assert (cogo6.N, sorted(cogo6.points)) == (lattice.N, sorted(lattice.points))
    a, b = construct(13, 2, lattice), build_peer(13, 2, "cogo6")
    rows = lambda net: sorted(map(tuple, np.round(np.c_[net.U.reshape(net.m, -1), net.W], 14)))  # noqa: E731
    assert rows(a) == rows(b)
    check = check_peer(13, 2, "cogo6")
    assert check.holds and check.claim == "max_margin"
    assert check.margin_ratio == pytest.approx(1.0, abs=1e-12)
    assert naive_measure(b) == pytest.approx((1.0, 1.0), abs=1e-12)


@pytest.mark.parametrize("angle", [0.0, 0.3, math.pi / 2, 2.0])
def test_every_cogo6_nu_of_modulus_one_reaches_gamma_star(angle: float) -> None:
    """Beyond the issue: z_nu * z_syn kills every unwanted character for every |nu| = 1."""
    phi = cogo_phases(cogo_components(6, nu=cmath.exp(1j * angle)))
    v = np.array(unwanted_characters(2))
    assert np.abs(np.exp(1j * phi @ v.T).mean(axis=0)).max() < 1e-12


def test_cogo_components_refuse_a_broken_phase_sum() -> None:
    """Negative control: a column with a b c != 1 breaks phi_w = phi_1 + phi_2."""
    F = cogo_components(4)
    F[2, 1] *= 1j
    with pytest.raises(FourierCircuitsError, match="a b c = 1"):
        cogo_phases(F)


@pytest.mark.parametrize("p", [11, 13, 31])
def test_cogo4_is_half_accurate_and_below_gamma_star(p: int) -> None:
    check = check_peer(p, 2, "cogo4")
    accuracy, ratio = naive_measure(check.network)  # type: ignore[arg-type]
    assert check.accuracy == accuracy == (p + 1) / (2 * p)  # about 50%
    assert check.margin_ratio == pytest.approx(ratio, rel=1e-9) and ratio < 0 < 1
    assert check.holds  # the build has its defining property; being measured, it is not failed


def test_cogo4_leaves_a_class_dependent_term() -> None:
    """The order-4 design leaves the characters +-(1, 1) (the terms |a|^2 c + |b|^2 c), so the
    logits are a function of y - c plus a term depending on the class c alone."""
    phi = cogo_phases(cogo_components(4))
    v = np.array(unwanted_characters(2))
    averages = np.abs(np.exp(1j * phi @ v.T).mean(axis=0))
    surviving = {tuple(x) for x, s in zip(v, averages, strict=True) if s > 1e-9}
    assert surviving == {(1, 1), (-1, -1)}
    net = build_peer(11, 2, "cogo4")
    inputs = lexicographic_inputs(11, 2)
    f = naive_logits(net, inputs)
    d = (inputs.sum(axis=1)[:, None] - np.arange(11)[None, :]) % 11  # y - c
    wanted = np.array([f[d == j].mean() for j in range(11)])[d]
    rest = f - wanted
    assert np.allclose(rest, rest[0][None, :], atol=1e-15)  # the same for every input
    assert np.ptp(rest[0]) > 0.1 * np.ptp(wanted)  # and it depends on the class


def test_the_cogo4_mse_optimum_cannot_reach_gamma_star() -> None:
    """k = 2 needs 6 neurons per frequency (the clique bound, docs/min-width.md); 4 is below it,
    whatever the phases (xi), and the measured margin is negative."""
    assert clique_lower_bound(2).value == 6 > cogo_design(4).size == 4
    for xi in (cmath.exp(0.25j * math.pi), cmath.exp(1j)):
        phi = cogo_phases(cogo_components(4, xi=xi))
        assert len(phi) == 4
    assert check_peer(7, 2, "cogo4").margin_ratio < 1


@pytest.mark.parametrize("p", [5, 11])
def test_morwani_dense_fits_the_data_with_a_dense_spectrum(p: int) -> None:
    net = morwani_dense_network(p)
    assert net.m == 2 * p * p
    inputs = lexicographic_inputs(p, 2)
    f = naive_logits(net, inputs)
    scale3 = (2 * p * p * 3**1.5) ** -1.0  # (per-weight scale)^3
    expected = 4 * scale3 * (np.arange(p)[None, :] == (inputs.sum(axis=1) % p)[:, None])
    np.testing.assert_allclose(f, expected, atol=1e-15)
    check = check_peer(p, 2, "morwani-dense")
    assert check.holds and check.accuracy == 1.0
    assert check.margin_ratio == pytest.approx(math.sqrt(2) * (p - 1) / p**1.5, rel=1e-12)
    assert check.measurement.single_frequency_share == 0.0  # one-hot: a flat spectrum


def test_own_claims_refute_broken_builds() -> None:
    """Negative controls: each peer's defining property is checked, and fails when broken."""
    design = PhaseDesign("bad", 8, cogo_design(4).points)
    broken = construct(11, 2, design, frequencies=[1, 2, 3, 4])  # frequency 5 dropped
    assert "4 neurons at every frequency" in _own_failures("cogo4", measure_network(broken))
    net = gromov_network(11, 2, width=20, seed=0)
    shifted = PolyNet(net.U, np.roll(net.W, 1, axis=1), {})  # phi_w off the phase sum
    assert any("phases add up" in f for f in _own_failures("gromov", measure_network(shifted)))
    dense = morwani_dense_network(5)
    W = dense.W.copy()
    W[0] *= 2
    fails = _own_failures("morwani-dense", measure_network(PolyNet(dense.U, W, {})))
    assert fails and "fits D_p" in fails[0]
    cogo4_as_cogo6 = _own_failures("cogo6", measure_network(build_peer(11, 2, "cogo4")))
    assert any("margin" in f for f in cogo4_as_cogo6)  # judged as a construction, it fails


def test_compare_peers_measures_every_design(tmp_path: Path) -> None:
    table = compare_peers(7, 2, widths=(3, 30), seeds=(0, 1))
    by = {(r.design, r.width, r.seed): r for r in table.rows}
    assert {d for d, _, _ in by} == {"paper", "grid3", "lattice", "comb", "weighted", *PEERS}
    for design in ("paper", "grid3", "lattice", "weighted", "cogo6"):
        row = next(r for r in table.rows if r.design == design)
        assert row.margin_ratio == pytest.approx(1.0, abs=1e-9) and row.accuracy == 1.0
    assert by[("lattice", 18, None)].neurons_per_frequency == 6
    assert by[("cogo4", 12, None)].margin_ratio < 0
    assert by[("gromov", 30, 1)].margin_ratio == pytest.approx(
        check_peer(7, 2, "gromov", width=30, seed=1).margin_ratio, abs=0
    )
    assert "| gromov | measured | 30 |" in table.markdown()
    assert json.loads(json.dumps(table.as_dict()))["rows"]
    from fourier_circuits.experiments.plots_peers import save_peers_figure

    path = save_peers_figure([table], tmp_path / "peers.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(FourierCircuitsError, match="cannot be compared"):
        compare_peers(7, 3, designs=["cogo4"])


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main([*argv, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out) if out.strip() else {}


@pytest.mark.parametrize(
    ("design", "extra"),
    [("gromov", ["--width", "25", "--seed", "2"]), ("cogo4", []), ("morwani-dense", [])],
)
def test_construct_measures_a_peer_and_exits_0(
    capsys: pytest.CaptureFixture[str], design: str, extra: list[str]
) -> None:
    code, data = run_json(capsys, "construct", "--p", "11", "--k", "2", "--design", design, *extra)
    assert code == 0 and data.keys() >= CONSTRUCT_KEYS
    assert data["claim"] == "measured" and "not a construction claimed" in data["note"]
    assert {"accuracy", "margin_ratio", "single_frequency_share"} <= data.keys()


def test_construct_cogo6_keeps_the_designs_claim(capsys: pytest.CaptureFixture[str]) -> None:
    code, data = run_json(capsys, "construct", "--p", "11", "--k", "2", "--design", "cogo6")
    assert code == 0 and data["claim"] == "max_margin" and data["relative_error"] < 1e-12


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--design", "lattice", "--width", "31"], "fixed width 30"),
        (["--design", "cogo4", "--width", "11"], "fixed width 20"),
        (["--design", "paper", "--seed", "1"], "deterministic"),
        (["--design", "morwani-dense", "--seed", "0"], "deterministic"),
        (["--design", "gromov", "--width", "0"], "width=0"),
        (["--design", "gromov", "--seed", "-1"], "seed=-1"),
        (["--design", "gromov", "--width", str(10**13)], "would need about"),
        (["--design", "cogo6", "--exact"], "--exact proves"),
        (["--k", "3", "--design", "cogo4"], "k in [2] only"),
    ],
)
def test_construct_refuses_flags_that_do_not_apply(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    args = ["construct", "--p", "11", *(["--k", "2"] if "--k" not in argv else []), *argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
