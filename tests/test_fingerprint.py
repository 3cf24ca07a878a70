"""Weight fingerprints (desire_bp.fingerprint) and the ``desire-bp fingerprint`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from desire_bp import Network, preset
from desire_bp.cli import main
from desire_bp.fingerprint import fingerprint, format_fingerprints


def test_statistics_by_hand():
    W1 = np.zeros((4, 3), np.float32)
    W1[0] = [30.0, 25.0, 21.0]  # runaway (max |w| > 20), row mean 25.33
    W1[1] = [-6.0, 0.0, 0.0]  # over 5
    W1[2] = [0.0, 2.0, 0.0]  # over 1
    W2 = np.full((2, 4), 0.5, np.float32)
    W2[:, 0] = 0.1  # the runaway neuron's outgoing weights
    fp = fingerprint([W1, W2])
    l1, l2 = fp.layers
    assert l1.shape == (4, 3) and l1.max_abs == 30.0
    assert l1.neurons_over == {"1": 3, "5": 2, "20": 1} and l1.runaway == 1
    assert l1.max_row_mean == pytest.approx(76 / 3)
    assert l1.runaway_out_abs == pytest.approx(0.1)
    assert l1.out_abs == pytest.approx((0.1 * 2 + 0.5 * 6) / 8)
    assert l1.mean == pytest.approx(W1.mean()) and l1.std == pytest.approx(W1.std())
    assert l1.abs_quantiles[0] == pytest.approx(np.quantile(np.abs(W1), 0.5))
    assert l2.out_abs is None and l2.runaway_out_abs is None
    text = format_fingerprints(["a"], [fp])
    assert "W1 neurons max|w| > 1/5/20" in text and "3 / 2 / 1" in text


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="W2 has 5 inputs"):
        fingerprint([np.zeros((4, 3)), np.zeros((2, 5))])
    with pytest.raises(ValueError, match="expected"):
        fingerprint([np.zeros(3)])


def test_command_prints_table_and_json(tmp_path, capsys):
    net = Network.init(preset("mnist", sizes=(784, 16, 8, 10)), seed=3)
    net.save(tmp_path / "a.npz")
    assert main(["fingerprint", str(tmp_path / "a.npz"), "--short-names"]) == 0
    out = capsys.readouterr().out
    assert f"{tmp_path.name}/a.npz" in out and "W3 |w| 50/90/99 %" in out
    assert main(["fingerprint", str(tmp_path / "a.npz"), "--json", "--thresholds", "0.1"]) == 0
    d = json.loads(capsys.readouterr().out)[str(tmp_path / "a.npz")]
    assert d["layers"][0]["shape"] == [16, 784]
    assert (
        d["layers"][0]["neurons_over"]["0.1"] == fingerprint(net.weights, [0.1]).layers[0].runaway
    )


def test_summary_recorded_in_metrics_rows():
    from desire_bp.fingerprint import summary

    W1 = np.array([[30.0, -1.0], [0.5, 0.0]], np.float32)
    W2 = np.array([[1.0, -2.0]], np.float32)
    s = summary([W1, W2])
    assert s == {
        "w_std": [round(float(W1.astype(np.float64).std()), 6), 1.5],
        "w_max_abs": [30.0, 2.0],
        "runaway": [1, 0],
    }
