"""Fast event-driven kernels (Numba), same semantics as :mod:`desire_bp.engine.reference`.

Why it is fast (a sample is sparse: ~100 input spikes per step, many silent neurons):

* **Input-major weights.**  Each layer keeps ``WT_l = W_l.T``, shape ``(n_{l-1}, n_l)``, so the
  weights leaving one pre-synaptic neuron are one contiguous row.
* **Whole-window, layer by layer.**  There is no recurrence, so each layer's input currents for
  all ``T`` steps are known once the layer below has run: ``I_l[t] = sum_{j spiked at t-delay}
  WT_l[j]`` is accumulated event by event (one vector add per pre-synaptic spike; each row is
  read once per active neuron), and the LIF scan over ``t`` is then element-wise.
* **Update through reversed traces.**  ``sum_t s[t][o] r[t][i]`` equals
  ``sum_t' u[t'][i] A_o[t']`` with ``A_o[t'] = sum_{t >= t'} beta^(t-t') s[t][o]`` (a reverse
  recursion), so the STDP update is again one vector add per pre-synaptic spike, on the rows of
  active pre-synaptic neurons only, and only for layers with some nonzero desire.
* **One compiled call per sample**, all scratch memory allocated once in a :class:`Workspace`.

Floating point: the same float32 operations as the reference, in the same order (the orders
:mod:`desire_bp.engine.reference` fixes where the specification leaves them open), so the two
engines are bit-identical (``tests/test_equivalence.py``, ``tests/test_dense_crosscheck.py``).

Type-generic kernels: :func:`encode_input`, :func:`accumulate` and :func:`spike_buffers` only
add, compare and subtract, so the integer engine (:mod:`desire_bp.integer.kernels`) calls them
with integer pixels, thresholds and currents; Numba compiles one specialisation per type.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numba import njit, prange, types
from numba.experimental import structref
from numba.typed import List

if TYPE_CHECKING:
    from ..config import Config

F32 = np.float32

__all__ = [
    "Params",
    "Workspace",
    "params",
    "workspace",
    "layer_counts",
    "workspace_nbytes",
    "layer_sizes",
    "layer_offsets",
    "chunk_bounds",
    "spike_buffers",
    "encode_input",
    "accumulate",
    "ScratchType",
    "strict_max_correct",
    "train_step",
    "backward",
    "update",
    "counts_batch",
]


Params = namedtuple(
    "Params",
    [
        "T",
        "theta_p",
        "beta",
        "theta_hid",
        "theta_out",
        "error_margin",
        "signed",
        "skip",
        "w_bound",
        "cap",
    ],
)
Params.__doc__ = """Hyper-parameters the kernels read, typed once (build with :func:`params`);
the names are the configuration's (:class:`desire_bp.config.Config`, ``docs/spec.md``).

Fields:
    T: time steps per sample (int).
    theta_p: firing threshold (float32).
    beta: leak of potentials and traces, ``1 - 2**-mempot_decay`` (float32).
    theta_hid, theta_out: ternarization thresholds (float32).
    error_margin: in spikes (int); rates are ``count / (T - error_margin)``.
    signed: paper's signed hidden error (``Config.hidden_error == "signed"``).
    skip: no leak on the step after a spike (``Config.leak == "skip-after-spike"``).
    w_bound: clip updated weights to ``[-w_bound, w_bound]`` (float32; 0: no bound).
    cap: a neuron desired +1 that fired at least ``cap`` times is not updated (int; 0: no
        cap; ``Config.potentiation_cap``).
"""


def params(cfg: Config) -> Params:
    """The kernels' view of ``cfg`` (the learning rate is passed per call: it changes)."""
    return Params(
        int(cfg.T),
        F32(cfg.theta_p),
        F32(cfg.beta),
        F32(cfg.theta_hid),
        F32(cfg.theta_out),
        int(cfg.error_margin),
        cfg.hidden_error == "signed",
        cfg.leak == "skip-after-spike",
        F32(cfg.w_bound),
        int(cfg.potentiation_cap),
    )


class ScratchType(types.StructRef):
    """Base of the workspaces' Numba types: fields typed without literal values."""

    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


@structref.register
class _WorkspaceType(ScratchType):
    pass


