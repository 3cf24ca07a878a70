"""Integer, multiplication-free training mode (desire_bp.integer)."""

from __future__ import annotations

import numpy as np
import pytest

from desire_bp.config import Config, ConfigError, preset
from desire_bp.engine import reference
from desire_bp.integer import (
    IntegerNetwork,
    IntSpec,
    LrShift,
    choose_frac_bits,
    forward_int,
    hidden_desire_int,
    lr_to_shifts,
    make_params,
    output_desire_int,
    quantize,
    saturate,
    shift_leak,
    weight_update_int,
    weights_sha256,
)
from desire_bp.integer.reference import _scale_shift
from desire_bp.training import train

# ----------------------------------------------------------------------------- pinned run
# A tiny network whose integer weights after 6 training samples are pinned, so that a hardware
# implementation can check itself against this file.  Everything is given by formulas (no
# random generator): weights W_l[o, i] = ((7919 o + 104729 i + 31 l) mod 2001) - 700 with
# f_l = 12 fraction bits, pixel bytes x_s[i] = (37 i + 101 s) mod 256, label s mod 4, hidden
# dropout masks m_l[j] = ((j + s) mod 4 != 0), learning rate 2**-8 (one right shift),
# 10 trace fraction bits, T = 10, error margin 2, theta_p 1, beta 0.75, p_hid 0.25 (training
# thresholds round(0.75 * 4096) = 3072 for layers 2 and 3, 4096 for layer 1).
PIN_SIZES = (16, 12, 8, 4)
PIN_SHA256 = "a60c2a8d097f7e06f0e2109a1463dcf3b5a70704434eef195d268ebf49b521c2"
# The same run with stochastic rounding (the default): xorshift32 seeded per sample and layer
# as desire_bp.integer.sample_seeds documents.
PIN_SHA256_STOCHASTIC = "bbe377fda8e6f57b3160873668b92448301f7ae07de76eb9b3aea385201593df"


def _pinned_setup():
    cfg = Config(
        sizes=PIN_SIZES,
        T=10,
        error_margin=2,
        lr=2.0**-8,
        lr_decay=0.0,
        p_in=0.0,
        p_hid=0.25,
        theta_hid=0.05,
        theta_out=0.3,
    )
    W = []
    for layer in range(1, 4):
        o = np.arange(PIN_SIZES[layer])[:, None]
        i = np.arange(PIN_SIZES[layer - 1])[None, :]
        W.append(((o * 7919 + i * 104729 + layer * 31) % 2001) - 700)
    spec = IntSpec(
        weight_bits=16, frac_bits=(12, 12, 12), trace_frac=10, lr_terms=1, rounding="nearest"
    )
    samples = []
    for s in range(6):
        x = ((np.arange(16) * 37 + s * 101) % 256).astype(np.uint8)
        masks = [np.ones(16, bool)]
        masks += [(np.arange(n) + s) % 4 != 0 for n in PIN_SIZES[1:-1]]
        masks += [np.ones(PIN_SIZES[-1], bool)]
        samples.append((x, s % 4, masks))
    return cfg, W, spec, samples


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_pinned_integer_weights(engine):
    cfg, W, spec, samples = _pinned_setup()
    net = IntegerNetwork(W, (12, 12, 12), cfg, spec, engine=engine)
    assert net.P.theta_train == (4096, 3072, 3072)
    out = [net.train_sample(x, y, masks=m).counts.tolist() for x, y, m in samples]
    assert out == [[0, 0, 2, 2], [0, 0, 0, 0], [0, 0, 2, 1], [0, 0, 2, 2], [0, 0, 7, 6], [0] * 4]
    Wt = net.int_weights
    assert Wt[0][0, :4].tolist() == [-669, 8, 685, -639]
    assert Wt[0][-1, -3:].tolist() == [1295, 29, 748]
    assert Wt[1][0, :4].tolist() == [-638, 32, 661, -608]
    assert Wt[2][-1, -3:].tolist() == [268, 998, -291]
    assert net.sha256() == PIN_SHA256
    assert weights_sha256(Wt) == PIN_SHA256


