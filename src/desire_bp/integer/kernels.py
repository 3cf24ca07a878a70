"""The fast integer engine (Numba): the semantics of :mod:`desire_bp.integer.reference`, bit
for bit, organised like the float kernels (:mod:`desire_bp.engine.kernels`).

The float kernels' type-generic parts are reused as they are: the input encoder
(:func:`~desire_bp.engine.kernels.encode_input`, on pixel bytes), the event-driven accumulation
of input currents (:func:`~desire_bp.engine.kernels.accumulate`, into int64 currents), the spike
buffers and the strict-maximum rule.  Specialised here: the LIF scan (shift leak, int32
saturation), the integer desire and the update with shifts.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np
from numba import njit, prange
from numba.experimental import structref
from numba.typed import List

from ..config import IntSpec
from ..engine.kernels import (
    ScratchType,
    accumulate,
    chunk_bounds,
    encode_input,
    layer_offsets,
    layer_sizes,
    spike_buffers,
    strict_max_correct,
)
from .format import I32_MAX, I32_MIN, IntParams, LrShift

__all__ = [
    "KParams",
    "KLr",
    "KWorkspace",
    "workspace",
    "kparams",
    "klr",
    "train_step",
    "counts_batch",
]


KParams = namedtuple(
    "KParams",
    [
        "theta_in", "theta_p", "mempot_decay", "out_pos", "out_neg", "denom", "signed",
        "theta_hid", "trace_frac", "wmin", "wmax", "stochastic", "cap",
    ],
)  # fmt: skip
KParams.__doc__ = """:class:`~desire_bp.integer.format.IntParams` as the fast kernels read them
(build with :func:`kparams`), under the same names.

Fields: ``theta_in`` (int), ``theta_p`` ``(L,)`` int64 LIF thresholds (the training or the
evaluation ones), ``mempot_decay`` leak shift, ``out_pos`` / ``out_neg`` ``(T + 1,)`` bool
tables, ``denom``, ``signed``, ``theta_hid`` ``(L,)`` int64, ``trace_frac`` trace fraction bits,
``wmin`` / ``wmax``, ``stochastic`` rounding, ``cap`` (no update of a neuron desired +1 with
at least ``cap`` spikes; 0: none).
"""

KLr = namedtuple("KLr", ["shifts", "signs", "exps"])
KLr.__doc__ = """A learning rate for the kernels: ``shifts`` ``(L,)`` int64 final right shift per
layer, ``signs`` / ``exps`` int64 arrays of :class:`~desire_bp.integer.format.LrShift`'s extra
power-of-two terms."""


@structref.register
class _KWorkspaceType(ScratchType):
    pass


class KWorkspace(structref.StructRefProxy):
    """Scratch arrays of the integer kernels (a Numba structure reference, like
    :class:`desire_bp.engine.kernels.Workspace`; typed lists by layer ``0..L``): ``offsets``
    ``(L + 2,)`` into the flat masks, ``spikes`` ``(T, n_l)`` uint8, ``counts`` and ``active``
    ``(n_l,)`` int32, ``n_active`` ``(L + 1,)`` int64, ``cur`` ``(T, n_l)`` int64 input
    currents, ``desire`` ``(n_l,)`` int8."""


structref.define_proxy(
    KWorkspace,
    _KWorkspaceType,
    ["offsets", "spikes", "counts", "active", "n_active", "cur", "desire"],
)


def kparams(P: IntParams, spec: IntSpec, train: bool) -> KParams:
    """The kernels' view of ``P`` with training (``train``) or evaluation thresholds."""
    return KParams(
        np.int64(P.theta_in),
        np.array(P.theta_train if train else P.theta_eval, np.int64),
        int(P.mempot_decay),
        np.asarray(P.out_pos, np.bool_),
        np.asarray(P.out_neg, np.bool_),
        int(P.denom),
        bool(P.signed),
        np.array(P.theta_hid, np.int64),
        int(P.trace_frac),
        int(P.wmin),
        int(P.wmax),
        spec.rounding == "stochastic",
        int(P.cap),
    )


def klr(P: IntParams, lrs: LrShift) -> KLr:
    """The kernels' view of the learning rate ``lrs`` for the fraction bits of ``P``."""
    return KLr(
        np.array([lrs.a + P.trace_frac - f for f in P.frac], np.int64),
        np.array(lrs.signs, np.int64),
        np.array(lrs.exps, np.int64),
    )