class Workspace(structref.StructRefProxy):
    """Scratch arrays for one sample of a given architecture (allocated once, reused; build
    with :func:`workspace`).

    A Numba structure reference, so that passing it to a kernel costs a pointer, not the
    unboxing of a dozen typed lists.  Fields (``L`` LIF layers; lists are typed lists indexed
    by layer ``l = 0..L``):

    - offsets: ``(L + 2,)`` int64; layer ``l``'s dropout mask is
      ``masks[offsets[l]:offsets[l+1]]`` of the flat mask array.
    - scales: ``(L + 1,)`` float32 dropout scales ``c_l`` of the currents into layer ``l + 1``.
    - spikes: ``(T, n_l)`` uint8 spike rasters.
    - counts: ``(n_l,)`` int32 spike counts.
    - active: ``(n_l,)`` int32 indices of neurons that spiked at least once; ``n_active[l]``
      how many (``(L + 1,)`` int64).
    - currents: ``(T, n_l)`` float32 summed synaptic input per step (index 0 unused).
    - vmem: ``(n_l,)`` float32 membrane potentials.
    - desire: ``(n_l,)`` int8.
    - coef: ``(T + 1, n_l)`` float32 update coefficients (spikes, then ``lr d_o``).
    - err: ``(n_l,)`` float32 error times sign used by the backward pass.
    - back: ``(n_l,)`` float32 ``S = W^T (err * sgn)`` of the layer below.
    - row: ``(n_l,)`` float32 temporary row; rows: ``(n_l,)`` int64 indices of updated neurons.
    """


structref.define_proxy(
    Workspace,
    _WorkspaceType,
    [
        "offsets",
        "scales",
        "spikes",
        "counts",
        "active",
        "n_active",
        "currents",
        "vmem",
        "desire",
        "coef",
        "err",
        "back",
        "row",
        "rows",
    ],
)


@njit(cache=True, nogil=True)
def layer_sizes(WTs):
    """``(L + 1,)`` int64 neuron counts from input-major weights ``WT_l`` ``(n_{l-1}, n_l)``."""
    L = len(WTs)
    sizes = np.empty(L + 1, np.int64)
    sizes[0] = WTs[0].shape[0]
    for layer in range(L):
        sizes[layer + 1] = WTs[layer].shape[1]
    return sizes


@njit(cache=True, nogil=True)
def layer_offsets(sizes):
    """``(L + 2,)`` int64 start of each layer in a flat per-neuron array (cumulative sizes)."""
    offsets = np.zeros(len(sizes) + 1, np.int64)
    for layer in range(len(sizes)):
        offsets[layer + 1] = offsets[layer] + sizes[layer]
    return offsets


@njit(cache=True, nogil=True)
def chunk_bounds(n, n_chunks, chunk):
    """Rows ``lo:hi`` of chunk ``chunk`` of ``n`` rows cut into ``n_chunks`` (may be empty)."""
    per = (n + n_chunks - 1) // n_chunks
    lo = min(n, chunk * per)
    return lo, min(n, lo + per)


@njit(cache=True, nogil=True)
def spike_buffers(sizes, T):
    """Per-layer ``(T, n_l)`` uint8 spike rasters, ``(n_l,)`` int32 counts and ``(n_l,)``
    int32 active-neuron indices (typed lists), zeroed; shared by the float and integer engines."""
    spikes = List()
    counts = List()
    active = List()
    for n in sizes:
        spikes.append(np.zeros((T, n), np.uint8))
        counts.append(np.zeros(n, np.int32))
        active.append(np.zeros(n, np.int32))
    return spikes, counts, active


@njit(cache=True, nogil=True)
def _alloc_workspace(sizes, T, scales):
    spikes, counts, active = spike_buffers(sizes, T)
    currents = List()
    vmem = List()
    desire = List()
    coef = List()
    err = List()
    back = List()
    row = List()
    rows = List()
    for n in sizes:
        currents.append(np.zeros((T, n), F32))
        vmem.append(np.zeros(n, F32))
        desire.append(np.zeros(n, np.int8))
        coef.append(np.zeros((T + 1, n), F32))
        err.append(np.zeros(n, F32))
        back.append(np.zeros(n, F32))
        row.append(np.zeros(n, F32))
        rows.append(np.zeros(n, np.int64))
    n_active = np.zeros(len(sizes), np.int64)
    offsets = layer_offsets(sizes)
    return Workspace(
        offsets, scales, spikes, counts, active, n_active, currents, vmem, desire, coef, err,
        back, row, rows,
    )  # fmt: skip