@pytest.mark.parametrize("engine", ["reference", "fast"])
def test_pinned_integer_weights_stochastic_rounding(engine):
    cfg, W, spec, samples = _pinned_setup()
    spec = IntSpec(**{**spec.to_dict(), "frac_bits": (12, 12, 12), "rounding": "stochastic"})
    net = IntegerNetwork(W, (12, 12, 12), cfg, spec, engine=engine)
    out = [net.train_sample(x, y, masks=m).counts.tolist() for x, y, m in samples]
    assert out[-1] == [1, 1, 0, 0]
    Wt = net.int_weights
    assert Wt[0][-1, -3:].tolist() == [1296, 29, 748]
    assert Wt[1][0, :4].tolist() == [-638, 30, 664, -608]
    assert Wt[2][-1, -3:].tolist() == [268, 998, -292]
    assert net.sha256() == PIN_SHA256_STOCHASTIC


# ----------------------------------------------------------------------------- arithmetic


def test_shift_leak_is_075_on_multiples_of_four_and_rounds_up():
    for j in range(2, 31):
        assert shift_leak(2**j, 2) == 3 * 2 ** (j - 2)
        assert shift_leak(-(2**j), 2) == -3 * 2 ** (j - 2)
    v = np.array([5, -5, 1, -1, 3, 0])
    # 0.75 * v rounded towards +infinity
    assert shift_leak(v, 2).tolist() == [4, -3, 1, 0, 3, 0]
    assert (shift_leak(v, 2) == np.ceil(0.75 * v)).all()


def test_saturation_at_width_limits():
    assert saturate(np.array([200, -200, 5]), 8).tolist() == [127, -128, 5]
    wi, frac = quantize([np.array([[10.0, -10.0, 0.5]])], IntSpec(weight_bits=8, frac_bits=(6,)))
    assert wi[0].dtype == np.int8 and wi[0].tolist() == [[127, -128, 32]]
    # an update beyond the range saturates instead of wrapping
    cfg = Config(sizes=(2, 2, 2), T=3, error_margin=0, p_hid=0.0, lr=1.0)
    spec = IntSpec(weight_bits=8, frac_bits=(6, 6), trace_frac=4, lr_terms=1)
    P = make_params(cfg, spec, spec.frac_bits)
    W = np.array([[126, 100], [0, 0]], np.int8)  # + 3 * 16 << 2 = +192 each
    spikes = np.array([[1, 0], [1, 0], [1, 0]], bool)
    traces = np.full((3, 2), 16, np.int64)  # r = 1.0 at every step
    weight_update_int(W, np.array([1, 0], np.int8), np.ones(2, bool), spikes, traces,
                      LrShift(0), 1, P)  # fmt: skip
    assert W.tolist() == [[127, 127], [0, 0]]
    W = np.array([[-126, 5], [0, 0]], np.int8)
    weight_update_int(W, np.array([-1, 0], np.int8), np.ones(2, bool), spikes, traces,
                      LrShift(0), 1, P)  # fmt: skip
    assert W.tolist() == [[-128, -128], [0, 0]]


def test_update_is_add_sub_of_shifted_trace_sums():
    cfg = Config(sizes=(3, 2, 2), T=5, error_margin=0, p_hid=0.0)
    spec = IntSpec(frac_bits=(12, 12), trace_frac=10, lr_terms=1)
    P = make_params(cfg, spec, spec.frac_bits)
    rng = np.random.default_rng(0)
    traces = rng.integers(0, 4096, size=(5, 3))
    spikes = np.zeros((5, 2), bool)
    spikes[[1, 3], 0] = True  # neuron 0 spikes at t = 1, 3
    spikes[[0, 2, 4], 1] = True
    W0 = rng.integers(-1000, 1000, size=(2, 3)).astype(np.int16)
    for d in ([1, -1], [-1, 1], [0, 1]):
        W = W0.copy()
        lrs = LrShift(7)  # lr = 2**-7 -> shift 7 + 10 - 12 = 5
        weight_update_int(W, np.array(d, np.int8), np.ones(2, bool), spikes, traces, lrs, 1, P)
        for o in range(2):
            acc = traces[spikes[:, o]].sum(axis=0)
            delta = (acc + 16) >> 5  # round half up
            assert W[o].tolist() == (W0[o] + d[o] * delta).tolist()
    # a dropped-out neuron is not updated
    W = W0.copy()
    weight_update_int(W, np.array([1, 1], np.int8), np.array([False, True]), spikes, traces,
                      LrShift(7), 1, P)  # fmt: skip
    assert (W[0] == W0[0]).all() and (W[1] != W0[1]).any()