@njit(cache=True, nogil=True)
def workspace(sizes, T):
    """A :class:`KWorkspace` for layer sizes ``sizes`` (int64 ``n_0..n_L``) and ``T`` steps."""
    spikes, counts, active = spike_buffers(sizes, T)
    cur = List()
    desire = List()
    for n in sizes:
        cur.append(np.zeros((T, n), np.int64))
        desire.append(np.zeros(n, np.int8))
    n_active = np.zeros(len(sizes), np.int64)
    return KWorkspace(layer_offsets(sizes), spikes, counts, active, n_active, cur, desire)


@njit(cache=True, nogil=True)
def _sat32(v):
    if v > I32_MAX:
        return I32_MAX
    if v < I32_MIN:
        return I32_MIN
    return v


@njit(cache=True, nogil=True)
def _k_lif_scan(cur, theta, k, masks, off, spikes, counts, active):
    """Integer LIF layer over the window: shift leak, saturating add of the input currents,
    fire, subtractive reset.  Returns #active."""
    T, n_out = cur.shape
    n_act = 0
    for o in range(n_out):
        v = np.int64(0)
        c = 0
        m = masks[off + o]
        for t in range(T):
            v = v - (v >> k)
            v = _sat32(v + cur[t, o])
            if v >= theta and m:
                v -= theta
                spikes[t, o] = 1
                c += 1
            else:
                spikes[t, o] = 0
        counts[o] = c
        if c > 0:
            active[n_act] = o
            n_act += 1
    return n_act


@njit(cache=True, nogil=True)
def _k_forward(WTs, xb, masks, kp, ws):
    """Integer forward pass into the workspace (input-major weights ``WT (n_in, n_out)``):
    the float engine's type-generic encoder and accumulation, the integer LIF scan."""
    L = len(WTs)
    off = ws.offsets
    ws.n_active[0] = encode_input(
        xb, masks[off[0] : off[1]], kp.theta_in, ws.spikes[0], ws.counts[0], ws.active[0]
    )
    for layer in range(1, L + 1):
        accumulate(
            WTs[layer - 1],
            ws.spikes[layer - 1],
            ws.active[layer - 1],
            ws.n_active[layer - 1],
            0 if layer == 1 else 1,
            ws.cur[layer],
        )
        ws.n_active[layer] = _k_lif_scan(
            ws.cur[layer],
            kp.theta_p[layer - 1],
            kp.mempot_decay,
            masks,
            off[layer],
            ws.spikes[layer],
            ws.counts[layer],
            ws.active[layer],
        )


@njit(cache=True, nogil=True)
def _k_backward(WTs, label, masks, kp, ws):
    """Integer desire of every LIF layer into ``ws.desire[1..L]``."""
    L = len(WTs)
    counts, offsets, desire = ws.counts, ws.offsets, ws.desire
    out_pos, out_neg, denom, signed = kp.out_pos, kp.out_neg, kp.denom, kp.signed
    dL = desire[L]
    cL = counts[L]
    for o in range(dL.shape[0]):
        if o == label:
            dL[o] = 1 if out_pos[cL[o]] else 0
        else:
            dL[o] = -1 if out_neg[cL[o]] else 0
    for layer in range(L, 1, -1):
        WT = WTs[layer - 1]  # (n_{l-1}, n_l)
        d = desire[layer]
        cnt = counts[layer]
        off = offsets[layer]
        n = d.shape[0]
        idx = np.empty(n, np.int64)
        val = np.empty(n, np.int64)
        m_ = 0
        for h in range(n):  # active neurons h and their signed integer error sgn_h * k_h
            if d[h] != 0 and masks[off + h]:
                tgt = denom if d[h] == 1 else 0
                kk = tgt - cnt[h]
                if not signed:
                    if kk < 0:
                        kk = -kk
                    if d[h] < 0:
                        kk = -kk
                if kk != 0:
                    idx[m_] = h
                    val[m_] = kk
                    m_ += 1
        dp = desire[layer - 1]
        th = kp.theta_hid[layer - 1]
        for g in range(WT.shape[0]):
            row = WT[g]
            s = np.int64(0)
            for q in range(m_):
                s += val[q] * row[idx[q]]  # same integer as the bit-plane sum
            if s != 0 and (s >= th or -s >= th):
                dp[g] = 1 if s > 0 else -1
            else:
                dp[g] = 0


@njit(cache=True, nogil=True)
def _k_xorshift32(x):
    x ^= (x << 13) & 0xFFFFFFFF
    x ^= x >> 17
    x ^= (x << 5) & 0xFFFFFFFF
    return x


@njit(cache=True, nogil=True)
def _k_seeds(xb, label, masks, L, out):
    h = np.int64(0x6A09E667)
    for i in range(xb.shape[0]):
        h = _k_xorshift32(h ^ xb[i])
    h = _k_xorshift32(h ^ label)
    for i in range(masks.shape[0]):
        h = _k_xorshift32(h ^ (1 if masks[i] else 0))
    for layer in range(1, L + 1):
        sd = _k_xorshift32(h ^ (np.int64(0x9E3779B9) >> layer))
        out[layer - 1] = sd if sd != 0 else 1


