"""The fast engine against the readable one.

* Exactly, on dyadic numbers: with weights, pixels and learning rates that are small
  multiples of powers of two, every float32 sum is exact whatever its order, so both engines
  must produce bit-identical spikes, desires and weights (hypothesis property; with and
  without the weight-bound extension).
* Exactly, on real MNIST with the full preset: from the same weights and dropout masks, 500
  online training samples give identical output spike counts and classifications at every
  sample, bit-identical weights afterwards, and identical spike counts on 200 test samples.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from desire_bp import Config, Network, preset
from desire_bp.data import load_dataset
from desire_bp.engine import reference

F32 = np.float32


@st.composite
def dyadic_case(draw):
    n_layers = draw(st.integers(1, 3))
    sizes = [draw(st.integers(1, 12)) for _ in range(n_layers)] + [draw(st.integers(2, 5))]
    T = draw(st.sampled_from([2, 4, 8]))
    margin = draw(st.sampled_from([m for m in range(T) if (T - m) in (1, 2, 4, 8)]))
    p_hid = draw(st.sampled_from([0.0, 0.5]))
    p_in = draw(st.sampled_from([0.0, 0.5]))
    cfg = Config(
        sizes=tuple(sizes),
        T=T,
        error_margin=margin,
        p_in=p_in,
        p_hid=p_hid,
        theta_hid=draw(st.sampled_from([0.0, 0.0625, 0.25])),
        theta_out=draw(st.sampled_from([0.25, 0.5])),
        hidden_error=draw(st.sampled_from(["abs", "signed"])) if T in (4, 8) else "abs",
        leak=draw(st.sampled_from(["always", "skip-after-spike"])),
        w_bound=draw(st.sampled_from([0.0, 0.75, 1.0])),  # the extension (weights reach 1.25)
        potentiation=draw(st.sampled_from(["always", "below-target"])),  # an extension
    )
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    weights = [
        (rng.integers(-48, 80, size=(n_out, n_in)) / 64).astype(F32)
        for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)
    ]
    n_samples = 4
    X = (rng.integers(0, 5, size=(n_samples, sizes[0])) / 4).astype(F32)
    y = rng.integers(0, sizes[-1], size=n_samples)
    masks = reference.draw_mask_block(cfg, rng, n_samples)
    return cfg, weights, X, y, masks


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dyadic_case())
def test_engines_bit_identical_on_dyadic_numbers(case):
    cfg, weights, X, y, masks = case
    fast = Network(weights, cfg, "fast")
    ref = Network(weights, cfg, "reference")
    lr = 2.0**-6
    for s in range(len(X)):
        m = [mm[s] for mm in masks]
        a = fast.train_sample(X[s], int(y[s]), lr, m)
        b = ref.train_sample(X[s], int(y[s]), lr, m)
        assert a.counts.tolist() == b.counts.tolist()
        assert a.correct == b.correct
        for wa, wb in zip(fast.weights, ref.weights, strict=True):
            assert np.array_equal(wa, wb)
    assert np.array_equal(fast.forward_batch(X), ref.forward_batch(X))


def test_fast_matches_reference_on_mnist_preset(mnist_dir):
    """500 online samples of the full preset: identical counts at every sample, bit-identical
    weights after them, identical evaluation counts."""
    cfg = preset("mnist")
    train = load_dataset("mnist", "train", mnist_dir).subset(500)
    fast = Network.init(cfg, seed=7, engine="fast")
    ref = Network(fast.weights, cfg, "reference")
    masks = reference.draw_mask_block(cfg, np.random.default_rng(11), len(train))
    lr = 1e-4  # ten times the preset's, so that the weights really move
    for s in range(len(train)):
        m = [mm[s] for mm in masks]
        a = fast.train_sample(train.images[s], int(train.labels[s]), lr, m)
        b = ref.train_sample(train.images[s], int(train.labels[s]), lr, m)
        assert a.counts.tolist() == b.counts.tolist(), f"sample {s}"
        assert a.correct == b.correct, f"sample {s}"
    moved = max(
        np.abs(w - w0).max()
        for w, w0 in zip(ref.weights, Network.init(cfg, seed=7).weights, strict=True)
    )
    assert moved > 1e-3  # the check below is not vacuous
    for a, b in zip(fast.weights, ref.weights, strict=True):
        assert np.array_equal(a, b)
    test = load_dataset("mnist", "test", mnist_dir).subset(200)
    assert np.array_equal(fast.forward_batch(test.images), ref.forward_batch(test.images))
