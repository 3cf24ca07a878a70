"""The readable integer engine: the specification (``docs/spec.md``) in integer arithmetic,
NumPy, one function per step, like :mod:`desire_bp.engine.reference`.

The fast integer kernels (:mod:`desire_bp.integer.kernels`) are tested against these functions
bit for bit; the integer choices are described in :mod:`desire_bp.integer` and
``docs/integer.md``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..config import Config
from ..engine.reference import updated_neurons
from .format import IntParams, LrShift, saturate, shift_leak

__all__ = [
    "IntForward",
    "as_bytes",
    "forward_int",
    "output_desire_int",
    "hidden_desire_int",
    "backward_int",
    "xorshift32",
    "sample_seeds",
    "weight_update_int",
    "train_sample_int",
]

M32 = 0xFFFFFFFF


@dataclass
class IntForward:
    """Everything the integer forward pass of one sample produces.

    Attributes:
        spikes: ``spikes[l]`` ``(T, n_l)`` bool, ``l = 0..L``.
        inputs: ``inputs[l]`` ``(T, n_{l-1})`` bool, binary input of LIF layer ``l``
            (``inputs[0]`` is ``None``).
        traces: ``traces[l]`` ``(T, n_{l-1})`` int64 fixed-point traces (``None`` at 0).
        counts: ``counts[l]`` ``(n_l,)`` int32.
    """

    spikes: list[np.ndarray]
    inputs: list[np.ndarray | None]
    traces: list[np.ndarray | None]
    counts: list[np.ndarray]


def as_bytes(x: np.ndarray) -> np.ndarray:
    """Pixels as int64 bytes 0..255: uint8 taken as is, floats in [0, 1] as ``rint(x*255)``."""
    a = np.asarray(x)
    if a.dtype == np.uint8:
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.integer):
        if a.size and (a.min() < 0 or a.max() > 255):
            raise ValueError("integer pixels must be bytes 0..255")
        return a.astype(np.int64)
    b = np.rint(np.asarray(a, np.float64) * 255.0)
    if b.size and (not np.isfinite(b).all() or b.min() < 0 or b.max() > 255):
        raise ValueError("float pixels must lie in [0, 1]")
    return b.astype(np.int64)


def forward_int(
    W: Sequence[np.ndarray],
    x: np.ndarray,
    cfg: Config,
    P: IntParams,
    masks: Sequence[np.ndarray] | None = None,
    train: bool = False,
) -> IntForward:
    """Integer forward pass of one sample (``docs/spec.md``, "Forward pass", in integer arithmetic).

    Args:
        W: integer weights, ``W[l-1]`` of shape ``(n_l, n_{l-1})``.
        x: pixel bytes ``(n_0,)`` (uint8; floats in [0, 1] are converted with ``rint(x*255)``).
        masks: dropout masks (``None``: all ones).
        train: use the training thresholds (dropout scale folded into the threshold).
    """
    T, sizes, k, fr = cfg.T, cfg.sizes, P.mempot_decay, P.trace_frac
    L = len(sizes) - 1
    if masks is None:
        masks = [np.ones(n, bool) for n in sizes]
    theta = P.theta_train if train else P.theta_eval
    xb = as_bytes(x).reshape(-1)
    spikes = [np.zeros((T, n), bool) for n in sizes]
    inputs: list[np.ndarray | None] = [None] + [np.zeros((T, n), bool) for n in sizes[:-1]]
    v = [np.zeros(n, np.int64) for n in sizes]
    for t in range(T):
        v[0] += xb  # integrate the raw bytes; threshold theta_p * 255
        spikes[0][t] = (v[0] >= P.theta_in) & masks[0]
        v[0] -= np.where(spikes[0][t], P.theta_in, 0)
        for layer in range(1, L + 1):
            if layer == 1:
                u = spikes[0][t]
            elif t > 0:
                u = spikes[layer - 1][t - 1]  # one-step delay
            else:
                u = np.zeros(sizes[layer - 1], bool)
            inputs[layer][t] = u
            w = W[layer - 1]
            th = theta[layer - 1]
            v[layer] = shift_leak(v[layer], k)
            # Event-driven integration: the sum of the weight columns of spiking inputs
            # (additions only), exact, then saturated to int32.
            v[layer] = saturate(v[layer] + w[:, u].sum(axis=1, dtype=np.int64), 32)
            spikes[layer][t] = (v[layer] >= th) & masks[layer]
            v[layer] -= np.where(spikes[layer][t], th, 0)
    traces: list[np.ndarray | None] = [None]
    for layer in range(1, L + 1):
        u = inputs[layer]
        r = np.zeros(u.shape, np.int64)
        prev = np.zeros(u.shape[1], np.int64)
        for t in range(T):
            prev = shift_leak(prev, k) + np.where(u[t], 1 << fr, 0)
            r[t] = prev
        traces.append(r)
    counts = [s.sum(axis=0, dtype=np.int32) for s in spikes]
    return IntForward(spikes, inputs, traces, counts)


def output_desire_int(counts: np.ndarray, label: int, P: IntParams) -> np.ndarray:
    """Output desire by table lookup on the integer counts (identical to the float rule)."""
    n = np.asarray(counts, np.int64)
    d = np.where(P.out_neg[n], -1, 0).astype(np.int8)
    d[label] = 1 if P.out_pos[n[label]] else 0
    return d


def hidden_desire_int(
    W: np.ndarray, d: np.ndarray, counts: np.ndarray, mask: np.ndarray, layer: int, P: IntParams
) -> np.ndarray:
    """Desire of layer ``layer - 1`` from layer ``layer`` without multiplications.

    ``k_h = |target_h * denom - n_h|`` (signed form: ``target_h * T - n_h`` with
    ``sgn = |d| m``), ``S[g] = sum_h sgn_h k_h W[h, g]`` summed bit-plane by bit-plane,
    ``d[g] = sign(S[g])`` where ``|S[g]| >= theta_hid``.

    Args:
        W: integer weights of layer ``layer``, ``(n_l, n_{l-1})``.
        d: desire of layer ``layer`` ``(n_l,)`` int8; counts ``(n_l,)``; mask ``(n_l,)`` bool.
    Returns:
        int8 desire ``(n_{l-1},)``.
    """
    n = np.asarray(counts, np.int64)
    target = (d == 1).astype(np.int64)
    if P.signed:
        kk = target * P.denom - n  # (a constant times a 0/1 flag: a selection, not a product)
        sgn = np.where((d != 0) & mask, np.sign(kk), 0)
        kk = np.abs(kk)
    else:
        kk = np.abs(np.where(d == 1, P.denom, 0) - n)
        sgn = np.where(mask, d, 0).astype(np.int64)
    S = np.zeros(W.shape[1], np.int64)
    for b in range(int(kk.max()).bit_length() if kk.size else 0):
        plane = ((kk >> b) & 1).astype(bool)
        pos = plane & (sgn > 0)
        neg = plane & (sgn < 0)
        part = W[pos].sum(axis=0, dtype=np.int64) - W[neg].sum(axis=0, dtype=np.int64)
        S += part << b
    th = P.theta_hid[layer - 1]
    out = np.where(S > 0, 1, np.where(S < 0, -1, 0))
    return np.where(np.abs(S) >= th, out, 0).astype(np.int8)


def backward_int(
    W: Sequence[np.ndarray],
    fwd: IntForward,
    label: int,
    masks: Sequence[np.ndarray],
    cfg: Config,
    P: IntParams,
) -> list[np.ndarray]:
    """Desire of every LIF layer (``desire[l-1]`` is ``d_l``), from pre-update weights."""
    L = len(cfg.sizes) - 1
    desire: list[np.ndarray] = [np.empty(0, np.int8)] * L
    desire[L - 1] = output_desire_int(fwd.counts[L], label, P)
    for layer in range(L, 1, -1):
        desire[layer - 2] = hidden_desire_int(
            W[layer - 1], desire[layer - 1], fwd.counts[layer], masks[layer], layer, P
        )
    return desire


def xorshift32(x: int) -> int:
    """One step of Marsaglia's xorshift32 (shifts and exclusive-ors only; 0 stays 0)."""
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    return x


