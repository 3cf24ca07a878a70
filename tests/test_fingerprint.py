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


def test_travel_from_the_initial_weights_by_hand():
    rng = np.random.default_rng(0)
    W0 = [rng.standard_normal((6, 5)), rng.standard_normal((3, 6))]
    same = fingerprint(W0, initial=W0).layers
    assert [lf.drift for lf in same] == [0.0, 0.0]
    assert [lf.init_corr for lf in same] == [pytest.approx(1.0)] * 2
    l1, l2 = fingerprint([2 * W0[0], -W0[1]], initial=W0).layers
    assert l1.drift == pytest.approx(1.0) and l1.init_corr == pytest.approx(1.0)
    assert l2.drift == pytest.approx(2.0) and l2.init_corr == pytest.approx(-1.0)
    assert fingerprint(W0).layers[0].drift is None  # not given: left out
    assert "from init" not in format_fingerprints(["a"], [fingerprint(W0)])
    assert "W1 from init: drift / corr" in format_fingerprints(["a"], [fingerprint(W0, initial=W0)])
    with pytest.raises(ValueError, match="initial weights of shapes"):
        fingerprint(W0, initial=W0[:1])


@pytest.mark.parametrize("arithmetic", ["float", "int"])
def test_initial_weights_are_where_training_started(tmp_path, mnist_dir, arithmetic, capsys):
    """With a learning rate of 0 (integer mode: one too small for any update to round to a
    step) a run ends where it started: the initial weights rebuilt from its checkpoint are its
    final weights, exactly (seeded start, then --init-from)."""
    from desire_bp.fingerprint import initial_weights, load_weights

    d = str(mnist_dir)
    lr = ["--lr", "0"] if arithmetic == "float" else ["--lr", "1e-30", "--int-rounding", "nearest"]
    common = ["--preset", "mnist", "--hidden", "12,8", *lr, "--epochs", "1",
              "--train-samples", "20", "--test-samples", "20", "--data-dir", d,
              "--arithmetic", arithmetic, "--no-progress"]  # fmt: skip
    assert main(["train", *common, "--seed", "4", "--run-dir", str(tmp_path / "a")]) == 0
    ck = tmp_path / "a" / "checkpoint.npz"
    for w, w0 in zip(load_weights(ck), initial_weights(ck), strict=True):
        assert np.array_equal(w, w0)
    seeded = Network.init(preset("mnist", sizes=(784, 12, 8, 10), seed=4)).weights
    if arithmetic == "float":
        assert all(np.array_equal(a, b) for a, b in zip(seeded, initial_weights(ck), strict=True))
    else:  # quantized as the run quantized them
        assert not np.array_equal(seeded[0], initial_weights(ck)[0])
        assert np.abs(seeded[0] - initial_weights(ck)[0]).max() < 2.0**-15
    # a run that learned: still its seeded start, and the fingerprint says how far it went
    trained = [*common[: common.index("--lr")], "--lr", "1e-3", *common[common.index("--epochs") :]]
    assert main(["train", *trained, "--seed", "4", "--run-dir", str(tmp_path / "t")]) == 0
    ck_t = tmp_path / "t" / "checkpoint.npz"
    w0 = initial_weights(ck_t)
    assert np.abs(w0[0] - seeded[0]).max() < 2.0**-15
    lf = fingerprint(load_weights(ck_t), initial=w0).layers[0]
    assert 0 < lf.drift and lf.init_corr < 1
    # a run started from another checkpoint starts from its weights, not from a seed
    src = tmp_path / "src.npz"
    Network.init(preset("mnist", sizes=(784, 12, 8, 10), seed=9)).save(src)
    rc = main(["train", *common, "--init-from", str(src), "--run-dir", str(tmp_path / "b")])
    assert rc == 0
    ck_b = tmp_path / "b" / "checkpoint.npz"
    for w, w0 in zip(load_weights(ck_b), initial_weights(ck_b), strict=True):
        assert np.array_equal(w, w0)
    capsys.readouterr()
    assert main(["fingerprint", str(ck_b), "--from-init"]) == 0
    assert "W1 from init: drift / corr" in capsys.readouterr().out
    # the source changed or gone: refused, naming it
    Network.init(preset("mnist", sizes=(784, 12, 8, 10), seed=10)).save(src)
    assert main(["fingerprint", str(ck_b), "--from-init"]) == 2
    assert f"started from {src}, which has changed since" in capsys.readouterr().err
    src.unlink()
    assert main(["fingerprint", str(ck_b), "--from-init"]) == 2
    assert "which no longer exists" in capsys.readouterr().err
    with pytest.raises(ValueError, match="known for desire-bp .npz checkpoints"):
        initial_weights(tmp_path / "model.pt")