def test_stochastic_rounding_is_unbiased_and_seeded_by_the_sample():
    from desire_bp.integer import sample_seeds, xorshift32

    assert xorshift32(1) == 270369  # Marsaglia's xorshift32 (13, 17, 5)
    x = np.arange(5, dtype=np.uint8)
    masks = [np.ones(5, bool), np.array([True, False])]
    a, b = sample_seeds(x, 1, masks, 2), sample_seeds(x, 2, masks, 2)
    assert a == sample_seeds(x, 1, masks, 2) and a != b and a[0] != a[1]
    # E[round] = acc * lr: 0.25 LSB per update survives on average (nearest would give 0)
    cfg = Config(sizes=(1, 1, 2), T=1, error_margin=0, p_hid=0.0)
    spec = IntSpec(frac_bits=(0, 0), trace_frac=2, lr_terms=1)
    P = make_params(cfg, spec, spec.frac_bits)
    W = np.zeros((1, 1), np.int32)
    state = 12345
    for _ in range(4000):
        state = weight_update_int(W, np.array([1], np.int8), np.ones(1, bool),
                                  np.ones((1, 1), bool), np.array([[4]]), LrShift(4), 1, P,
                                  state)  # fmt: skip
    # acc = 4 (r = 1.0), shift 4 + 2 - 0 = 6: 4 / 64 per update -> ~250 after 4000 updates
    assert 200 < W[0, 0] < 300


def test_learning_rate_as_shifts():
    assert lr_to_shifts(2.0**-17, 1) == LrShift(17)
    assert lr_to_shifts(1e-5, 1).a == 17  # nearest power of two in the log domain
    two = lr_to_shifts(3 * 2.0**-10, 2)
    assert two.value == 3 * 2.0**-10
    for lr in (1e-5, 7.3e-6, 2.2e-4):
        assert abs(lr_to_shifts(lr, 2).value / lr - 1) < 0.07
        assert abs(lr_to_shifts(lr, 3).value / lr - 1) < 0.02
    # shift-and-add mantissa: acc * (1 + 2**-1) * 2**-3 rounded
    acc = np.array([0, 7, 8, 100])
    out = _scale_shift(acc, LrShift(0, (1,), (1,)), 3)
    assert out.tolist() == [(a + (a >> 1) + 4) >> 3 for a in acc.tolist()]
    with pytest.raises(ConfigError):
        lr_to_shifts(0.0, 1)