def sample_seeds(xb: np.ndarray, label: int, masks: Sequence[np.ndarray], n_layers: int) -> list:
    """Per-layer xorshift32 seeds of one sample for stochastic rounding.

    ``h`` starts at ``0x6A09E667`` and absorbs, in order, every pixel byte, the label and every
    dropout-mask bit (layers in order) as ``h = xorshift32(h ^ value)``; layer ``l`` starts
    from ``xorshift32(h ^ (0x9E3779B9 >> l))`` (1 if that is 0).  So a resumed run draws the
    same numbers, and both engines draw them in the same order.
    """
    h = 0x6A09E667
    vals = [*np.asarray(xb, np.int64).tolist(), int(label)]
    for m in masks:
        vals += np.asarray(m, np.int64).tolist()
    for v in vals:
        h = xorshift32(h ^ v)
    out = []
    for layer in range(1, n_layers + 1):
        sd = xorshift32(h ^ (0x9E3779B9 >> layer))
        out.append(sd if sd else 1)
    return out


def _scale_shift(acc: np.ndarray, lrs: LrShift, sh: int) -> np.ndarray:
    """``round(acc * lr_mantissa * 2**-sh)`` for ``acc >= 0`` with shifts and additions only."""
    m = acc.copy()
    for s, e in zip(lrs.signs, lrs.exps, strict=True):
        m = m + (acc >> e) if s > 0 else m - (acc >> e)
    if sh > 0:
        return (m + (1 << (sh - 1))) >> sh  # round half up
    return m << (-sh)


