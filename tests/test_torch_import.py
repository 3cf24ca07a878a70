"""Import of the original PyTorch checkpoints (needs the optional torch extra)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from desire_bp import Network
from desire_bp.checkpoint import CheckpointError
from desire_bp.cli import main

torch = pytest.importorskip("torch")


def original_state(sizes, seed=0):
    g = torch.Generator().manual_seed(seed)
    state = {}
    # keys count the input (0) and flatten (1) layers, as in the original model
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=2):
        state[f"layers.{k}.weights"] = torch.randn(n_out, n_in, generator=g) * 0.05
    return state


@pytest.mark.parametrize("wrapped", [False, True])
def test_import_original_checkpoint(tmp_path, wrapped):
    sizes = (784, 1000, 100, 10)
    state = original_state(sizes)
    obj = {"state": state, "pars": argparse.Namespace(epochs=600)} if wrapped else state
    torch.save(obj, tmp_path / "orig.pt")
    assert main(["import-torch", str(tmp_path / "orig.pt"), str(tmp_path / "out.npz")]) == 0
    net = Network.load(tmp_path / "out.npz")
    assert net.cfg.sizes == sizes and net.cfg.dataset == "fashion-mnist"
    for k, w in enumerate(net.weights, start=2):
        assert np.array_equal(w, state[f"layers.{k}.weights"].numpy())


def test_import_rejects_foreign_files(tmp_path, capsys):
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "foreign.pt")
    assert main(["import-torch", str(tmp_path / "foreign.pt"), str(tmp_path / "o.npz")]) == 2
    assert "layers.K.weights" in capsys.readouterr().err
    (tmp_path / "garbage.pt").write_bytes(b"\x00garbage")
    assert main(["import-torch", str(tmp_path / "garbage.pt"), str(tmp_path / "o.npz")]) == 2
    assert "not a PyTorch checkpoint that can be read safely" in capsys.readouterr().err
    bad = original_state((784, 20, 10))
    bad["layers.3.weights"] = torch.zeros(10, 21)
    torch.save(bad, tmp_path / "chain.pt")
    with pytest.raises(CheckpointError, match="21 inputs"):
        from desire_bp.torch_import import import_torch_checkpoint

        import_torch_checkpoint(tmp_path / "chain.pt", tmp_path / "o.npz")
    assert not (tmp_path / "o.npz").exists()


class _Payload:
    """Unpickling this would run ``marker.write_text`` (what a crafted checkpoint does)."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.write_text, (pathlib.Path(self.marker), "executed"))


def test_import_never_executes_code_from_the_file(tmp_path, capsys):
    marker = tmp_path / "marker"
    state = original_state((784, 20, 10))
    torch.save({"state": state, "pars": _Payload(str(marker))}, tmp_path / "evil.pt")
    assert main(["import-torch", str(tmp_path / "evil.pt"), str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err
    assert "nothing in it was executed" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o.npz").exists()


def test_fingerprint_reads_original_files(tmp_path, capsys):
    state = original_state((784, 20, 10))
    state["layers.2.weights"][3] += 50.0  # one runaway first-layer neuron
    torch.save({"state": state, "pars": argparse.Namespace(lr=[1e-6, 1e-5])}, tmp_path / "o.pt")
    assert main(["fingerprint", str(tmp_path / "o.pt"), "--json"]) == 0
    import json

    fp = json.loads(capsys.readouterr().out)[str(tmp_path / "o.pt")]
    assert fp["layers"][0]["runaway"] == 1 and fp["layers"][0]["neurons_over"]["20"] == 1
