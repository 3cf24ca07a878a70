"""Tiny hand-computed cases for each rule of the specification (docs/spec.md), on the readable
engine.

Each test is run on both engines where the rule is observable through the Network API, so the
fast path is held to the same hand-computed numbers.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from desire_bp import Config, Network
from desire_bp.config import ConfigError, preset
from desire_bp.engine import reference

F32 = np.float32
ENGINES = ["reference", "fast"]


def cfg_for(sizes, **kw) -> Config:
    base = dict(sizes=sizes, T=8, p_in=0.0, p_hid=0.0, error_margin=0)
    base.update(kw)
    return Config(**base)


def chain(weights_scalar: list[float], n_out: int = 2) -> list[np.ndarray]:
    """Weights of a 1-1-...-n_out chain; the last layer copies to all outputs."""
    ws = [np.array([[w]], F32) for w in weights_scalar[:-1]]
    ws.append(np.full((n_out, 1), weights_scalar[-1], F32))
    return ws


# --------------------------------------------------------------------------- input encoding


@pytest.mark.parametrize(
    "x, expected",
    [
        (1.0, [1, 1, 1, 1, 1, 1, 1, 1]),
        (0.5, [0, 1, 0, 1, 0, 1, 0, 1]),
        (0.25, [0, 0, 0, 1, 0, 0, 0, 1]),
        (0.75, [0, 1, 1, 1, 0, 1, 1, 1]),
        (0.0, [0] * 8),
    ],
)
def test_input_encoding_spike_trains(x, expected):
    cfg = cfg_for((1, 1, 2))
    fwd = reference.forward(chain([1.0, 1.0]), np.array([x]), cfg)
    assert fwd.spikes[0][:, 0].astype(int).tolist() == expected
    assert fwd.counts[0][0] == sum(expected)


def test_input_dropout_silences_pixel_without_reset():
    cfg = cfg_for((2, 1, 2))
    masks = [np.array([True, False]), np.ones(1, bool), np.ones(2, bool)]
    fwd = reference.forward(
        [np.ones((1, 2), F32), np.ones((2, 1), F32)], np.array([1.0, 1.0]), cfg, masks
    )
    assert fwd.counts[0].tolist() == [8, 0]


# --------------------------------------------------------------------------- LIF dynamics


@pytest.mark.parametrize("engine", ENGINES)
def test_leak_before_integrate(engine):
    # W = 1 and an input spike at every step: leak-first gives v = 0*0.75 + 1 = 1 >= 1 at t=0,
    # so the hidden neuron fires at every step (integrate-then-leak would give 0.75 at t=0).
    cfg = cfg_for((1, 1, 2))
    net = Network(chain([1.0, 1.0]), cfg, engine)
    fwd = reference.forward(net.reference_weights, np.array([1.0]), cfg)
    assert fwd.spikes[1][:, 0].all()


def test_leak_value_sequence():
    # W = 0.5: v = 0.5, 0.875, 1.15625 -> spike, 0.15625 * 0.75 + 0.5 = 0.6171875, ...
    cfg = cfg_for((1, 1, 2), T=4)
    fwd = reference.forward(chain([0.5, 1.0]), np.array([1.0]), cfg)
    assert fwd.spikes[1][:, 0].astype(int).tolist() == [0, 0, 1, 0]


@pytest.mark.parametrize("engine", ENGINES)
def test_subtractive_reset(engine):
    # W = 0.9, input spike each step, beta 0.75:
    # subtractive reset: v = .9, 1.575*, 1.331*, 1.148*, 1.011*, .908, 1.581* -> 0111101
    # reset-to-zero would give 0101010.
    cfg = cfg_for((1, 1, 2), T=7)
    net = Network(chain([0.9, 1.0]), cfg, engine)
    fwd = reference.forward(net.reference_weights, np.array([1.0]), cfg)
    assert fwd.spikes[1][:, 0].astype(int).tolist() == [0, 1, 1, 1, 1, 0, 1]
    # and the engine's own output counts agree with the reference
    assert net.forward(np.array([1.0])).tolist() == fwd.counts[-1].tolist()


@pytest.mark.parametrize("engine", ENGINES)
def test_one_step_delay_between_lif_layers(engine):
    # Strong weights: every LIF layer fires whenever it receives a spike. Layer 1 sees the
    # input at the same step, every later layer one step later: counts T, T, T-1, T-2.
    cfg = cfg_for((1, 1, 1, 2), T=8)
    net = Network(chain([2.0, 2.0, 2.0]), cfg, engine)
    fwd = reference.forward(net.reference_weights, np.array([1.0]), cfg)
    assert [int(c[0]) for c in fwd.counts] == [8, 8, 7, 6]
    assert fwd.spikes[2][:, 0].astype(int).tolist() == [0, 1, 1, 1, 1, 1, 1, 1]
    assert fwd.spikes[3][:, 0].astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 1]
    assert net.forward(np.array([1.0])).tolist() == [6, 6]


def test_traces_include_same_step_and_clamp_scaled_input():
    # Hidden dropout p = 0.5 scales layer-1 spikes by 2 for layer 2; the trace clamps to 1.
    cfg = cfg_for((1, 1, 2), T=4, p_hid=0.5)
    masks = [np.ones(1, bool), np.ones(1, bool), np.ones(2, bool)]
    fwd = reference.forward(chain([2.0, 0.1]), np.array([1.0]), cfg, masks, train=True)
    u2 = fwd.inputs[2][:, 0]
    assert u2.tolist() == [0.0, 2.0, 2.0, 2.0]  # y_1 = c_1 * s_1 = 2, delayed one step
    r2 = fwd.traces[2][:, 0]
    np.testing.assert_allclose(r2, [0.0, 1.0, 1.75, 2.3125])
    r1 = fwd.traces[1][:, 0]  # input trace: spike at every step, same-step included
    np.testing.assert_allclose(r1, [1.0, 1.75, 2.3125, 2.734375])


def test_dropout_scale_in_training_only():
    cfg = cfg_for((1, 1, 2), T=2, p_hid=0.5)
    fwd_train = reference.forward(
        chain([2.0, 0.1]),
        np.array([1.0]),
        cfg,
        [np.ones(1, bool)] * 2 + [np.ones(2, bool)],
        train=True,
    )
    fwd_eval = reference.forward(chain([2.0, 0.1]), np.array([1.0]), cfg)
    assert fwd_train.inputs[2][1, 0] == 2.0
    assert fwd_eval.inputs[2][1, 0] == 1.0
    assert reference.scales(cfg, True) == [1.0, 2.0, 1.0]


# --------------------------------------------------------------------------- desire


def test_output_desire_and_threshold():
    cfg = Config(sizes=(4, 4), T=20, error_margin=4, theta_out=0.3)
    # denominators 16: label count 11 -> e = 0.3125 > 0.3 -> +1; 12 -> 0.25 -> 0
    # non-label 5 -> 0.3125 -> -1; 4 -> 0.25 -> 0
    d = reference.output_desire(np.array([11, 5, 4, 0]), 0, cfg)
    assert d.tolist() == [1, -1, 0, 0]
    d = reference.output_desire(np.array([12, 5, 4, 16]), 0, cfg)
    assert d.tolist() == [0, -1, 0, -1]
    # strict '>' for the output layer: e == theta gives no desire
    cfg2 = cfg.replace(theta_out=0.25)
    assert reference.output_desire(np.array([12, 4]), 0, cfg2).tolist() == [0, 0]


def test_hidden_desire_hand_computed():
    cfg = Config(sizes=(3, 2, 2), T=20, error_margin=4, theta_hid=0.05)
    W = np.array([[0.2, -0.1, 0.01], [0.3, 0.1, 0.0]], F32)  # W_l, (n_l=2, n_{l-1}=3)
    d = np.array([1, -1], np.int8)
    counts = np.array([8, 4])  # rates 0.5, 0.25 -> err = |1 - .5| = .5, |0 - .25| = .25
    mask = np.ones(2, bool)
    # S = W^T @ (err * d) = [0.2*.5 - 0.3*.25, -0.1*.5 - 0.1*.25, 0.01*.5 - 0]
    #   = [0.025, -0.075, 0.005] -> [0, -1, 0]
    assert reference.hidden_desire(W, d, counts, mask, cfg).tolist() == [0, -1, 0]
    # '>=' for hidden layers: threshold exactly |S| = 0.075 still fires (float32 values)
    S = W.T @ (np.array([0.5, -0.25], F32))
    cfg_eq = cfg.replace(theta_hid=float(abs(S[1])))
    assert reference.hidden_desire(W, d, counts, mask, cfg_eq)[1] == -1
    # dropout mask removes neuron 1's contribution: S = [0.1, -0.05, 0.005] -> [1, -1, 0]
    assert reference.hidden_desire(W, d, counts, np.array([True, False]), cfg).tolist() == [
        1,
        -1,
        0,
    ]
    # desire 0 removes it too
    assert reference.hidden_desire(W, np.array([1, 0], np.int8), counts, mask, cfg).tolist() == [
        1,
        -1,
        0,
    ]


def test_hidden_desire_abs_vs_signed_error():
    # A neuron with desire +1 firing more than T - margin: abs error pushes on (|1 - 1.25|),
    # the paper's signed error with n/T does not flip sign but changes magnitude.
    cfg = Config(sizes=(1, 1, 2), T=20, error_margin=4, theta_hid=0.0)
    W = np.array([[1.0]], F32)
    d = np.array([1], np.int8)
    counts = np.array([20])
    assert reference.hidden_desire(W, d, counts, np.ones(1, bool), cfg).tolist() == [1]
    signed = cfg.replace(hidden_error="signed", theta_hid=0.01)
    # target - n/T = 1 - 1 = 0 -> no desire
    assert reference.hidden_desire(W, d, counts, np.ones(1, bool), signed).tolist() == [0]


# --------------------------------------------------------------------------- update


def test_weight_update_masking_and_value():
    spikes = np.array([[1, 1, 0], [0, 1, 1], [1, 1, 1]], bool)  # (T, n_out=3)
    traces = np.array([[1.0, 0.0], [0.75, 1.0], [1.5625, 0.75]], F32)  # (T, n_in=2)
    W = np.zeros((3, 2), F32)
    d = np.array([1, -1, 1], np.int8)
    mask = np.array([True, True, False])
    reference.weight_update(W, d, mask, spikes, traces, lr=0.5)
    # neuron 0 spiked at t=0,2: sum r = [2.5625, 0.75]; +0.5 *
    np.testing.assert_allclose(W[0], [1.28125, 0.375])
    # neuron 1 at t=0,1,2: sum r = [3.3125, 1.75]; -0.5 *
    np.testing.assert_allclose(W[1], [-1.65625, -0.875])
    # neuron 2 dropped out: unchanged
    assert (W[2] == 0).all()
    W2 = np.zeros((3, 2), F32)
    reference.weight_update(W2, np.zeros(3, np.int8), np.ones(3, bool), spikes, traces, 0.5)
    assert (W2 == 0).all()


@pytest.mark.parametrize("engine", ENGINES)
def test_train_sample_matches_hand_update(engine):
    # 1-1-2 chain, x = 1 (input spikes each step), W1 = 2 (layer 1 fires each step),
    # W2 = [0.1, 0.1]: outputs silent at first.  Label 0 -> output 0 desire +1, output 1 has
    # e = 0 -> no desire.  Layer 1 desire from S = W2^T (err * d) = 0.1 * 1 >= 0.05 -> +1.
    cfg = Config(
        sizes=(1, 1, 2),
        T=4,
        error_margin=0,
        theta_out=0.3,
        theta_hid=0.05,
        p_in=0.0,
        p_hid=0.0,
        lr=0.01,
    )
    net = Network([np.array([[2.0]], F32), np.array([[0.1], [0.1]], F32)], cfg, engine)
    res = net.train_sample(np.array([1.0]), 0, lr=0.01)
    assert res.counts.tolist() == [0, 0] and not res.correct
    W1, W2 = net.weights
    # layer 1: spikes at t=0..3, input trace r = 1, 1.75, 2.3125, 2.734375 -> sum 7.796875
    np.testing.assert_allclose(W1, [[2.0 + 0.01 * 7.796875]], rtol=1e-6)
    # layer 2: output 0 never spiked -> no STDP term; weights unchanged
    np.testing.assert_allclose(W2, [[0.1], [0.1]])


# --------------------------------------------------------------------------- schedule, rule


def test_learning_rate_schedule():
    cfg = preset("mnist", spec_schedule=True)
    assert cfg.lr_at(0) == 1e-5
    assert math.isclose(cfg.lr_at(10), 1e-5 * math.exp(-0.4))
    assert math.isclose(cfg.beta, 0.75)


def test_tie_rule():
    assert reference.is_correct(np.array([3, 1, 2]), 0)
    assert not reference.is_correct(np.array([3, 3, 2]), 0)
    assert not reference.is_correct(np.array([0, 0, 0]), 1)
    assert reference.predict(np.array([3, 3, 2])) == -1
    assert reference.predict(np.array([1, 3, 2])) == 1


def test_evaluate_counts_ties_wrong():
    cfg = cfg_for((1, 1, 2))
    net = Network(chain([2.0, 2.0]), cfg)  # both outputs fire identically -> tie
    ev = net.evaluate(np.array([[1.0], [0.0]], F32), np.array([0, 1]))
    assert ev.accuracy == 0.0
    assert ev.predictions.tolist() == [-1, -1]
    assert ev.confusion[:, -1].tolist() == [1, 1]


def test_dropout_masks_statistics_and_block_equivalence():
    cfg = preset("mnist", sizes=(784, 1600, 800, 10))
    rng = np.random.default_rng(1)
    block = reference.draw_mask_block(cfg, rng, 50)
    assert [m.shape for m in block] == [(50, 784), (50, 1600), (50, 800), (50, 10)]
    assert block[0].all() and block[-1].all()
    assert abs(block[1].mean() - 0.7) < 0.01
    rng2 = np.random.default_rng(1)
    one_by_one = [reference.draw_masks(cfg, rng2) for _ in range(50)]
    for layer in range(4):
        assert np.array_equal(block[layer], np.stack([m[layer] for m in one_by_one]))


# --------------------------------------------------------------------------- config


def test_presets_match_spec():
    m = preset("mnist", spec_schedule=True)
    assert (m.sizes, m.T, m.epochs, m.p_in, m.p_hid) == ((784, 1600, 800, 10), 20, 150, 0.0, 0.3)
    assert (m.theta_p, m.theta_hid, m.theta_out, m.error_margin, m.lr, m.lr_decay) == (
        1.0,
        0.05,
        0.30,
        4,
        1e-5,
        0.04,
    )
    f = preset("fashion-mnist", spec_schedule=True)
    assert (f.sizes, f.epochs, f.p_in, f.p_hid, f.dataset) == (
        (784, 1000, 100, 10),
        600,
        0.05,
        0.4,
        "fashion-mnist",
    )


@pytest.mark.parametrize(
    "field, value",
    [
        ("T", 0),
        ("p_hid", 1.0),
        ("p_in", -0.1),
        ("error_margin", 20),
        ("sizes", (784,)),
        ("lr", float("nan")),
        ("hidden_error", "squared"),
        ("theta_p", 0.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        preset("mnist", **{field: value})


def test_config_round_trip():
    cfg = preset("fashion-mnist", seed=3, train_samples=100)
    assert Config.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="bogus"):
        Config.from_dict({**cfg.to_dict(), "bogus": 1})


def test_kaiming_init_statistics():
    cfg = preset("mnist")
    w = Network.init(cfg, seed=0).weights
    assert [x.shape for x in w] == [(1600, 784), (800, 1600), (10, 800)]
    assert all(x.dtype == np.float32 for x in w)
    assert abs(w[0].std() - math.sqrt(2 / 784)) < 1e-3
    assert abs(w[1].std() - math.sqrt(2 / 1600)) < 1e-3
    again = Network.init(cfg, seed=0).weights
    assert all(np.array_equal(a, b) for a, b in zip(w, again, strict=True))


@pytest.mark.parametrize("engine", ENGINES)
def test_leak_skipped_after_spike_option(engine):
    # W = 0.9, input spike each step, leak="skip-after-spike": a neuron that fired at t-1 is
    # not leaked at t.  v = .9, 1.575* -> .575, .575 + .9 = 1.475* -> .475, 1.375* -> .375,
    # 1.275* -> .275, 1.175* -> .175, 1.075* : fires at every step from t = 1 (the
    # specification's rule gives 0111101, test_subtractive_reset).
    cfg = cfg_for((1, 1, 2), T=7, leak="skip-after-spike")
    net = Network(chain([0.9, 1.0]), cfg, engine)
    fwd = reference.forward(net.reference_weights, np.array([1.0]), cfg)
    assert fwd.spikes[1][:, 0].astype(int).tolist() == [0, 1, 1, 1, 1, 1, 1]
    assert net.forward(np.array([1.0])).tolist() == fwd.counts[-1].tolist()


def test_weight_bound_clips_the_neurons_that_changed_and_is_validated():
    from desire_bp.config import IntSpec

    cfg = Config(sizes=(3, 2), T=4, error_margin=0, p_hid=0.0, theta_out=0.25, w_bound=0.5)
    W = np.array([[0.45, -0.45, 0.3], [2.0, -2.0, 0.0]], F32)  # row 1 starts out of bounds
    spikes = np.array([[1, 0], [1, 0], [0, 0], [1, 0]], bool)  # only neuron 0 fires
    traces = np.ones((4, 3), F32)
    reference.weight_update(
        W, np.array([1, 1], np.int8), np.ones(2, bool), spikes, traces, 0.1, cfg.w_bound
    )
    assert W[0, 0] == W[0, 2] == 0.5 and W[0, 1] == pytest.approx(-0.15, abs=1e-6)  # +0.3, clip
    assert W[1].tolist() == [2.0, -2.0, 0.0]  # silent: not updated, so not clipped
    for bad in (-1.0, float("inf")):
        with pytest.raises(ConfigError, match="w_bound"):
            Config(w_bound=bad)
    with pytest.raises(ConfigError, match="w_bound"):
        Config(w_bound=1.0, integer=IntSpec())
    assert preset("mnist").w_bound == 0.0  # the presets keep the paper's rule


def test_weight_update_cap_leaves_out_neurons_at_their_target():
    spikes = np.array([[1, 1, 1], [1, 0, 1], [1, 0, 1]], bool)  # counts 3, 1, 3
    traces = np.ones((3, 2), F32)
    d = np.array([1, 1, -1], np.int8)
    W = np.zeros((3, 2), F32)
    reference.weight_update(W, d, np.ones(3, bool), spikes, traces, 0.5, cap=3)
    assert W[0].tolist() == [0.0, 0.0]  # desired +1 and at the cap: left out
    assert W[1].tolist() == [0.5, 0.5]  # desired +1, below the cap: potentiated
    assert W[2].tolist() == [-1.5, -1.5]  # desire -1 is never capped
    W = np.zeros((3, 2), F32)
    reference.weight_update(W, d, np.ones(3, bool), spikes, traces, 0.5)  # no cap
    assert W[0].tolist() == [1.5, 1.5]


def test_below_target_potentiation_in_training():
    """Under ``potentiation="below-target"`` no neuron desired +1 that fired at least
    ``T - error_margin`` times changes, in any layer; under the default such neurons do."""
    rng = np.random.default_rng(4)
    sizes = (30, 16, 8, 4)
    kw = dict(sizes=sizes, T=8, error_margin=2, p_hid=0.25, theta_hid=0.0, theta_out=0.25)
    capped = Config(**kw, potentiation="below-target")
    assert capped.potentiation_cap == 6 and Config(**kw).potentiation_cap == 0
    weights = [
        rng.normal(0.15, 0.4, size=(n_out, n_in)).astype(F32)
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    seen = {"always": 0, "below-target": 0}
    for cfg in (Config(**kw), capped):
        W = [w.copy() for w in weights]
        for _ in range(40):
            x = (rng.random(sizes[0]) < 0.5).astype(F32)
            masks = reference.draw_masks(cfg, rng)
            before = [w.copy() for w in W]
            fwd, desire = reference.train_sample(W, x, int(rng.integers(4)), cfg, masks, 0.01)
            for layer in range(1, len(sizes)):
                d, m = desire[layer - 1], masks[layer]
                at_target = (d > 0) & m & (fwd.counts[layer] >= 6)
                changed = (W[layer - 1] != before[layer - 1]).any(axis=1)
                if cfg.potentiation == "below-target":
                    assert not changed[at_target].any()
                else:
                    assert changed[at_target].all()  # each spiked with a nonzero input trace
                seen[cfg.potentiation] += int(at_target.sum())
    assert min(seen.values()) > 0  # the case arose under both rules
    with pytest.raises(ConfigError, match="potentiation"):
        Config(potentiation="never")
    assert preset("mnist").potentiation == "always"  # the presets keep the paper's rule
