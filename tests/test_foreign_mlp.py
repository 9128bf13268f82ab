"""constructions.foreign: PyTorch and safetensors MLPs read as the paper's network, checked against
the torch models' own forward passes and a direct numpy margin; biases folded exactly; exports
round-trip; hostile files (a code-running pickle, a whole nn.Module, an extra layer, forged
headers) refused."""

from __future__ import annotations

import itertools
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file as save_torch
from torch import nn

from fourier_circuits.constructions import construct
from fourier_circuits.constructions.foreign import (
    detect_format,
    load_state_dict,
    mlp_from_state,
    mlp_state,
    state_dict_from_mapping,
)
from fourier_circuits.experiments.export import save_network
from fourier_circuits.theory import FourierCircuitsError, PolyNet, gamma_star, margin_report


class Power(nn.Module):
    def __init__(self, k: int) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x**self.k


class fcn(nn.Module):  # noqa: N801  d-doshi/Grokking utils/models.py, as its users have it
    def __init__(self, in_size: int, h_size: int, out_size: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_size, h_size, bias=False)
        self.fc2 = nn.Linear(h_size, out_size, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.fc1(x.flatten(1)) ** 2)


def all_inputs(p: int, k: int) -> np.ndarray:
    return np.array(list(itertools.product(range(p), repeat=k)))


def torch_logits(model: nn.Module, p: int, k: int) -> np.ndarray:
    """The model's own forward pass on every input of D_p, one-hot blocks concatenated."""
    a = torch.from_numpy(all_inputs(p, k))
    x = nn.functional.one_hot(a, p).to(torch.float64)  # (N, k, p): input j, value a -> j p + a
    with torch.no_grad():
        return model(x.flatten(1)).numpy()


def direct_normalized_margin(logits: np.ndarray, weights: list[np.ndarray], p: int, k: int):
    """min over D_p of f[y] - max_{c != y} f[c], over ||theta||_{2,k+1}^(k+1), by numpy from the
    torch weights: neuron i's norm is sqrt(||fc1.weight[i]||^2 + ||fc2.weight[:, i]||^2)."""
    y = all_inputs(p, k).sum(axis=1) % p
    correct = logits[np.arange(len(y)), y]
    others = logits.copy()
    others[np.arange(len(y)), y] = -np.inf
    margin = (correct - others.max(axis=1)).min()
    first, second = weights
    norms = np.sqrt((first**2).sum(axis=1) + (second**2).sum(axis=0))
    return margin / (norms ** (k + 1)).sum()


def sequential_from(net: PolyNet) -> nn.Sequential:
    """nn.Sequential(Linear(k p, m), Power(k), Linear(m, p)) holding the network's weights."""
    m, k, p = net.U.shape
    model = nn.Sequential(
        nn.Linear(k * p, m, bias=False), Power(k), nn.Linear(m, p, bias=False)
    ).double()
    state = mlp_state(net)
    with torch.no_grad():
        model[0].weight.copy_(torch.from_numpy(state["fc1.weight"]))
        model[2].weight.copy_(torch.from_numpy(state["fc2.weight"]))
    return model


def test_a_sequential_saved_as_users_do_gives_its_own_logits_and_margin(tmp_path: Path) -> None:
    net = construct(7, 3, "lattice")
    model = sequential_from(net)
    torch.save(model.state_dict(), tmp_path / "seq.pt")
    imported = mlp_from_state(load_state_dict(tmp_path / "seq.pt"))
    ours = imported.network
    theirs = torch_logits(model, 7, 3)
    np.testing.assert_allclose(ours.logits(all_inputs(7, 3)), theirs, rtol=0, atol=1e-12)
    weights = [model[0].weight.detach().numpy(), model[2].weight.detach().numpy()]
    direct = direct_normalized_margin(theirs, weights, 7, 3)
    assert abs(margin_report(ours).normalized_margin - direct) < 1e-12 * abs(direct)
    assert abs(direct / gamma_star(7, 3) - 1) < 1e-9  # the lattice design reaches gamma*
    assert imported.keys_used == ("0.weight", "2.weight") and imported.k_source == "shapes"
    assert imported.accuracy == 1.0 and imported.other_layout_accuracy is not None