def weight_update_int(
    W: np.ndarray,
    d: np.ndarray,
    mask: np.ndarray,
    spikes: np.ndarray,
    traces: np.ndarray,
    lrs: LrShift,
    layer: int,
    P: IntParams,
    rng_state: int | None = None,
) -> int | None:
    """Integer STDP guided by desire, in place: ``W[o, i] +-= round(lr 2**f sum_t s r)``.

    ``acc[o, i] = sum_{t: s[t, o]} r[t, i]`` (additions of trace values at post-synaptic spike
    times), scaled by the learning-rate shifts, then added (``d = +1``) or subtracted
    (``d = -1``) with saturation; neurons with ``d = 0`` or dropped out are untouched, and
    so are neurons with ``d = +1`` and at least ``P.cap`` spikes when ``P.cap > 0``.

    Args:
        W: integer weights ``(n_out, n_in)``, updated in place.
        spikes: ``(T, n_out)`` bool; traces: ``(T, n_in)`` int64 fixed point.
        lrs: the learning rate as shifts; layer: 1-based layer index (selects ``f_l``).
        rng_state: xorshift32 state for stochastic rounding (``None``: round half up).  One
            number is drawn per weight with a non-zero ``acc``, pre-synaptic index major
            (``i`` ascending, then ``o`` ascending), and ``rho = state & (2**sh - 1)`` is
            added before the shift.
    Returns:
        the new generator state (``None`` when rounding to nearest).
    """
    upd = updated_neurons(d, mask, spikes, P.cap)
    if not upd.any():
        return rng_state
    sh = lrs.a + P.trace_frac - P.frac[layer - 1]
    s = spikes[:, upd]
    # sum over post-synaptic spike times of the traces (a 0/1 selection, summed).
    acc = np.stack([traces[s[:, j]].sum(axis=0) for j in range(s.shape[1])])
    if rng_state is not None and sh > 0:
        m = _scale_shift(acc, lrs, 0)  # the mantissa product, not yet shifted
        rho = np.zeros_like(m)
        for i, q in zip(*np.nonzero(acc.T), strict=True):  # i-major order
            rng_state = xorshift32(rng_state)
            rho[q, i] = rng_state & ((1 << min(sh, 32)) - 1)
        delta = (m + (rho << max(0, sh - 32))) >> sh
    else:
        delta = _scale_shift(acc, lrs, sh)
    w = W[upd].astype(np.int64)
    w = np.where((d[upd] > 0)[:, None], w + delta, w - delta)
    W[upd] = np.clip(w, P.wmin, P.wmax).astype(W.dtype)
    return rng_state


def train_sample_int(
    W: Sequence[np.ndarray],
    x: np.ndarray,
    label: int,
    cfg: Config,
    P: IntParams,
    masks: Sequence[np.ndarray],
    lrs: LrShift,
    stochastic: bool = False,
) -> tuple[IntForward, list[np.ndarray]]:
    """One online integer training step; updates ``W`` in place.  Returns forward, desire.

    ``stochastic``: stochastic rounding of the update (seeds from :func:`sample_seeds`).
    """
    fwd = forward_int(W, x, cfg, P, masks, train=True)
    desire = backward_int(W, fwd, label, masks, cfg, P)
    L = len(cfg.sizes) - 1
    seeds = sample_seeds(as_bytes(x).reshape(-1), label, masks, L) if stochastic else None
    for layer in range(1, L + 1):
        weight_update_int(
            W[layer - 1],
            desire[layer - 1],
            masks[layer],
            fwd.spikes[layer],
            fwd.traces[layer],
            lrs,
            layer,
            P,
            None if seeds is None else seeds[layer - 1],
        )
    return fwd, desire