def test_input_encoder_is_exact_byte_over_255():
    cfg = Config(sizes=(256, 2, 2), T=20)
    spec = IntSpec(frac_bits=(12, 12))
    P = make_params(cfg, spec, spec.frac_bits)
    W = [np.zeros((2, 256), np.int16), np.zeros((2, 2), np.int16)]
    x = np.arange(256, dtype=np.uint8)
    f = forward_int(W, x, cfg, P)
    cum = np.cumsum(f.spikes[0], axis=0)
    t = np.arange(1, 21)[:, None]
    assert (cum == (t * x.astype(int)[None, :]) // 255).all()  # floor(t * byte / 255)


def test_output_desire_table_matches_float_rule():
    cfg = preset("mnist", sizes=(784, 10, 10))
    P = make_params(cfg, IntSpec(), (12, 12))
    rng = np.random.default_rng(3)
    for _ in range(200):
        counts = rng.integers(0, cfg.T + 1, size=10).astype(np.int32)
        label = int(rng.integers(0, 10))
        want = reference.output_desire(counts, label, cfg)
        assert (output_desire_int(counts, label, P) == want).all()


@pytest.mark.parametrize("hidden_error", ["abs", "signed"])
def test_hidden_desire_bitplanes_equal_dequantized_float(hidden_error):
    cfg = preset("mnist", sizes=(784, 40, 30), hidden_error=hidden_error, theta_hid=0.02)
    spec = IntSpec(frac_bits=(12, 12))
    P = make_params(cfg, spec, spec.frac_bits)
    rng = np.random.default_rng(5)
    for _ in range(30):
        W = rng.integers(-3000, 3000, size=(30, 40))
        d = rng.integers(-1, 2, size=30).astype(np.int8)
        counts = rng.integers(0, cfg.T + 1, size=30).astype(np.int32)
        mask = rng.random(30) > 0.3
        got = hidden_desire_int(W, d, counts, mask, 2, P)
        # exact integer S, then the float rule on the dequantized value
        target = (d == 1).astype(np.int64)
        if hidden_error == "signed":
            k = target * cfg.T - counts
            sgn = np.abs(d) * mask
            S = (W * (k * sgn)[:, None]).sum(axis=0) / (cfg.T * 4096.0)
        else:
            k = np.abs(target * (cfg.T - cfg.error_margin) - counts)
            S = (W * (k * d * mask)[:, None]).sum(axis=0) / ((cfg.T - cfg.error_margin) * 4096.0)
        want = np.where(np.abs(S) >= cfg.theta_hid, np.sign(S), 0)
        assert got.tolist() == want.astype(int).tolist()


def test_choose_frac_bits_keeps_headroom():
    w = [np.array([[0.2, -0.24]]), np.array([[0.3]]), np.array([[1e-3]])]
    assert choose_frac_bits(w, 16, 2.0) == (16, 15, 23)
    assert choose_frac_bits(w, 8, 2.0) == (8, 7, 15)


def test_integer_mode_needs_integer_leak():
    with pytest.raises(ConfigError, match="mempot_decay"):
        make_params(Config(sizes=(4, 3, 2), mempot_decay=1.5), IntSpec(), (12, 12))


# ----------------------------------------------------------------------------- engines


@pytest.mark.parametrize(
    ("hidden_error", "rounding", "potentiation"),
    [
        ("abs", "nearest", "always"),
        ("signed", "nearest", "always"),
        ("abs", "stochastic", "always"),
        ("abs", "nearest", "below-target"),
        ("abs", "stochastic", "below-target"),
    ],
)
def test_fast_engine_is_bit_identical_to_readable(hidden_error, rounding, potentiation):
    cfg = preset("mnist", sizes=(49, 24, 16, 10), hidden_error=hidden_error, p_in=0.1, T=12,
                 error_margin=3, potentiation=potentiation)  # fmt: skip
    rng = np.random.default_rng(11)
    images = rng.integers(0, 256, size=(12, 49)).astype(np.uint8)
    images[images < 150] = 0  # sparse, MNIST-like
    labels = rng.integers(0, 10, size=12)
    masks = [reference.draw_masks(cfg, rng) for _ in range(12)]
    spec = IntSpec(lr_terms=2, rounding=rounding)

    def trained(cfg, engine):
        net = IntegerNetwork.init(cfg, spec, engine=engine)
        results = [net.train_sample(images[s], int(labels[s]), 5e-4, masks[s]) for s in range(12)]
        return net, results

    (ref, a), (fast, b) = trained(cfg, "reference"), trained(cfg, "fast")
    for ra, rb in zip(a, b, strict=True):
        assert ra.counts.tolist() == rb.counts.tolist() and ra.correct == rb.correct
    assert ref.sha256() == fast.sha256()
    assert ref.sha256() != IntegerNetwork.init(cfg).sha256()  # something was learned
    if potentiation == "below-target":  # the cap changed the training: it was exercised
        assert trained(cfg.replace(potentiation="always"), "fast")[0].sha256() != ref.sha256()
    ev = [n.evaluate(images, labels) for n in (ref, fast)]
    assert (ev[0].counts == ev[1].counts).all()


def test_forward_close_to_float_engine():
    """Same (dequantized) weights: integer and float spike counts differ only by rounding."""
    cfg = preset("mnist", sizes=(49, 30, 20, 10), T=20)
    inet = IntegerNetwork.init(cfg)
    rng = np.random.default_rng(2)
    X = rng.integers(0, 256, size=(40, 49)).astype(np.uint8)
    X[X < 120] = 0
    ci = inet.forward_batch(X)
    W = inet.weights
    cf = np.stack([reference.forward(W, x / np.float32(255), cfg).counts[-1] for x in X])
    assert np.abs(ci - cf).mean() < 0.2


class _Data:
    def __init__(self, images, labels):
        self.images, self.labels = images, labels


def test_training_loop_and_exact_resume(tmp_path):
    from desire_bp.integer import with_integer_format

    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(60, 49)).astype(np.uint8)
    X[X < 140] = 0
    y = (X[:, :10].sum(axis=1) % 3).astype(np.int64)
    data = (_Data(X[:40], y[:40]), _Data(X[40:], y[40:]))
    cfg = preset("mnist", sizes=(49, 20, 12, 3), epochs=2, lr=1e-3)
    cfg = with_integer_format(cfg)
    assert cfg.integer.frac_bits is not None
    full, rows = train(cfg, tmp_path / "a", data=data, progress=False, log=None)
    assert isinstance(full, IntegerNetwork) and len(rows) == 2
    train(cfg.replace(epochs=1), tmp_path / "b", data=data, progress=False, log=None)
    resumed, rows_b = train(cfg, tmp_path / "b", resume=True, data=data, progress=False, log=None)
    assert resumed.sha256() == full.sha256()
    assert [r["test_accuracy"] for r in rows_b] == [r["test_accuracy"] for r in rows]
    # the checkpoint round-trips to the same integers
    again = IntegerNetwork.load(tmp_path / "a" / "checkpoint.npz")
    assert again.sha256() == full.sha256()
    # what desire-bp eval loads: the integer network, reproducing the recorded accuracy
    from desire_bp.integer import load_network

    net = load_network(tmp_path / "a" / "checkpoint.npz")
    assert isinstance(net, IntegerNetwork) and net.sha256() == full.sha256()
    assert net.evaluate(data[1].images, data[1].labels).accuracy == rows[-1]["test_accuracy"]
    from desire_bp import Network

    Network.init(preset("mnist", sizes=(49, 5, 3))).save(tmp_path / "float.npz")
    assert type(load_network(tmp_path / "float.npz")) is Network