def test_d_doshis_fcn_trained_briefly_is_read_exactly(tmp_path: Path) -> None:
    p, width = 7, 40
    torch.manual_seed(0)
    model = fcn(2 * p, width, p).double()
    a = torch.from_numpy(all_inputs(p, 2))
    x = nn.functional.one_hot(a, p).to(torch.float64)
    y = nn.functional.one_hot(a.sum(dim=1) % p, p).to(torch.float64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=1.0)
    for _ in range(150):  # MSE, as their grokking scripts
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    torch.save(model.state_dict(), tmp_path / "fcn.pt")
    save_torch(model.state_dict(), str(tmp_path / "fcn.safetensors"))
    theirs = torch_logits(model, p, 2)
    weights = [model.fc1.weight.detach().numpy(), model.fc2.weight.detach().numpy()]
    for name in ("fcn.pt", "fcn.safetensors"):
        imported = mlp_from_state(load_state_dict(tmp_path / name))
        np.testing.assert_allclose(
            imported.network.logits(all_inputs(p, 2)), theirs, rtol=0, atol=1e-12
        )
        direct = direct_normalized_margin(theirs, weights, p, 2)
        assert abs(margin_report(imported.network).normalized_margin - direct) < 1e-12
        assert imported.keys_used == ("fc1.weight", "fc2.weight")


def test_biases_fold_exactly_and_the_note_gives_the_norm_change() -> None:
    p, k, m = 7, 3, 12
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(k * p, m), Power(k), nn.Linear(m, p)).double()
    imported = mlp_from_state(state_dict_from_mapping(model.state_dict()))
    net = imported.network
    assert imported.bias_folded and net.m == m + 1  # the output bias is one more neuron
    scale = np.abs(torch_logits(model, p, k)).max()
    np.testing.assert_allclose(
        net.logits(all_inputs(p, k)), torch_logits(model, p, k), rtol=0, atol=1e-12 * scale
    )
    # the control: the weights alone are a different function, with the norm the note quotes
    plain = PolyNet(
        model[0].weight.detach().numpy().reshape(m, k, p), model[2].weight.detach().numpy().T
    )
    assert np.abs(plain.logits(all_inputs(p, k)) - torch_logits(model, p, k)).max() > 1e-3
    assert imported.norm_without_biases == pytest.approx(plain.norm(), rel=1e-12)
    note = next(n for n in imported.notes if "||theta||_{2,k+1}" in n)
    assert f"{plain.norm():.10g}" in note and f"{net.norm():.10g}" in note


def test_embedding_blocks_and_transposed_weights_are_read() -> None:
    net = construct(5, 2)
    m = net.m
    blocks = {f"embeds.{j}.weight": net.U[:, j, :].T for j in range(2)}  # nn.Embedding (p, m)
    imported = mlp_from_state(state_dict_from_mapping({**blocks, "out.weight": net.W.T}))
    np.testing.assert_array_equal(imported.network.U, net.U)
    transposed = {"w1": mlp_state(net)["fc1.weight"].T, "w2": net.W}  # (k p, m) and (m, p)
    again = mlp_from_state(state_dict_from_mapping(transposed))
    np.testing.assert_array_equal(again.network.U, net.U)
    assert again.network.m == m


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".safetensors"])
@pytest.mark.parametrize("layout", ["concatenated", "interleaved"])
def test_export_then_import_gives_the_same_logits(tmp_path: Path, suffix: str, layout: str) -> None:
    rng = np.random.default_rng(3)
    net = PolyNet(rng.normal(size=(9, 3, 5)), rng.normal(size=(9, 5)), {"made_by": "test"})
    path = save_network(net, tmp_path / f"net{suffix}", layout=layout)
    state = load_state_dict(path)
    assert state.metadata["layout"] == layout and state.metadata["k"] == "3"
    back = mlp_from_state(state).network  # the layout from the file's metadata
    a = all_inputs(5, 3)
    assert np.abs(back.logits(a) - net.logits(a)).max() <= 1e-12 * np.abs(net.logits(a)).max()
    np.testing.assert_array_equal(back.U, net.U)


def test_the_exported_pt_loads_into_d_doshis_fcn(tmp_path: Path) -> None:
    net = construct(7, 2)
    save_network(net, tmp_path / "net.pt")
    model = fcn(14, net.m, 7).double()
    model.load_state_dict(torch.load(tmp_path / "net.pt", weights_only=True))
    np.testing.assert_allclose(torch_logits(model, 7, 2), net.logits(all_inputs(7, 2)), atol=1e-12)


