"""A second, independent formulation of the specification (docs/spec.md) against the engines:
a departure from the specification in one of them would show up here.

The readable engine (``desire_bp.engine.reference``) keeps one ``(T, n)`` spike array per layer and
spells the one-step delay out as ``spikes[l-1][t-1]``.  The formulation below is organised the
other way round, the way a dense tensor implementation of the method is usually written:
every LIF layer owns ``(T + 1, n)`` buffers and writes the step-``t`` result into row ``t + 1``
(row 0 stays zero), the input layer writes row ``t``, each layer reads row ``t`` of the layer
before it, traces are kept in a ``(T + 1, n_in)`` buffer aligned with the output rows, the
desire is a dense ``W.T @ v`` and the update a dense sum over all rows.  The delay, the trace
alignment and the update window all fall out of the buffer indexing instead of being written
down, so a misreading of the specification in one formulation would show up as a disagreement.

On dyadic numbers every float32 operation involved is exact, so the two must agree bit for bit
over several online steps (hypothesis property, all options of the engines).
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from test_equivalence import dyadic_case

from desire_bp import Config, Network

F32 = np.float32


def dense_train_step(
    weights: list[np.ndarray],
    x: np.ndarray,
    label: int,
    masks: list[np.ndarray],
    cfg: Config,
    lr: float,
) -> list[np.ndarray]:
    """One online step on ``weights`` (updated in place); returns the spike counts per layer."""
    T, theta, beta = cfg.T, F32(cfg.theta_p), F32(cfg.beta)
    L = len(weights)
    c = [F32(1.0 / (1.0 - cfg.dropout(layer))) for layer in range(L + 1)]
    # buffers: out[0] is written at row t, out[l >= 1] at row t + 1
    out = [np.zeros((T + 1, n), F32) for n in cfg.sizes]
    trace = [np.zeros((T + 1, w.shape[1]), F32) for w in weights]
    v = [np.zeros(n, F32) for n in cfg.sizes]
    fired = [np.zeros(n, bool) for n in cfg.sizes]
    for t in range(T):
        v[0] += x
        s = (v[0] >= theta) & masks[0]
        v[0] -= theta * s
        out[0][t] = c[0] * s
        for layer in range(1, L + 1):
            u = out[layer - 1][t]  # same step for layer 1, the step before for the others
            if cfg.leak == "skip-after-spike":
                v[layer] = np.where(fired[layer], v[layer], v[layer] * beta)
            else:
                v[layer] = v[layer] * beta
            v[layer] = v[layer] + weights[layer - 1] @ u
            s = (v[layer] >= theta) & masks[layer]
            v[layer] -= theta * s
            fired[layer] = s
            out[layer][t + 1] = c[layer] * s
            trace[layer - 1][t + 1] = beta * trace[layer - 1][t] + np.minimum(u, F32(1.0))
    counts = [(o != 0).sum(axis=0) for o in out]

    # desire, output layer first
    rate_out = counts[L].astype(F32) / F32(T - cfg.error_margin)
    err = np.where(np.arange(cfg.sizes[-1]) == label, F32(1.0) - rate_out, rate_out)
    sign = np.where(np.arange(cfg.sizes[-1]) == label, 1, -1)
    desire = [None] * (L + 1)
    desire[L] = np.where(err > F32(cfg.theta_out), sign, 0)
    for layer in range(L, 1, -1):
        d = desire[layer]
        target = (d == 1).astype(F32)
        if cfg.hidden_error == "signed":
            e = target - counts[layer].astype(F32) / F32(T)
            sgn = np.abs(d) * masks[layer]
        else:
            e = np.abs(target - counts[layer].astype(F32) / F32(T - cfg.error_margin))
            sgn = d * masks[layer]
        S = weights[layer - 1].T @ (e * sgn).astype(F32)
        desire[layer - 1] = np.where(np.abs(S) >= F32(cfg.theta_hid), np.sign(S), 0)

    # STDP update of every layer, all rows at once (row 0 is zero in both buffers)
    for layer in range(1, L + 1):
        gate = (out[layer] != 0) & ((desire[layer] != 0) & masks[layer])[None, :]
        signed = gate * desire[layer][None, :].astype(F32)  # (T + 1, n_out)
        weights[layer - 1] += F32(lr) * (signed.T @ trace[layer - 1]).astype(F32)
    return counts


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dyadic_case())
def test_dense_formulation_agrees_bit_for_bit(case):
    cfg, weights, X, y, masks = case
    # the dense formulation is the specification's rule only
    cfg = cfg.replace(w_bound=0.0, potentiation="always")
    dense = [w.copy() for w in weights]
    ref = Network(weights, cfg, "reference")
    fast = Network(weights, cfg, "fast")
    lr = 2.0**-6
    for s in range(len(X)):
        m = [mm[s] for mm in masks]
        counts = dense_train_step(dense, X[s], int(y[s]), m, cfg, lr)
        a = ref.train_sample(X[s], int(y[s]), lr, m)
        b = fast.train_sample(X[s], int(y[s]), lr, m)
        assert counts[-1].tolist() == a.counts.tolist() == b.counts.tolist()
        for wd, wr, wf in zip(dense, ref.weights, fast.weights, strict=True):
            assert np.array_equal(wd, wr)
            assert np.array_equal(wd, wf)


def test_dense_formulation_delays_each_layer_by_one_step():
    """A chain of single neurons that fire on every input spike: the output starts at step 2."""
    cfg = Config(sizes=(1, 1, 1, 2), T=6, error_margin=2, p_hid=0.0, theta_hid=0.0)
    weights = [np.full((1, 1), 2.0, F32), np.full((1, 1), 2.0, F32), np.array([[2.0], [0.0]], F32)]
    ones = [np.ones(n, bool) for n in cfg.sizes]
    counts = dense_train_step([w.copy() for w in weights], np.ones(1, F32), 0, ones, cfg, 0.0)
    # input fires at t = 0..5, layer 1 at 0..5, layer 2 at 1..5, output neuron 0 at 2..5
    assert [c.tolist() for c in counts] == [[6], [6], [5], [4, 0]]
    for engine in ("reference", "fast"):
        assert Network(weights, cfg, engine).forward(np.ones(1, F32)).tolist() == [4, 0]
