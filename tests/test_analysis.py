"""The data behind Fig. 6-8 (desire_bp.analysis), its recording during training, and the
figures rendering headless (desire_bp.plotting, ``desire-bp figure``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from desire_bp import analysis
from desire_bp.cli import main
from desire_bp.config import Config, preset
from desire_bp.engine import Network, reference
from desire_bp.figures import FigureError, draw_figure
from desire_bp.plotting import (
    plot_accuracy_curve,
    plot_class_rates,
    plot_contributions,
    plot_local_losses,
)
from desire_bp.training import read_metrics, train

PNG = b"\x89PNG\r\n\x1a\n"


def small_cfg(**kw) -> Config:
    base = dict(sizes=(16, 12, 8, 4), T=10, error_margin=2, p_hid=0.0, epochs=2, lr=3e-3)
    base.update(kw)
    return preset("mnist", **base)


def random_net(
    cfg: Config, seed: int = 0, gain: float = 2.5, bias: float = 0.15
) -> list[np.ndarray]:
    """Weights with enough drive that every layer spikes."""
    rng = np.random.default_rng(seed)
    return [
        (rng.standard_normal((o, i)) * gain / np.sqrt(i) + bias).astype(np.float32)
        for i, o in zip(cfg.sizes[:-1], cfg.sizes[1:], strict=True)
    ]


def random_images(n: int, n0: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, n0), dtype=np.uint8), rng.integers(0, 4, n)


# ----------------------------------------------------------------------------- activity


@pytest.mark.parametrize("hidden_error", ["abs", "signed"])
def test_activity_matches_reference(hidden_error: str) -> None:
    cfg = small_cfg(hidden_error=hidden_error, sizes=(64, 32, 16, 4))
    W = random_net(cfg, bias=0.0)
    X, y = random_images(40, cfg.sizes[0])
    fast = analysis.activity(W, X, y, cfg)
    dense = analysis.activity(W, X, y, cfg, batch_size=7, engine="numpy")
    ones = [np.ones(n, bool) for n in cfg.sizes]
    assert [c.shape for c in fast.counts] == [(40, n) for n in cfg.sizes]
    assert fast.desire[0] is None and all(d.dtype == np.int8 for d in fast.desire[1:])
    for s in range(len(y)):
        fwd = reference.forward(W, X[s] / np.float32(255), cfg)
        des = reference.backward(W, fwd, int(y[s]), ones, cfg)
        for layer in range(len(cfg.sizes)):
            np.testing.assert_array_equal(fast.counts[layer][s], fwd.counts[layer])
            np.testing.assert_array_equal(dense.counts[layer][s], fwd.counts[layer])
        for layer in range(1, len(cfg.sizes)):
            np.testing.assert_array_equal(fast.desire[layer][s], des[layer - 1])
            np.testing.assert_array_equal(dense.desire[layer][s], des[layer - 1])
    # The activity is not trivial: spikes and desire of both signs in every LIF layer.
    for layer in range(1, len(cfg.sizes)):
        assert fast.counts[layer].any()
        assert (fast.desire[layer] == 1).any() and (fast.desire[layer] == -1).any()


def test_activity_errors_and_empty() -> None:
    cfg = small_cfg()
    W = random_net(cfg)
    with pytest.raises(ValueError, match="input layer"):
        analysis.forward_counts(W, np.zeros((2, 5), np.uint8), cfg)
    with pytest.raises(ValueError, match="labels"):
        analysis.activity(W, np.zeros((2, 16), np.uint8), np.zeros(3, int), cfg)
    with pytest.raises(ValueError, match="engine"):
        analysis.forward_counts(W, np.zeros((2, 16), np.uint8), cfg, engine="gpu")
    act = analysis.activity(W, np.zeros((0, 16), np.uint8), np.zeros(0, int), cfg)
    assert act.n == 0 and act.counts[1].shape == (0, 12)


# ----------------------------------------------------------------------------- Fig. 6


def _act(counts, desire, labels, T) -> analysis.Activity:
    return analysis.Activity(
        [np.asarray(c) for c in counts],
        [None] + [np.asarray(d, np.int8) for d in desire],
        np.asarray(labels),
        T,
    )


def test_local_losses_hand_computed() -> None:
    # T = 10.  Layer 1, sample 0: d = (+1, -1, 0), n = (5, 4, 10) -> e = (0.5-1, 0.4-0, 0);
    # sample 1: d = (+1, +1, -1), n = (10, 0, 0) -> e = (0, -1, 0).
    # mean e^2 = (0.25 + 0.16 + 0 + 0 + 1 + 0) / 6.  Layer 2: d = 0 everywhere -> 0.
    act = _act(
        counts=[np.zeros((2, 1)), [[5, 4, 10], [10, 0, 0]], [[3, 3], [7, 1]]],
        desire=[[[1, -1, 0], [1, 1, -1]], [[0, 0], [0, 0]]],
        labels=[0, 1],
        T=10,
    )
    np.testing.assert_allclose(analysis.local_losses(act), [1.41 / 6, 0.0])


def test_local_losses_range_on_random_network() -> None:
    cfg = small_cfg()
    X, y = random_images(30, 16)
    losses = analysis.local_losses(analysis.activity(random_net(cfg), X, y, cfg))
    assert losses.shape == (3,)
    assert ((losses >= 0) & (losses <= 1)).all() and (losses > 0).any()


# ----------------------------------------------------------------------------- Fig. 7


def test_class_rates() -> None:
    counts = np.array([[10, 0], [0, 5], [5, 5]])
    rates = analysis.class_rates(counts, np.array([0, 0, 2]), T=10, n_classes=4)
    assert rates.shape == (2, 4)
    np.testing.assert_allclose(rates[:, 0], [0.5, 0.25])
    np.testing.assert_allclose(rates[:, 2], [0.5, 0.5])
    assert np.isnan(rates[:, 1]).all() and np.isnan(rates[:, 3]).all()


def test_select_neurons() -> None:
    sel = analysis.select_neurons((784, 100, 5, 10), 20, seed=3)
    assert [len(s) for s in sel] == [0, 20, 5, 10]
    assert (np.diff(sel[1]) > 0).all() and sel[1].max() < 100
    np.testing.assert_array_equal(sel[3], np.arange(10))
    again = analysis.select_neurons((784, 100, 5, 10), 20, seed=3)
    assert all((a == b).all() for a, b in zip(sel, again, strict=True))


# ----------------------------------------------------------------------------- Fig. 8


def test_contributions_hand_computed() -> None:
    # C[i] = mean_s sum_o W[o, i] d[o] n1[o] n0[i]
    W1 = np.array([[1.0, -2.0, 0.5], [3.0, 1.0, -1.0]], np.float32)
    act = _act(
        counts=[[[2, 0, 1], [1, 1, 1]], [[4, 1], [0, 2]], [[0, 0], [0, 0]]],
        desire=[[[1, -1], [1, 1]], [[0, 0], [0, 0]]],
        labels=[0, 1],
        T=10,
    )
    # sample 0: a = d * n1 = (4, -1): a @ W1 = (4-3, -8-1, 2+1) = (1, -9, 3); * n0 = (2, 0, 3)
    # sample 1: a = (0, 2): a @ W1 = (6, 2, -2); * n0 = (6, 2, -2)
    np.testing.assert_allclose(analysis.contributions(W1, act), [4.0, 1.0, 0.5])


def test_contributions_brute_force() -> None:
    cfg = small_cfg()
    W = random_net(cfg)
    X, y = random_images(12, 16)
    act = analysis.activity(W, X, y, cfg)
    C = analysis.contributions(W[0], act)
    expect = np.zeros(16)
    for s in range(12):
        for i in range(16):
            expect[i] += sum(
                W[0][o, i] * act.desire[1][s, o] * act.counts[1][s, o] * act.counts[0][s, i]
                for o in range(12)
            )
    np.testing.assert_allclose(C, expect / 12, rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- recording


@dataclass
class _Split:
    images: np.ndarray
    labels: np.ndarray


def _synthetic_data(n_train: int = 60, n_test: int = 25):
    X, y = random_images(n_train + n_test, 16, seed=5)
    return _Split(X[:n_train], y[:n_train]), _Split(X[n_train:], y[n_train:])


def test_recorder_during_training(tmp_path: Path) -> None:
    cfg = small_cfg(epochs=3)
    data = _synthetic_data()
    test = data[1]
    rec = analysis.Recorder(
        analysis.RECORD_KINDS,
        cfg,
        tmp_path,
        test.images,
        test.labels,
        spike_epochs=2,
        spike_neurons=5,
        contrib_every=20,
        contrib_until=50,
        contrib_samples=10,
    )
    init = Network.init(cfg)
    rec.start(init)
    net, rows = train(
        cfg, tmp_path, data=data, on_epoch=rec.on_epoch, on_sample=rec.on_sample, progress=False
    )
    # Fig. 6: one loss per LIF layer per epoch, in metrics.jsonl, within [0, 1].
    stored = read_metrics(tmp_path)
    assert [len(r["local_loss"]) for r in stored] == [3, 3, 3]
    assert all(0 <= v <= 1 for r in stored for v in r["local_loss"])
    assert stored[-1]["local_loss_samples"] == 25
    final = analysis.local_losses(analysis.activity(net.weights, test.images, test.labels, cfg))
    np.testing.assert_allclose(stored[-1]["local_loss"], final)
    # Fig. 7: a file for each of the first 2 epochs.
    recs = analysis.read_spike_records(tmp_path)
    assert sorted(recs) == [0, 1] and stored[0]["spikes_file"] == "spikes/epoch-000.npz"
    assert "spikes_file" not in stored[2]
    r = recs[1]
    assert r["layer1_neurons"].shape == (5,) and r["layer2_neurons"].shape == (5,)
    np.testing.assert_array_equal(r["layer3_neurons"], np.arange(4))
    assert r["layer1_rates"].shape == (5, 4) and r["layer3_rates"].shape == (4, 4)
    finite = r["layer1_rates"][np.isfinite(r["layer1_rates"])]
    assert ((finite >= 0) & (finite <= 1)).all()
    assert r["class_samples"].sum() == 25
    # Fig. 8: snapshots at 0, 20, 40 samples of epoch 0 (until 50), over 10 test samples.
    c = analysis.read_contributions(tmp_path)
    np.testing.assert_array_equal(c["samples"], [0, 20, 40])
    assert c["C"].shape == (3, 16) and int(c["n_test"]) == 10
    act0 = analysis.activity(init.weights, test.images[:10], test.labels[:10], cfg)
    np.testing.assert_allclose(c["C"][0], analysis.contributions(init.weights[0], act0))
    assert not np.allclose(c["C"][0], c["C"][2])  # training changed the weights


def test_recorder_rejects_unknown_kind() -> None:
    cfg = small_cfg()
    X, y = random_images(3, 16)
    with pytest.raises(ValueError, match="unknown record kind"):
        analysis.Recorder(["weights"], cfg, None, X, y)


def test_accuracy_curve() -> None:
    curve = analysis.accuracy_curve(
        [100, 50, 100, 200], [80.0, 70.0, 90.0, float("nan")], [82.0, 71.0, 92.0, float("nan")]
    )
    np.testing.assert_array_equal(curve["x"], [50, 100, 200])
    np.testing.assert_array_equal(curve["n"], [1, 2, 0])
    np.testing.assert_allclose(curve["final_mean"][:2], [70, 85])
    np.testing.assert_allclose(curve["best_std"][:2], [0, 5])
    assert np.isnan(curve["best_mean"][2])


# ----------------------------------------------------------------------------- plots


def test_plots_render_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    curve = analysis.accuracy_curve([50, 100, 100], [80.0, 85.0, 87.0], [81.0, 86.0, 88.0])
    paths = [
        plot_accuracy_curve(curve, "N", "t", tmp_path / "a.png", paper={100.0: 98.4}),
        plot_accuracy_curve(curve, "T", "t", tmp_path / "b.png", logx=False),
        plot_local_losses(
            np.arange(3), rng.random((3, 3)), np.array([50, 60, 70]), "t", tmp_path / "c.png"
        ),
    ]
    recs = {
        e: {
            "layer1_neurons": np.arange(5),
            "layer1_rates": rng.random((5, 10)),
            "layer2_neurons": np.arange(10),
            "layer2_rates": rng.random((10, 10)),
        }
        for e in range(3)
    }
    paths.append(plot_class_rates(recs, "t", tmp_path / "d.png"))
    C = rng.standard_normal((10, 784))
    paths.append(plot_contributions(np.arange(0, 100, 10), C, "t", tmp_path / "e" / "f.png"))
    for p in paths:
        assert p.read_bytes()[:8] == PNG


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels, from the PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG and head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_accuracy_plot_adds_a_zoom_panel_only_when_a_point_collapses(tmp_path: Path) -> None:
    close = analysis.accuracy_curve([100, 200, 400], [96.5, 97.5, 98.0], [97.2, 97.9, 98.3])
    collapsed = analysis.accuracy_curve([100, 200, 400], [47.0, 97.5, 98.0], [93.8, 97.9, 98.3])
    one = _png_size(plot_accuracy_curve(close, "N", "t", tmp_path / "close.png"))
    two = _png_size(plot_accuracy_curve(collapsed, "N", "t", tmp_path / "collapsed.png"))
    off = _png_size(plot_accuracy_curve(collapsed, "N", "t", tmp_path / "off.png", zoom=None))
    # a point 3 points or more below the highest adds a second panel of the same width below
    assert abs(two[0] - one[0]) < 0.1 * one[0] and two[1] > 1.5 * one[1]
    assert abs(off[1] - one[1]) < 0.1 * one[1]
    # the paper's points do not count: one far above a short run's curve adds no panel
    far = _png_size(plot_accuracy_curve(close, "N", "t", tmp_path / "p.png", paper={800: 99.9}))
    assert abs(far[1] - one[1]) < 0.1 * one[1]
    for bad in (0, -1.0, float("nan"), 101):
        with pytest.raises(ValueError, match="zoom must be a width in percentage points"):
            plot_accuracy_curve(close, "N", "t", tmp_path / "bad.png", zoom=bad)
    assert not (tmp_path / "bad.png").exists()


def test_cli_figure_zoom(tmp_path: Path, capsys) -> None:
    # the committed full-length Fig. 5 sweep: T = 5 collapses, so the default draws two panels
    sweep = Path(__file__).resolve().parents[1] / "results" / "figures" / "fig5-full"
    args = ["figure", "fig5", "--sweep-dir", str(sweep), "--out"]
    assert main([*args, str(tmp_path / "two.png")]) == 0
    assert main([*args, str(tmp_path / "one.png"), "--zoom", "0"]) == 0
    assert main([*args, str(tmp_path / "wide.png"), "--zoom", "99"]) == 0  # nothing 99 below
    two, one, wide = (_png_size(tmp_path / f"{n}.png") for n in ("two", "one", "wide"))
    assert two[1] > 1.5 * one[1] and abs(wide[1] - one[1]) < 0.1 * one[1]
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "two.csv").read_text()
    capsys.readouterr()
    assert main([*args, str(tmp_path / "bad.png"), "--zoom", "-1"]) == 2
    assert "--zoom takes 0 (one panel) or a width in points up to 100, not -1" in (
        capsys.readouterr().err
    )
    assert main(["figure", "fig6", str(tmp_path), "--zoom", "2"]) == 2
    assert "--zoom is the accuracy axis of fig4 and fig5, not of fig6" in capsys.readouterr().err
    assert not (tmp_path / "bad.png").exists()
    with pytest.raises(FigureError, match="zoom must be a width"):
        draw_figure("fig5", sweep, tmp_path / "x.png", zoom=0)


def test_cli_record_and_figures(tmp_path: Path, mnist_dir: Path, capsys) -> None:
    run = tmp_path / "run"
    args = ["train", "--hidden", "20,10", "--epochs", "2", "--train-samples", "120"]
    args += ["--test-samples", "60", "--lr", "1e-4", "--run-dir", str(run), "--no-progress"]
    args += ["--record", "losses,spikes", "--record", "contributions", "--contrib-every", "40"]
    args += ["--contrib-until", "100", "--contrib-samples", "30", "--spike-neurons", "8"]
    assert main(args) == 0
    assert "recording losses, spikes, contributions on 60 test samples" in capsys.readouterr().out
    rows = read_metrics(run)
    assert len(rows) == 2 and all(len(r["local_loss"]) == 3 for r in rows)
    np.testing.assert_array_equal(analysis.read_contributions(run)["samples"], [0, 40, 80])
    for fig in ("fig6", "fig7", "fig8"):
        assert main(["figure", fig, str(run)]) == 0
        assert (run / f"{fig}.png").read_bytes()[:8] == PNG
        assert (run / f"{fig}.csv").exists()
    lines = (run / "fig6.csv").read_text().splitlines()
    assert lines[0] == "epoch,test_accuracy,loss_layer1,loss_layer2,loss_layer3"
    assert len(lines) == 3
    assert len((run / "fig7.csv").read_text().splitlines()) == 1 + 2 * (8 + 8 + 10) * 10
    out = tmp_path / "x" / "fig8.png"
    assert main(["figure", "fig8", str(run), "--out", str(out), "--title", "T"]) == 0
    assert out.exists() and out.with_suffix(".csv").exists()
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["sizes"] == [784, 20, 10, 10]


def test_cli_figure_errors(tmp_path: Path, capsys) -> None:
    run = tmp_path / "empty"
    run.mkdir()
    assert main(["figure", "fig6", str(run)]) == 2
    assert main(["figure", "fig8", str(run)]) == 2
    assert main(["figure", "fig4"]) == 2
    assert main(["figure", "fig4", "--sweep-dir", str(run)]) == 2
    err = capsys.readouterr().err
    assert "sweep.json not found" in err and "desire-bp figure: error" in err


def test_desire_balance_counts_saturated_and_silent_pairs():
    # 3 samples, T = 4: hidden layer 1 has 2 neurons, the output layer 2 (not reported)
    counts = [
        np.zeros((3, 1), np.int16),
        np.array([[4, 0], [3, 0], [0, 2]], np.int16),  # saturated at >= 3: (0,0), (1,0)
        np.zeros((3, 2), np.int16),
    ]
    desire = [
        None,
        np.array([[1, -1], [0, 1], [-1, -1]], np.int8),
        np.zeros((3, 2), np.int8),
    ]
    act = analysis.Activity(counts, desire, np.zeros(3, np.int64), T=4)
    (row,) = analysis.desire_balance(act)
    assert row["layer"] == 1 and row["neurons"] == 2
    assert row["saturated"] == pytest.approx(2 / 6) and row["silent"] == pytest.approx(3 / 6)
    assert row["always_saturated_neurons"] == 0  # neuron 0 is silent on sample 2
    assert row["desire_plus"] == pytest.approx(2 / 6) and row["desire_minus"] == pytest.approx(
        3 / 6
    )
    assert row["desire_plus_when_saturated"] == pytest.approx(1 / 2)  # +1 at (0,0), 0 at (1,0)
    assert row["desire_minus_when_silent"] == pytest.approx(2 / 3)  # (0,1), (2,0); (1,1) is +1
    (strict,) = analysis.desire_balance(act, saturated_at=4)
    assert (
        strict["saturated"] == pytest.approx(1 / 6) and strict["desire_plus_when_saturated"] == 1.0
    )