def test_the_wrong_layout_is_flagged_and_the_right_one_is_not() -> None:
    state = state_dict_from_mapping(mlp_state(construct(7, 2)))
    wrong = mlp_from_state(state, layout="interleaved")
    assert any("probably the wrong layout; try --layout concatenated" in n for n in wrong.notes)
    right = mlp_from_state(state)
    assert right.accuracy == 1.0 and not any("wrong layout" in n for n in right.notes)


def test_the_power_comes_from_the_caller_or_metadata_and_must_agree() -> None:
    tensors = mlp_state(construct(5, 2))
    assert mlp_from_state(state_dict_from_mapping(tensors), k=2).k_source == "argument"
    meta = state_dict_from_mapping(tensors, metadata={"activation": "x**2"})
    assert mlp_from_state(meta).k_source == "metadata"
    with pytest.raises(FourierCircuitsError, match="k=3"):
        mlp_from_state(state_dict_from_mapping(tensors), k=3)
    with pytest.raises(FourierCircuitsError, match=r"activation power k=3 \(metadata\)"):
        mlp_from_state(state_dict_from_mapping(tensors, metadata={"power": 3}))


def test_an_extra_layer_is_refused_naming_the_keys() -> None:
    model = nn.Sequential(
        nn.Linear(14, 10, bias=False), Power(2), nn.Linear(10, 10), Power(2), nn.Linear(10, 7)
    )
    with pytest.raises(FourierCircuitsError, match=r"extra layer") as err:
        mlp_from_state(state_dict_from_mapping(model.state_dict()))
    assert "2.weight" in str(err.value) and "4.weight" in str(err.value)
    fc = {**mlp_state(construct(7, 2)), "fc3.weight": np.ones((7, 7))}
    with pytest.raises(FourierCircuitsError, match=r"fc3\.weight"):
        mlp_from_state(state_dict_from_mapping(fc))


def test_wrong_shapes_name_the_key_its_shape_and_what_was_expected() -> None:
    with pytest.raises(FourierCircuitsError, match=r"fc1.weight has shape \(10, 15\)"):
        mlp_from_state(
            state_dict_from_mapping(
                {"fc1.weight": np.ones((10, 15)), "fc2.weight": np.ones((7, 10))}
            )
        )
    bad_bias = {**mlp_state(construct(5, 2)), "fc1.bias": np.ones(3)}
    with pytest.raises(FourierCircuitsError, match=r"fc1.bias has shape \(3,\)"):
        mlp_from_state(state_dict_from_mapping(bad_bias))
    nan = {k: v.copy() for k, v in mlp_state(construct(5, 2)).items()}
    nan["fc2.weight"][0, 0] = np.nan
    with pytest.raises(FourierCircuitsError, match="non-finite"):
        mlp_from_state(state_dict_from_mapping(nan))