def workspace(sizes: Sequence[int], T: int, scales: Sequence[float]) -> Workspace:
    """A :class:`Workspace` for layer sizes ``sizes`` (``n_0..n_L``), ``T`` steps and dropout
    scales ``scales`` (``L + 1`` values, see :func:`desire_bp.engine.reference.scales`)."""
    sizes_a = np.asarray(sizes, np.int64)
    scales_a = np.ascontiguousarray(scales, F32)
    if scales_a.shape != sizes_a.shape:
        raise ValueError(f"{len(scales_a)} scales for {len(sizes_a)} layers {tuple(sizes)}")
    return _alloc_workspace(sizes_a, int(T), scales_a)


@njit(cache=True, nogil=True)
def strict_max_correct(out, label):
    """True iff output neuron ``label`` fired strictly more spikes than every other one."""
    best = out[label]
    for k in range(out.shape[0]):
        if k != label and out[k] >= best:
            return False
    return True


@njit(cache=True, nogil=True)
def layer_counts(ws, layer):
    """A copy of layer ``layer``'s spike counts ``(n_l,)`` int32 after the last sample."""
    return ws.counts[layer].copy()


@njit(cache=True, nogil=True)
def workspace_nbytes(ws):
    """Bytes of all the workspace's arrays."""
    n = ws.offsets.nbytes + ws.scales.nbytes + ws.n_active.nbytes
    for layer in range(len(ws.spikes)):
        n += ws.spikes[layer].nbytes + ws.counts[layer].nbytes + ws.active[layer].nbytes
        n += ws.currents[layer].nbytes + ws.vmem[layer].nbytes + ws.desire[layer].nbytes
        n += ws.coef[layer].nbytes + ws.err[layer].nbytes + ws.back[layer].nbytes
        n += ws.row[layer].nbytes + ws.rows[layer].nbytes
    return n


# ----------------------------------------------------------------------------- forward


@njit(cache=True, nogil=True)
def encode_input(x, mask0, theta, spikes0, counts0, active0):
    """Input IF layer: v += x; s = (v >= theta) & m; v -= theta * s.  Returns #active.

    Type-generic: float32 pixels and threshold here, int64 pixel bytes and threshold in the
    integer engine; the potential starts at the zero of the threshold's type.
    """
    T = spikes0.shape[0]
    n_act = 0
    for i in range(x.shape[0]):
        v = theta - theta
        xi = x[i]
        c = 0
        m = mask0[i]
        for t in range(T):
            v += xi
            if v >= theta and m:
                v -= theta
                spikes0[t, i] = 1
                c += 1
            else:
                spikes0[t, i] = 0
        counts0[i] = c
        if c > 0:
            active0[n_act] = i
            n_act += 1
    return n_act


@njit(cache=True, nogil=True)
def accumulate(WT, spikes_in, active_in, n_act_in, delay, currents):
    """currents[t] = sum over pre-synaptic j spiking at t - delay of WT[j] (event-driven).

    Type-generic: float32 weights and currents here, integer weights into int64 currents in
    the integer engine.
    """
    T, n_out = currents.shape
    currents[:, :] = 0
    for k in range(n_act_in):
        j = active_in[k]
        row = WT[j]
        for t in range(T - delay):
            if spikes_in[t, j]:
                cur = currents[t + delay]
                for o in range(n_out):
                    cur[o] += row[o]


@njit(cache=True, nogil=True)
def _lif_scan(currents, c_in, beta, theta, mask, vmem, spikes, counts, active, skip):
    """LIF layer over the window: v *= beta; v += c_in * I[t]; fire; subtractive reset.

    With ``skip`` (``Config.leak == "skip-after-spike"``) a neuron that fired at ``t - 1`` is
    not leaked at ``t``.
    """
    T, n = currents.shape
    vmem[:] = 0.0
    counts[:] = 0
    for t in range(T):
        cur = currents[t]
        st = spikes[t]
        prev = spikes[t - 1]
        for o in range(n):
            if skip and t > 0 and prev[o]:
                v = vmem[o] + c_in * cur[o]
            else:
                v = vmem[o] * beta + c_in * cur[o]
            f = (v >= theta) & mask[o]
            if f:
                v -= theta
            st[o] = f
            counts[o] += f
            vmem[o] = v
    n_act = 0
    for o in range(n):
        if counts[o] > 0:
            active[n_act] = o
            n_act += 1
    return n_act