@njit(cache=True, nogil=True)
def _k_update(WTs, layer, masks, kp, lr, ws, state):
    """Integer update of layer ``layer``; returns the rng state (the semantics of
    :func:`desire_bp.integer.reference.weight_update_int`)."""
    WT = WTs[layer - 1]
    d = ws.desire[layer]
    off = ws.offsets[layer]
    spikes_out, counts_out = ws.spikes[layer], ws.counts[layer]
    spikes_in, active_in, n_act_in = (
        ws.spikes[layer - 1],
        ws.active[layer - 1],
        ws.n_active[layer - 1],
    )
    delay = 0 if layer == 1 else 1
    k, fr, wmin, wmax, stochastic = kp.mempot_decay, kp.trace_frac, kp.wmin, kp.wmax, kp.stochastic
    sh, lr_signs, lr_exps = lr.shifts[layer - 1], lr.signs, lr.exps
    T, n_out = spikes_out.shape
    upd = np.empty(n_out, np.int64)
    nu = 0
    for o in range(n_out):
        if d[o] != 0 and masks[off + o] and counts_out[o] > 0:
            if kp.cap > 0 and d[o] > 0 and counts_out[o] >= kp.cap:
                continue
            upd[nu] = o
            nu += 1
    if nu == 0:
        return state
    # per step, the updated post-synaptic neurons spiking then (as positions into upd)
    lst = np.empty((T, nu), np.int64)
    nl = np.zeros(T, np.int64)
    for q in range(nu):
        o = upd[q]
        for t in range(T):
            if spikes_out[t, o]:
                lst[t, nl[t]] = q
                nl[t] += 1
    acc = np.zeros(nu, np.int64)
    half = np.int64(1) << (sh - 1) if sh > 0 else np.int64(0)
    rmask = (np.int64(1) << min(sh, 32)) - 1 if sh > 0 else np.int64(0)
    rshift = max(0, sh - 32)
    for a in range(n_act_in):
        j = active_in[a]
        acc[:] = 0
        r = np.int64(0)
        for t in range(T):
            r = r - (r >> k)
            if t >= delay and spikes_in[t - delay, j]:
                r += np.int64(1) << fr
            if r != 0:
                for p in range(nl[t]):
                    acc[lst[t, p]] += r
        w = WT[j]
        for q in range(nu):
            ac = acc[q]
            if ac == 0:
                continue
            m = ac
            for z in range(lr_signs.shape[0]):
                if lr_signs[z] > 0:
                    m += ac >> lr_exps[z]
                else:
                    m -= ac >> lr_exps[z]
            if sh > 0:
                if stochastic:
                    state = _k_xorshift32(state)
                    dl = (m + ((state & rmask) << rshift)) >> sh
                else:
                    dl = (m + half) >> sh
            else:
                dl = m << (-sh)
            o = upd[q]
            nw = np.int64(w[o]) + dl if d[o] > 0 else np.int64(w[o]) - dl
            if nw > wmax:
                nw = wmax
            elif nw < wmin:
                nw = wmin
            w[o] = nw
    return state


@njit(cache=True, nogil=True)
def train_step(WTs, xb, label, masks, kp, lr, ws):
    """Forward, backward and update of one sample; returns True iff classified correctly.

    ``masks`` is the flat bool dropout mask of all layers; ``kp`` has training thresholds.
    """
    L = len(WTs)
    _k_forward(WTs, xb, masks, kp, ws)
    _k_backward(WTs, label, masks, kp, ws)
    seeds = np.zeros(L, np.int64)
    if kp.stochastic:
        _k_seeds(xb, label, masks, L, seeds)
    for layer in range(L, 0, -1):
        _k_update(WTs, layer, masks, kp, lr, ws, seeds[layer - 1])
    return strict_max_correct(ws.counts[L], label)


@njit(cache=True, parallel=True)
def counts_batch(WTs, X, T, kp, n_chunks, out):
    """Output spike counts of every row of ``X`` (uint8 bytes); ``kp`` has evaluation
    thresholds."""
    L = len(WTs)
    N = X.shape[0]
    sizes = layer_sizes(WTs)
    for ch in prange(n_chunks):
        lo, hi = chunk_bounds(N, n_chunks, ch)
        if lo >= hi:
            continue
        ws = workspace(sizes, T)
        masks = np.ones(ws.offsets[L + 1], np.bool_)
        for s in range(lo, hi):
            _k_forward(WTs, X[s], masks, kp, ws)
            out[s, :] = ws.counts[L]