class _Payload:
    """Unpickling this would run a command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_a_code_running_pickle_does_not_run(tmp_path: Path, how: str) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    payload = {"fc1.weight": torch.ones(3, 3), "x": _Payload(marker)}
    if how == "pickle":
        path.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, path)
    with pytest.raises(FourierCircuitsError, match="refused unread") as err:
        load_state_dict(path)
    assert not marker.exists()
    assert "weights_only=False" not in str(err.value) and "trust" not in str(err.value)


def test_a_whole_module_pickle_is_refused_with_how_to_save_its_state_dict(tmp_path: Path) -> None:
    torch.save(fcn(14, 5, 7), tmp_path / "model.pt")
    with pytest.raises(FourierCircuitsError, match=r"model.state_dict\(\)") as err:
        load_state_dict(tmp_path / "model.pt")
    assert "nn.Module" in str(err.value) and "weights_only=False" not in str(err.value)


def test_formats_come_from_the_bytes_not_the_suffix(tmp_path: Path) -> None:
    net = construct(5, 2)
    net.save(tmp_path / "a.npz")
    save_network(net, tmp_path / "b.pt")
    save_network(net, tmp_path / "c.safetensors")
    for source, kind in (("a.npz", "npz"), ("b.pt", "pytorch"), ("c.safetensors", "safetensors")):
        renamed = tmp_path / f"renamed_{kind}.bin"
        renamed.write_bytes((tmp_path / source).read_bytes())
        assert detect_format(renamed) == kind
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(FourierCircuitsError, match="not a network file"):
        detect_format(tmp_path / "text.pt")
    with pytest.raises(FourierCircuitsError, match=r"PolyNet\.load"):
        load_state_dict(tmp_path / "a.npz")


def test_checkpoints_are_unwrapped_and_int_buffers_skipped(tmp_path: Path) -> None:
    tensors = {k: torch.from_numpy(v) for k, v in mlp_state(construct(5, 2)).items()}
    checkpoint = {"model": tensors, "config": {"loss": "mse", "dtype": torch.float32}, "step": 7}
    torch.save(checkpoint, tmp_path / "ckpt.pt")
    state = load_state_dict(tmp_path / "ckpt.pt")
    assert state.source_key == "model" and set(state.tensors) == {"fc1.weight", "fc2.weight"}
    assert state.metadata == {"config": {"loss": "mse", "dtype": "torch.float32"}, "step": 7}
    save_numpy(
        {"w": np.ones((2, 3)), "mask": np.ones((2, 2), dtype=np.int64)},
        str(tmp_path / "s.safetensors"),
    )
    sliced = load_state_dict(tmp_path / "s.safetensors")
    assert set(sliced.tensors) == {"w"} and sliced.skipped == {"mask": "i64 (2, 2)"}


def test_forged_safetensors_shapes_and_pt_bombs_are_refused_unread(tmp_path: Path) -> None:
    header = b'{"w":{"dtype":"F64","shape":[100000,100000,100000],"data_offsets":[0,8]}}'
    (tmp_path / "forged.safetensors").write_bytes(
        len(header).to_bytes(8, "little") + header + bytes(8)
    )
    with pytest.raises(FourierCircuitsError, match="forged or truncated"):
        load_state_dict(tmp_path / "forged.safetensors")
    with zipfile.ZipFile(tmp_path / "bomb.pt", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb/data.pkl", pickle.dumps({}))
        archive.writestr("bomb/data/0", bytes(1 << 27))  # 128 MiB of zeros deflate to ~130 KB
    with pytest.raises(FourierCircuitsError, match="compression bomb"):
        load_state_dict(tmp_path / "bomb.pt")


def test_a_checkpoint_config_with_numpy_scalars_loads(tmp_path: Path) -> None:
    """TransformerLens's config.to_dict() holds numpy scalars and dtypes: allowed, and made
    JSON-able; nothing else beyond tensors, dicts and numbers is."""
    tensors = {k: torch.from_numpy(v) for k, v in mlp_state(construct(5, 2)).items()}
    config = {"lr": np.float64(1e-3), "n": np.int64(3), "dtype": np.dtype("float32")}
    torch.save({"model": tensors, "config": config}, tmp_path / "ckpt.pt")
    state = load_state_dict(tmp_path / "ckpt.pt")
    assert state.metadata == {"config": {"lr": 1e-3, "n": 3, "dtype": "float32"}}
    torch.save({"model": tensors, "losses": np.ones(3)}, tmp_path / "log.pt")  # numeric arrays
    assert load_state_dict(tmp_path / "log.pt").metadata == {"losses": "<tensor float64 (3,)>"}
    torch.save({"model": tensors, "x": np.array([1, "a"], dtype=object)}, tmp_path / "obj.pt")
    with pytest.raises(FourierCircuitsError, match="refused unread"):
        load_state_dict(tmp_path / "obj.pt")


def test_a_pt_whose_pickle_claims_a_huge_shape_is_refused(tmp_path: Path) -> None:
    """The pickle says (65536, 65536) for a storage of 1000 floats: refused, nothing allocated."""
    torch.save({"fc1.weight": torch.ones(10, 100)}, tmp_path / "small.pt")
    with zipfile.ZipFile(tmp_path / "small.pt") as source:
        members = {name: source.read(name) for name in source.namelist()}
    name = next(n for n in members if n.endswith("data.pkl"))
    forged = members[name].replace(b"K\nKd\x86", b"J\x00\x00\x01\x00J\x00\x00\x01\x00\x86")
    assert forged != members[name]  # shape (10, 100) as BININT1s, now two BININTs of 65536
    with zipfile.ZipFile(tmp_path / "forged.pt", "w", zipfile.ZIP_STORED) as target:
        for member, data in members.items():
            target.writestr(member, forged if member == name else data)
    with pytest.raises(FourierCircuitsError, match="not a valid PyTorch file"):
        load_state_dict(tmp_path / "forged.pt")