@njit(cache=True, nogil=True)
def _forward(WTs, x, masks, p, ws):
    """Forward pass of one sample into the workspace ``ws``.

    ``masks`` is the flat bool dropout mask of all layers (``ws.offsets`` cuts it).
    """
    L = len(WTs)
    off = ws.offsets
    ws.n_active[0] = encode_input(
        x, masks[off[0] : off[1]], p.theta_p, ws.spikes[0], ws.counts[0], ws.active[0]
    )
    for layer in range(1, L + 1):
        delay = 0 if layer == 1 else 1
        accumulate(
            WTs[layer - 1],
            ws.spikes[layer - 1],
            ws.active[layer - 1],
            ws.n_active[layer - 1],
            delay,
            ws.currents[layer],
        )
        ws.n_active[layer] = _lif_scan(
            ws.currents[layer],
            ws.scales[layer - 1],
            p.beta,
            p.theta_p,
            masks[off[layer] : off[layer + 1]],
            ws.vmem[layer],
            ws.spikes[layer],
            ws.counts[layer],
            ws.active[layer],
            p.skip,
        )


# ----------------------------------------------------------------------------- backward


@njit(cache=True, nogil=True)
def _output_desire(counts, label, denom, theta_out, desire):
    n = counts.shape[0]
    for k in range(n):
        rate = F32(counts[k]) / denom
        if k == label:
            e = F32(1.0) - rate
            desire[k] = 1 if e > theta_out else 0
        else:
            desire[k] = -1 if rate > theta_out else 0


@njit(cache=True, nogil=True, fastmath=True)
def _rowdot(WT, e, out):
    """out[g] = fl32(sum_h WT[g, h] * e[h]) with float64 products and sum.

    The float32 x float32 products are exact in float64 and the float64 sum is rounded once,
    so the float32 result does not depend on the (vectorised) summation order.
    """
    n_in, n_out = WT.shape
    for g in range(n_in):
        row = WT[g]
        acc = 0.0
        for h in range(n_out):
            acc += np.float64(row[h]) * np.float64(e[h])
        out[g] = F32(acc)


@njit(cache=True, nogil=True)
def _hidden_desire(WT, d, counts, mask, denom, signed, T, theta_hid, err, back, d_prev):
    """d_prev = ternarize(W^T (err * sgn)) with |S| >= theta_hid.  Returns #nonzero."""
    n = d.shape[0]
    any_nz = False
    for h in range(n):
        if d[h] != 0 and mask[h]:
            target = F32(1.0) if d[h] == 1 else F32(0.0)
            if signed:
                err[h] = target - F32(counts[h]) / F32(T)
            else:
                err[h] = abs(target - F32(counts[h]) / denom) * F32(d[h])
            any_nz = True
        else:
            err[h] = 0.0
    if not any_nz:
        d_prev[:] = 0
        return 0
    _rowdot(WT, err, back)
    nz = 0
    for g in range(d_prev.shape[0]):
        s = back[g]
        if abs(s) >= theta_hid and s != 0:  # sign(0) = 0, also when theta_hid = 0
            d_prev[g] = 1 if s > 0 else -1
            nz += 1
        else:
            d_prev[g] = 0
    return nz


@njit(cache=True, nogil=True)
def _update(
    WT,
    d,
    mask,
    spikes_out,
    counts_out,
    lr,
    beta,
    spikes_in,
    active_in,
    n_act_in,
    delay,
    coef,
    row,
    rows,
    bound,
    cap,
):
    """WT[i, o] += fl(lr d_o m_o) * stdp[o, i], stdp = sum_t s[t][o] r[t][i] in ascending t.

    Only neurons with desire, kept by dropout and with at least one spike are updated
    (compacted into ``rows``); only pre-synaptic neurons with a nonzero trace contribute.
    The arithmetic is the reference's, element by element: float32 trace recursion, float32
    accumulation over t in ascending order (adding exact zeros where a neuron is silent), one
    multiplication by the coefficient, one addition to the weight.  With ``bound > 0`` every
    incoming weight of the updated neurons (``rows``; all inputs, as the reference) is then
    clipped to ``[-bound, bound]``.  With ``cap > 0`` a neuron desired +1 with at least
    ``cap`` spikes is not updated.
    """
    T, n_out = spikes_out.shape
    n_rows = 0
    for o in range(n_out):
        if d[o] != 0 and mask[o] and counts_out[o] > 0:
            if cap > 0 and d[o] > 0 and counts_out[o] >= cap:
                continue
            rows[n_rows] = o
            n_rows += 1
    if n_rows == 0:
        return
    # coef[t, k] = s[t][rows[k]] as float32 (0 or 1); coef[T, k] = lr * d
    for k in range(n_rows):
        o = rows[k]
        for t in range(T):
            coef[t, k] = F32(spikes_out[t, o])
    for k in range(n_rows):
        coef[T, k] = lr * F32(d[rows[k]])
    for a in range(n_act_in):
        j = active_in[a]
        r = F32(0.0)
        for k in range(n_rows):
            row[k] = 0.0
        for t in range(T):
            spk = F32(1.0) if (t >= delay and spikes_in[t - delay, j]) else F32(0.0)
            r = beta * r + spk  # r_l[t] = beta r_l[t-1] + min(u_l[t], 1)
            if r != 0.0:
                ct = coef[t]
                for k in range(n_rows):
                    row[k] += ct[k] * r
        w = WT[j]
        cl = coef[T]
        for k in range(n_rows):
            w[rows[k]] += cl[k] * row[k]
    if bound > 0:
        for j in range(WT.shape[0]):
            w = WT[j]
            for k in range(n_rows):
                o = rows[k]
                if w[o] > bound:
                    w[o] = bound
                elif w[o] < -bound:
                    w[o] = -bound


