"""Operation counting (desire_bp.opcount, the paper's Table 3)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from desire_bp.config import Config, preset
from desire_bp.engine import Network
from desire_bp.integer import IntSpec
from desire_bp.opcount import count_operations, format_table, table3

# A hand-checkable network: 1 pixel (byte 255) -> 1 LIF neuron (w = 1) -> 2 outputs
# (w = 1 and 0), T = 4, no dropout, margin 0, theta_out 0.2, label 0.
# Events: the pixel spikes at t = 0..3, the hidden neuron at t = 0..3 (v = 1 each step), the
# output layer receives it one step late (t = 1..3): output 0 spikes 3 times, output 1 never.
# Desire: output 0 has e = 1 - 3/4 = 0.25 > 0.2 -> +1; output 1 rate 0 -> 0; the hidden neuron
# S = 1 * 0.25 >= 0.05 -> +1.
TINY = Config(sizes=(1, 1, 2), T=4, error_margin=0, theta_out=0.2, p_hid=0.0, p_in=0.0, lr=2.0**-4)
TINY_W = [np.array([[1.0]], np.float32), np.array([[1.0], [0.0]], np.float32)]


def _tiny(arith: str):
    x = np.array([[255]], np.uint8)
    masks = [[np.ones(n, bool) for n in TINY.sizes]]
    spec = IntSpec(frac_bits=(8, 8), trace_frac=10, lr_terms=1)
    return count_operations(TINY, TINY_W, x, np.array([0]), masks, TINY.lr, arith, spec)


def _d(ops):
    return {k: v for k, v in ops.as_dict().items() if v}


def test_float_counts_by_hand():
    c = _tiny("float")
    # encoder: 4 x (v += x), 4 resets, 4 comparisons; trace: 4 decays (mul), 4 increments
    assert _d(c["forward", 0]) == {"mul": 4, "add": 12, "cond": 4}
    # hidden: 4 leaks, 4 arriving spikes, 4 resets, 4 comparisons; its trace 4 mul + 4 add
    assert _d(c["forward", 1]) == {"mul": 8, "add": 12, "cond": 4}
    # output: 2 x 4 leaks, 3 arriving spikes x 2 neurons, 3 resets, 2 x 4 comparisons
    assert _d(c["forward", 2]) == {"mul": 8, "add": 9, "cond": 8}
    # output desire: 2 rates (mul), 1 - rate for the label, 2 comparisons; error of the one
    # propagating neuron: 1 mul, 1 add, 1 abs-conditional, + 1 skip test for the other
    assert _d(c["backward", 2]) == {"mul": 3, "add": 2, "cond": 4}
    # hidden S = w * e: 1 mul + 1 add, |S| >= theta: 2 comparisons
    assert _d(c["backward", 1]) == {"mul": 1, "add": 1, "cond": 2}
    # update: desire tests; output 0: 3 spike times with non-zero trace + 1 (W += lr * acc)
    assert _d(c["update", 2]) == {"mul": 1, "add": 4, "cond": 2}
    assert _d(c["update", 1]) == {"mul": 1, "add": 5, "cond": 1}
    assert _d(c["backward", 0]) == {} and _d(c["update", 0]) == {}


def test_integer_counts_by_hand_have_no_multiplications():
    c = _tiny("int")
    for key, ops in c.items():
        assert ops.mul == 0, key
    # leaks become shift + subtract; the rest as in float
    assert _d(c["forward", 0]) == {"add": 16, "cond": 4, "shift": 4}
    assert _d(c["forward", 1]) == {"add": 20, "cond": 4, "shift": 8}
    assert _d(c["forward", 2]) == {"add": 17, "cond": 8, "shift": 8}
    # output desire: one comparison each; error k = |4 - 3| = 1: 1 add + 1 abs test (+1 skip)
    assert _d(c["backward", 2]) == {"add": 1, "cond": 4}
    # S = bit plane 0 only: 1 addition, 2 comparisons
    assert _d(c["backward", 1]) == {"add": 1, "cond": 2}
    # update: trace sums (3 resp. 4 adds) + rounding add + shift + the (saturating) add
    assert _d(c["update", 2]) == {"add": 5, "cond": 2, "shift": 1}
    assert _d(c["update", 1]) == {"add": 6, "cond": 1, "shift": 1}


class _Data:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels


@pytest.fixture(scope="module")
def small():
    cfg = preset("mnist", sizes=(49, 40, 20, 10), T=12, error_margin=3)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(30, 49)).astype(np.uint8)
    X[X < 150] = 0
    y = rng.integers(0, 10, size=30)
    return cfg, Network.init(cfg).weights, _Data(X, y)


def test_table3_rows_and_comparisons(small):
    cfg, W, data = small
    rows = {a: table3(cfg, W, 8, a, data=data) for a in ("float", "int")}
    for arith, rs in rows.items():
        net = {r["phase"]: r for r in rs if r["layer"] == "network"}
        assert set(net) == {"forward", "backward", "update"}
        if arith == "int":
            assert all(r["mul"] == 0 for r in rs)
        # event-driven additions are far below the paper's dense T * I per neuron
        for r in rs:
            if r["phase"] == "forward" and r["layer"] not in ("input", "network"):
                assert r["add"] < r["paper_add"]
                assert r["paper_add"] == cfg.T * r["I"]
                assert r["ann_mul"] == r["I"]
        up = [r for r in rs if r["phase"] == "update" and r["layer"] == "1"][0]
        assert up["paper_mul"] == 1 and up["ann_mul"] == cfg.sizes[0] + 1
    f_up = [r for r in rows["float"] if r["phase"] == "update" and r["layer"] == "network"][0]
    assert f_up["mul"] > 0  # the float update multiplies by the learning rate
    text = format_table(rows["float"] + rows["int"])
    assert "network" in text and "paper mul" in text


def test_table3_cli_writes_csv_and_json(small, tmp_path, monkeypatch):
    from desire_bp import cli, opcount

    cfg, W, data = small
    Network(W, cfg).save(tmp_path / "ck.npz", epoch=0)
    real = opcount.table3
    monkeypatch.setattr(opcount, "table3", lambda *a, **k: real(*a, **{**k, "data": data}))
    rc = cli.main(["table3", "--checkpoint", str(tmp_path / "ck.npz"), "--samples", "4",
                   "--arithmetic", "both", "--out", str(tmp_path / "out")])  # fmt: skip
    assert rc == 0
    rows = list(csv.DictReader(open(tmp_path / "out" / "table3-ck-both.csv")))
    assert {r["arithmetic"] for r in rows} == {"float", "int"}
    meta = json.loads((tmp_path / "out" / "table3-ck-both.json").read_text())
    assert meta["samples"] == 4 and len(meta["rows"]) == len(rows)