def test_cli_train_int(tmp_path, monkeypatch):
    """``desire-bp train --arithmetic int`` wires the integer network into the loop."""
    from desire_bp import cli, training

    seen = {}

    def fake_train(cfg, run_dir, **kw):
        net = IntegerNetwork.from_network(training.Network.init(cfg), cfg.integer)
        seen["net"] = net
        return net, []

    monkeypatch.setattr(training, "train", fake_train)
    rc = cli.main(["train", "--hidden", "8,6", "--arithmetic", "int", "--int-weight-bits", "12",
                   "--run-dir", str(tmp_path / "r"), "--no-progress"])  # fmt: skip
    assert rc == 0
    net = seen["net"]
    assert isinstance(net, IntegerNetwork) and net.spec.weight_bits == 12
    assert net.cfg.integer.weight_bits == 12 and net.cfg.integer.frac_bits is not None


def test_config_of_older_runs_is_read(tmp_path):
    """Config files written before ``integer`` and ``init_from`` were fields (inside ``extra``)
    are read into the typed fields, and written back in the current form."""
    import json
    from pathlib import Path

    from desire_bp.config import InitFrom, IntSpec

    old = json.loads(
        (Path(__file__).parent.parent / "results/integer/int-mnist/config.json").read_text()
    )
    assert "extra" in old
    cfg = Config.from_dict(old)
    assert isinstance(cfg.integer, IntSpec) and cfg.integer.frac_bits is not None
    assert cfg.arithmetic == "int" and Config.from_dict(cfg.to_dict()) == cfg
    origin = {"path": "runs/a/best.npz", "epoch": 3, "sha256": "0" * 64}
    cfg = Config.from_dict({"extra": {"init_from": origin}})
    assert cfg.init_from == InitFrom(**origin) and cfg.to_dict()["init_from"] == origin
    with pytest.raises(ConfigError, match="extra"):
        Config.from_dict({"extra": {"something": 1}})