# ----------------------------------------------------------------------------- entry points


@njit(cache=True, nogil=True)
def backward(WTs, label, masks, p, ws):
    """Desire of every LIF layer into ``ws.desire[1..L]`` (weights as in the forward pass)."""
    L = len(WTs)
    off = ws.offsets
    denom = F32(p.T - p.error_margin)
    _output_desire(ws.counts[L], label, denom, p.theta_out, ws.desire[L])
    for layer in range(L, 1, -1):
        _hidden_desire(
            WTs[layer - 1],
            ws.desire[layer],
            ws.counts[layer],
            masks[off[layer] : off[layer + 1]],
            denom,
            p.signed,
            p.T,
            p.theta_hid,
            ws.err[layer],
            ws.back[layer - 1],
            ws.desire[layer - 1],
        )


@njit(cache=True, nogil=True)
def update(WTs, masks, lr, p, ws):
    """STDP update of every LIF layer from the desire left by :func:`backward`."""
    L = len(WTs)
    off = ws.offsets
    for layer in range(L, 0, -1):
        _update(
            WTs[layer - 1],
            ws.desire[layer],
            masks[off[layer] : off[layer + 1]],
            ws.spikes[layer],
            ws.counts[layer],
            lr,
            p.beta,
            ws.spikes[layer - 1],
            ws.active[layer - 1],
            ws.n_active[layer - 1],
            0 if layer == 1 else 1,
            ws.coef[layer],
            ws.row[layer],
            ws.rows[layer],
            p.w_bound,
            p.cap,
        )


@njit(cache=True, nogil=True)
def train_step(WTs, x, label, masks, lr, p, ws):
    """Forward, backward and update of one training sample; weights change in place.

    Args:
        WTs: typed list of input-major weights ``(n_{l-1}, n_l)`` float32, updated.
        x: ``(n_0,)`` float32 pixel values in [0, 1]; label: its class.
        masks: flat bool dropout masks of all layers (``ws.offsets`` cuts them).
        lr: float32 learning rate of the epoch; p: :class:`Params`; ws: :class:`Workspace`.

    Returns True iff the sample was classified correctly (strict maximum).
    """
    _forward(WTs, x, masks, p, ws)
    backward(WTs, label, masks, p, ws)
    update(WTs, masks, lr, p, ws)
    return strict_max_correct(ws.counts[len(WTs)], label)


@njit(cache=True, parallel=True)
def counts_batch(WTs, X, p, n_chunks, outs, first):
    """Spike counts of layers ``first..L`` for every row of ``X`` (evaluation: no dropout,
    no scaling), in parallel chunks.

    Args:
        WTs: typed list of input-major weights ``(n_{l-1}, n_l)`` float32.
        X: ``(N, n_0)`` float32 pixel values in [0, 1].
        p: :class:`Params` (``T``, ``theta_p``, ``beta`` and ``skip`` are read).
        n_chunks: number of parallel chunks (threads).
        outs: typed list; ``outs[l - first]`` is ``(N, n_l)`` int32, filled.
        first: first layer recorded (``L``: output counts only; 0: every layer).
    """
    L = len(WTs)
    N = X.shape[0]
    sizes = layer_sizes(WTs)
    for ch in prange(n_chunks):
        lo, hi = chunk_bounds(N, n_chunks, ch)
        if lo >= hi:
            continue
        ws = _alloc_workspace(sizes, p.T, np.ones(L + 1, F32))
        masks = np.ones(ws.offsets[L + 1], np.bool_)
        for s in range(lo, hi):
            _forward(WTs, X[s], masks, p, ws)
            for layer in range(first, L + 1):
                outs[layer - first][s, :] = ws.counts[layer]
