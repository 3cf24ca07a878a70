"""bench scaling: timed on untrained weights, with the neurons updated per sample."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from desire_bp import Network, bench, preset
from desire_bp.data import load_dataset
from desire_bp.engine import to_float_pixels


def test_phase_times_keep_the_untrained_weights(mnist_dir: Path) -> None:
    train = load_dataset("mnist", "train", mnist_dir)
    X, y = to_float_pixels(train.images[:30]), train.labels[:30]
    net = Network.init(preset("mnist", sizes=(784, 64, 10), p_hid=0.0), seed=0)
    before = [w.copy() for w in net.weights]
    f, b, u, updated = bench._phase_times(net, X, y)
    assert min(f, b, u) > 0 and updated > 0  # the update did its work ...
    assert all(np.array_equal(w, v) for w, v in zip(before, net.weights, strict=True))  # at lr 0


def test_scaling_writes_table_and_figure(tmp_path: Path, mnist_dir: Path) -> None:
    rows = bench.scaling(sizes=(20, 40), samples=10, out_dir=str(tmp_path), data_dir=mnist_dir)
    assert [r["N"] for r in rows] == [20, 40]
    with open(tmp_path / "scaling.csv") as f:
        table = list(csv.DictReader(f))
    assert float(table[1]["updated_neurons"]) >= 0 and float(table[1]["model_mb"]) > 0
    assert (tmp_path / "scaling.png").stat().st_size > 1000
