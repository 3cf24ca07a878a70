"""Integer, multiplication-free training mode (issue 6, ``desire-bp train --arithmetic int``).

Everything a sample touches -- input encoder, LIF forward pass, desire backpropagation and the
STDP weight update -- runs on integers with additions, subtractions, shifts and comparisons
only.  The semantics follow SPEC.md with these integer choices (see ``docs/integer.md``):

* **Weights** ``W_int`` are ``weight_bits`` wide (16 by default) two's-complement integers with
  a power-of-two scale per layer: ``W = W_int * 2**-f_l``.  ``f_l`` is chosen once from the
  initial weights (the largest ``f`` such that ``headroom * max|W_l|`` fits) and then fixed.
  Weights saturate at ``[-2**(b-1), 2**(b-1) - 1]``, never wrap.
* **Membrane potentials** are int32 in units of ``2**-f_l`` (saturating).  The leak ``beta =
  1 - 2**-k`` (``k = mempot_decay``, an integer) is ``v - (v >> k)`` with an arithmetic shift,
  which rounds ``beta * v`` up (towards +infinity).
* **Input encoder**: integrate-and-fire on the raw pixel bytes, ``v0 += byte``, threshold
  ``round(theta_p * 255)``, so ``x = byte / 255`` exactly (no float rounding at all).
* **Dropout scale** ``c = 1 / (1 - p)`` is never multiplied: the input of layer ``l`` is scaled
  by ``c_{l-1}``, which is the same as dividing the threshold of layer ``l`` by it, so in
  training layer ``l`` fires at ``round(theta_p * (1 - p_{l-1}) * 2**f_l)`` (rounded to the
  nearest integer; the only rounding of the scale) and resets by that amount.
* **Traces** ``r`` are fixed point with ``trace_frac`` fraction bits and the same shift leak:
  ``r = r - (r >> k) + (u << trace_frac)``.
* **Output desire** compares the integer spike count with integer thresholds (a table over the
  ``T + 1`` possible counts, built from SPEC's float32 formula, so decisions are identical).
* **Hidden desire** ``S = W^T (err * sgn)``: ``err = |target - n / (T - margin)|`` is the
  integer ``k = |target * (T - margin) - n|`` over the constant ``T - margin``; the constant
  and the weight scale go into the threshold ``ceil(theta_hid * (T - margin) * 2**f_l)``, so
  the error is exact.  ``sum_h sgn_h k_h W[h, g]`` is computed bit-plane by bit-plane
  (``sum_b 2**b sum_{h: bit b of k_h} sgn_h W[h, g]``): additions and shifts only.
* **Learning rate** as shifts: ``lr ~= 2**-a * (1 + sum_j s_j 2**-e_j)`` with ``lr_terms``
  power-of-two terms (1 = a plain right shift, default 2 = a shift plus one shifted add).  The
  update of a weight is ``W += d * round(lr * 2**f_l * sum_{t: s_o[t]} r_i[t])`` where the
  product is ``(acc + sum_j s_j (acc >> e_j))`` shifted right by ``a + trace_frac - f_l``
  with round-half-up on the magnitude (symmetric in the sign of the desire).  Ternary desire
  turns it into an addition or a subtraction.

Two engines implement the same integer semantics bit for bit: ``"reference"`` (readable NumPy,
this module's ``forward_int`` ... ``train_sample_int``) and ``"fast"`` (event-driven Numba).
:class:`IntegerNetwork` has the API of :class:`desire_bp.network.Network` (``train_sample``,
``forward_batch``, ``evaluate``, ``weights``, ``save``) so :func:`desire_bp.training.train`
can drive it.
"""

from __future__ import annotations

import argparse
import hashlib
import math
from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numba import njit, prange, types
from numba.experimental import structref
from numba.typed import List

from .config import Config, ConfigError
from .kernels import (
    chunk_bounds,
    layer_counts,
    layer_offsets,
    layer_sizes,
    spike_buffers,
    strict_max_correct,
)
from .network import Evaluation, Network, SampleResult, predictions_from_counts

__all__ = [
    "load_network",
    "IntSpec",
    "IntParams",
    "LrShift",
    "IntForward",
    "choose_frac_bits",
    "quantize",
    "lr_to_shifts",
    "shift_leak",
    "saturate",
    "make_params",
    "forward_int",
    "output_desire_int",
    "hidden_desire_int",
    "backward_int",
    "weight_update_int",
    "train_sample_int",
    "IntegerNetwork",
    "weights_sha256",
    "xorshift32",
    "sample_seeds",
    "integer_training",
    "add_commands",
]

I32_MIN, I32_MAX = -(2**31), 2**31 - 1
ROUNDINGS = ("nearest", "stochastic")
M32 = 0xFFFFFFFF
EXTRA_KEY = "integer"  # Config.extra key that marks an integer run and holds its IntSpec


# ----------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class IntSpec:
    """Widths and fixed-point formats of the integer mode.

    Attributes:
        weight_bits: weight width in bits (two's complement), 2..32; 16 by default.
        frac_bits: fraction bits ``f_l`` per LIF layer (``W = W_int * 2**-f_l``); ``None``:
            chosen from the weights by :func:`choose_frac_bits` when the network is built.
        headroom: ``choose_frac_bits`` keeps ``headroom * max|W_l|`` representable.
        trace_frac: fraction bits of the pre-synaptic traces (``r_int = r * 2**trace_frac``).
        lr_terms: power-of-two terms of the learning rate (1: a plain right shift).
        rounding: of the weight update, ``"stochastic"`` (default: add a pseudo-random
            ``rho`` in ``[0, 2**sh)`` before the shift; xorshift32 seeded per sample and layer
            from the sample's bytes, label and masks -- deterministic and unbiased) or
            ``"nearest"`` (half up; updates below half a weight step are lost).
    """

    weight_bits: int = 16
    frac_bits: tuple[int, ...] | None = None
    headroom: float = 2.0
    trace_frac: int = 10
    lr_terms: int = 2
    rounding: str = "stochastic"

    def __post_init__(self) -> None:
        if not 2 <= int(self.weight_bits) <= 32:
            raise ConfigError(f"weight_bits = {self.weight_bits}: must be in 2..32")
        if not 0 <= int(self.trace_frac) <= 20:
            raise ConfigError(f"trace_frac = {self.trace_frac}: must be in 0..20")
        if not 1 <= int(self.lr_terms) <= 4:
            raise ConfigError(f"lr_terms = {self.lr_terms}: must be in 1..4")
        if not self.headroom >= 1:
            raise ConfigError(f"headroom = {self.headroom}: must be >= 1")
        if self.rounding not in ROUNDINGS:
            raise ConfigError(f"rounding = {self.rounding!r}: must be one of {ROUNDINGS}")
        if self.frac_bits is not None:
            object.__setattr__(self, "frac_bits", tuple(int(f) for f in self.frac_bits))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form (stored in ``Config.extra["integer"]``)."""
        return {
            "weight_bits": self.weight_bits,
            "frac_bits": None if self.frac_bits is None else list(self.frac_bits),
            "headroom": self.headroom,
            "trace_frac": self.trace_frac,
            "lr_terms": self.lr_terms,
            "rounding": self.rounding,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IntSpec:
        """Inverse of :meth:`to_dict`."""
        d = dict(d)
        d.setdefault("rounding", "nearest")  # formats written before the option existed
        if d.get("frac_bits") is not None:
            d["frac_bits"] = tuple(d["frac_bits"])
        return cls(**d)


def choose_frac_bits(weights: Sequence[np.ndarray], bits: int, headroom: float) -> tuple[int, ...]:
    """Per layer the largest ``f`` with ``headroom * max|W_l| <= 2**(bits - 1 - f)``.

    So the weights use the width with ``log2(headroom)`` bits to spare for growth.
    """
    out = []
    for w in weights:
        m = float(np.max(np.abs(w))) * headroom if np.size(w) else 0.0
        e = math.ceil(math.log2(m)) if m > 0 else 0  # 2**e >= m
        out.append(bits - 1 - e)
    return tuple(out)


def saturate(a: np.ndarray, bits: int) -> np.ndarray:
    """Clamp integers to the signed ``bits``-wide range (int64 result)."""
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return np.clip(np.asarray(a, np.int64), lo, hi)


def shift_leak(v: np.ndarray | int, k: int) -> np.ndarray | int:
    """The leak ``beta * v`` with ``beta = 1 - 2**-k`` as ``v - (v >> k)`` (arithmetic shift).

    Exact when ``2**k`` divides ``v``; otherwise it rounds ``beta * v`` up (towards +inf).
    """
    return v - (v >> k)


def _storage_dtype(bits: int) -> np.dtype:
    return np.dtype(np.int8 if bits <= 8 else np.int16 if bits <= 16 else np.int32)


def quantize(
    weights: Sequence[np.ndarray], spec: IntSpec
) -> tuple[list[np.ndarray], tuple[int, ...]]:
    """Float weights -> integer weights ``round(W * 2**f_l)``, saturated to the width.

    Returns:
        the integer weights ``(n_out, n_in)`` (int8/int16/int32 by width) and ``f_l``.
    """
    frac = spec.frac_bits or choose_frac_bits(weights, spec.weight_bits, spec.headroom)
    if len(frac) != len(weights):
        raise ConfigError(f"frac_bits has {len(frac)} entries for {len(weights)} layers")
    dt = _storage_dtype(spec.weight_bits)
    out = [
        saturate(np.rint(np.asarray(w, np.float64) * 2.0**f), spec.weight_bits).astype(dt)
        for w, f in zip(weights, frac, strict=True)
    ]
    return out, tuple(frac)


@dataclass(frozen=True)
class LrShift:
    """A learning rate as shifts: ``lr ~= 2**-a * (1 + sum_j signs[j] * 2**-exps[j])``."""

    a: int
    signs: tuple[int, ...] = ()
    exps: tuple[int, ...] = ()

    @property
    def value(self) -> float:
        """The learning rate this represents."""
        return 2.0**-self.a * (
            1.0 + sum(s * 2.0**-e for s, e in zip(self.signs, self.exps, strict=True))
        )


def lr_to_shifts(lr: float, terms: int) -> LrShift:
    """Nearest representation of ``lr > 0`` with ``terms`` power-of-two terms.

    ``terms = 1``: ``2**-a`` with ``a = round(-log2 lr)``.  More terms greedily add the signed
    power of two (``2**-1 .. 2**-16`` relative) that best reduces the remaining error, trying
    both neighbouring exponents ``a``.
    """
    if not lr > 0:
        raise ConfigError(f"learning rate {lr}: the integer mode needs lr > 0")
    x = -math.log2(lr)
    if terms == 1:
        return LrShift(round(x))
    best: LrShift | None = None
    for a in (math.floor(x), math.ceil(x)):
        signs: list[int] = []
        exps: list[int] = []
        for _ in range(terms - 1):
            resid = lr * 2.0**a - 1.0 - sum(s * 2.0**-e for s, e in zip(signs, exps, strict=True))
            if resid == 0:
                break
            e = min(range(1, 17), key=lambda e, r=resid: abs(abs(r) - 2.0**-e))
            signs.append(1 if resid > 0 else -1)
            exps.append(e)
        cand = LrShift(a, tuple(signs), tuple(exps))
        if best is None or abs(math.log(cand.value / lr)) < abs(math.log(best.value / lr)):
            best = cand
    assert best is not None
    return best


@dataclass(frozen=True)
class IntParams:
    """Integer constants derived from a :class:`Config`, an :class:`IntSpec` and ``f_l``.

    Attributes (lists indexed by LIF layer ``l = 1..L`` at position ``l - 1``):
        frac: weight fraction bits ``f_l``.
        k: leak shift (``mempot_decay``).
        theta_in: input-encoder threshold in pixel-byte units (``round(theta_p * 255)``).
        theta_eval / theta_train: LIF thresholds in units of ``2**-f_l`` (training: the
            dropout scale of the layer below folded in).
        theta_hid: hidden-desire thresholds for ``|S_int|`` computed from layer ``l``'s
            weights (index ``l - 1``; unused for ``l = 1``).
        out_pos / out_neg: ``(T + 1,)`` bool tables over the spike count ``n``: the label's
            neuron gets desire +1 when ``out_pos[n]``, another neuron -1 when ``out_neg[n]``.
        denom: ``T - error_margin`` (``T`` for the signed hidden error).
        signed: paper's signed hidden error (``cfg.hidden_error == "signed"``).
        wmin / wmax: the weight range.
    """

    frac: tuple[int, ...]
    k: int
    theta_in: int
    theta_eval: tuple[int, ...]
    theta_train: tuple[int, ...]
    theta_hid: tuple[int, ...]
    out_pos: np.ndarray = field(repr=False)
    out_neg: np.ndarray = field(repr=False)
    denom: int
    signed: bool
    trace_frac: int
    weight_bits: int
    lr_terms: int
    wmin: int
    wmax: int


def make_params(cfg: Config, spec: IntSpec, frac: Sequence[int]) -> IntParams:
    """The integer constants of ``cfg`` (see :class:`IntParams`)."""
    k = cfg.mempot_decay
    if int(k) != k:
        raise ConfigError(f"mempot_decay = {k}: the integer mode needs an integer (shift) leak")
    k = int(k)
    L = len(cfg.sizes) - 1
    frac = tuple(int(f) for f in frac)
    if len(frac) != L:
        raise ConfigError(f"{len(frac)} fraction widths for {L} layers")
    theta_eval = tuple(round(cfg.theta_p * 2.0**f) for f in frac)
    theta_train = tuple(
        round(cfg.theta_p * (1.0 - cfg.dropout(layer - 1)) * 2.0 ** frac[layer - 1])
        for layer in range(1, L + 1)
    )
    if min(theta_eval + theta_train) < 1 or max(theta_eval + theta_train) > I32_MAX:
        raise ConfigError("threshold does not fit the potential's int32 range at this scale")
    signed = cfg.hidden_error == "signed"
    denom = cfg.T if signed else cfg.T - cfg.error_margin
    theta_hid = tuple(math.ceil(cfg.theta_hid * denom * 2.0**f) for f in frac)
    # Output desire tables from SPEC's float32 formula, so the decisions are identical.
    f32 = np.float32
    n = np.arange(cfg.T + 1)
    rate = n.astype(f32) / f32(cfg.T - cfg.error_margin)
    out_pos = (f32(1.0) - rate) > f32(cfg.theta_out)
    out_neg = rate > f32(cfg.theta_out)
    return IntParams(
        frac=frac,
        k=k,
        theta_in=round(cfg.theta_p * 255),
        theta_eval=theta_eval,
        theta_train=theta_train,
        theta_hid=theta_hid,
        out_pos=out_pos,
        out_neg=out_neg,
        denom=denom,
        signed=signed,
        trace_frac=spec.trace_frac,
        weight_bits=spec.weight_bits,
        lr_terms=spec.lr_terms,
        wmin=-(2 ** (spec.weight_bits - 1)),
        wmax=2 ** (spec.weight_bits - 1) - 1,
    )


# ----------------------------------------------------------------------------- readable engine


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


def _as_bytes(x: np.ndarray) -> np.ndarray:
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
    """Integer forward pass of one sample (SPEC "Forward pass", integer arithmetic).

    Args:
        W: integer weights, ``W[l-1]`` of shape ``(n_l, n_{l-1})``.
        x: pixel bytes ``(n_0,)`` (uint8; floats in [0, 1] are converted with ``rint(x*255)``).
        masks: dropout masks (``None``: all ones).
        train: use the training thresholds (dropout scale folded into the threshold).
    """
    T, sizes, k, fr = cfg.T, cfg.sizes, P.k, P.trace_frac
    L = len(sizes) - 1
    if masks is None:
        masks = [np.ones(n, bool) for n in sizes]
    theta = P.theta_train if train else P.theta_eval
    xb = _as_bytes(x).reshape(-1)
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
    """Output desire by table lookup on the integer counts (identical to SPEC's float rule)."""
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
    (``d = -1``) with saturation; neurons with ``d = 0`` or dropped out are untouched.

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
    upd = (d != 0) & mask
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
    seeds = sample_seeds(_as_bytes(x).reshape(-1), label, masks, L) if stochastic else None
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


# ----------------------------------------------------------------------------- fast engine


KParams = namedtuple(
    "KParams",
    [
        "theta_in", "thetas", "k", "out_pos", "out_neg", "denom", "signed", "th_hid", "fr",
        "wmin", "wmax", "stochastic",
    ],
)  # fmt: skip
KParams.__doc__ = """:class:`IntParams` as the fast kernels read them (build with :func:`kparams`).

Fields: ``theta_in`` (int), ``thetas`` ``(L,)`` int64 LIF thresholds (training or evaluation),
``k`` leak shift, ``out_pos`` / ``out_neg`` ``(T + 1,)`` bool tables, ``denom``, ``signed``,
``th_hid`` ``(L,)`` int64, ``fr`` trace fraction bits, ``wmin`` / ``wmax``, ``stochastic``
rounding.
"""

KLr = namedtuple("KLr", ["shs", "signs", "exps"])
KLr.__doc__ = """A learning rate for the kernels: ``shs`` ``(L,)`` int64 final right shift per
layer, ``signs`` / ``exps`` int64 arrays of :class:`LrShift`'s extra power-of-two terms."""


@structref.register
class _KWorkspaceType(types.StructRef):
    def preprocess_fields(self, fields):
        return tuple((name, types.unliteral(typ)) for name, typ in fields)


class KWorkspace(structref.StructRefProxy):
    """Scratch arrays of the integer kernels (a Numba structure reference, like
    :class:`desire_bp.kernels.Workspace`; typed lists by layer ``0..L``): ``offsets``
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
        int(P.k),
        np.asarray(P.out_pos, np.bool_),
        np.asarray(P.out_neg, np.bool_),
        int(P.denom),
        bool(P.signed),
        np.array(P.theta_hid, np.int64),
        int(P.trace_frac),
        int(P.wmin),
        int(P.wmax),
        spec.rounding == "stochastic",
    )


def klr(P: IntParams, lrs: LrShift) -> KLr:
    """The kernels' view of the learning rate ``lrs`` for the fraction bits of ``P``."""
    return KLr(
        np.array([lrs.a + P.trace_frac - f for f in P.frac], np.int64),
        np.array(lrs.signs, np.int64),
        np.array(lrs.exps, np.int64),
    )


@njit(cache=True, nogil=True)
def _k_workspace(sizes, T):
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
def _k_forward(WTs, xb, masks, kp, ws):
    """Integer forward pass into the workspace (input-major weights ``WT (n_in, n_out)``)."""
    L = len(WTs)
    offsets, spikes, counts, active, n_active, cur = (
        ws.offsets, ws.spikes, ws.counts, ws.active, ws.n_active, ws.cur
    )  # fmt: skip
    theta_in, k = kp.theta_in, kp.k
    T = spikes[0].shape[0]
    # input encoder
    n_act = 0
    for i in range(xb.shape[0]):
        v = np.int64(0)
        c = 0
        m = masks[offsets[0] + i]
        for t in range(T):
            v += xb[i]
            if v >= theta_in and m:
                v -= theta_in
                spikes[0][t, i] = 1
                c += 1
            else:
                spikes[0][t, i] = 0
        counts[0][i] = c
        if c > 0:
            active[0][n_act] = i
            n_act += 1
    n_active[0] = n_act
    for layer in range(1, L + 1):
        delay = 0 if layer == 1 else 1
        WT = WTs[layer - 1]
        n_out = WT.shape[1]
        cu = cur[layer]
        cu[:, :] = 0
        sp_in = spikes[layer - 1]
        for a in range(n_active[layer - 1]):
            j = active[layer - 1][a]
            row = WT[j]
            for t in range(T - delay):
                if sp_in[t, j]:
                    c_t = cu[t + delay]
                    for o in range(n_out):
                        c_t[o] += row[o]
        th = kp.thetas[layer - 1]
        sp = spikes[layer]
        cnt = counts[layer]
        off = offsets[layer]
        n_act = 0
        for o in range(n_out):
            v = np.int64(0)
            c = 0
            m = masks[off + o]
            for t in range(T):
                v = v - (v >> k)
                v = _sat32(v + cu[t, o])
                if v >= th and m:
                    v -= th
                    sp[t, o] = 1
                    c += 1
                else:
                    sp[t, o] = 0
            cnt[o] = c
            if c > 0:
                active[layer][n_act] = o
                n_act += 1
        n_active[layer] = n_act


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
        th = kp.th_hid[layer - 1]
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
    """Integer update of layer ``layer`` (see :func:`weight_update_int`); returns the rng state."""
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
    k, fr, wmin, wmax, stochastic = kp.k, kp.fr, kp.wmin, kp.wmax, kp.stochastic
    sh, lr_signs, lr_exps = lr.shs[layer - 1], lr.signs, lr.exps
    T, n_out = spikes_out.shape
    upd = np.empty(n_out, np.int64)
    nu = 0
    for o in range(n_out):
        if d[o] != 0 and masks[off + o] and counts_out[o] > 0:
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
def _k_train_step(WTs, xb, label, masks, kp, lr, ws):
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
def _k_evaluate(WTs, X, T, kp, n_chunks, out):
    """Output spike counts of every row of ``X`` (uint8 bytes); ``kp`` has evaluation
    thresholds."""
    L = len(WTs)
    N = X.shape[0]
    sizes = layer_sizes(WTs)
    for ch in prange(n_chunks):
        lo, hi = chunk_bounds(N, n_chunks, ch)
        if lo >= hi:
            continue
        ws = _k_workspace(sizes, T)
        masks = np.ones(ws.offsets[L + 1], np.bool_)
        for s in range(lo, hi):
            _k_forward(WTs, X[s], masks, kp, ws)
            out[s, :] = ws.counts[L]


# ----------------------------------------------------------------------------- network API


def weights_sha256(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 of integer weights: each ``W_l`` ``(n_out, n_in)`` row-major, little-endian
    int64, layers in order.  (Independent of the storage width.)"""
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, dtype="<i8").tobytes())
    return h.hexdigest()


class IntegerNetwork:
    """A network trained and evaluated in integer arithmetic; the API of ``Network``.

    Integer weights are stored input-major (``WT_l = W_l.T``) for the fast engine; the API
    speaks ``(n_out, n_in)``.  :attr:`weights` gives the float values ``W_int * 2**-f_l`` (what
    checkpoints store; :meth:`from_network` re-quantizes them exactly).
    """

    def __init__(
        self,
        int_weights: Sequence[np.ndarray],
        frac: Sequence[int],
        cfg: Config,
        spec: IntSpec | None = None,
        engine: str = "fast",
    ) -> None:
        """Build from integer weights ``(n_out, n_in)`` and their fraction bits ``f_l``."""
        if cfg.leak != "always":
            raise ValueError(f"integer mode implements leak='always' only, not {cfg.leak!r}")
        self.spec = spec or IntSpec()
        self.spec = IntSpec(**{**self.spec.to_dict(), "frac_bits": tuple(frac)})
        self.cfg = cfg.replace(extra={**cfg.extra, EXTRA_KEY: self.spec.to_dict()})
        self.P = make_params(self.cfg, self.spec, frac)
        dt = _storage_dtype(self.spec.weight_bits)
        sizes = cfg.sizes
        if len(int_weights) != len(sizes) - 1:
            raise ValueError(f"expected {len(sizes) - 1} weight arrays, got {len(int_weights)}")
        wts = []
        for layer, w in enumerate(int_weights, start=1):
            w = np.asarray(w)
            if w.shape != (sizes[layer], sizes[layer - 1]):
                raise ValueError(f"weights of layer {layer}: shape {w.shape}")
            if w.size and (w.min() < self.P.wmin or w.max() > self.P.wmax):
                raise ValueError(f"weights of layer {layer} exceed {self.spec.weight_bits} bits")
            wts.append(np.ascontiguousarray(w.T, dtype=dt))
        self._WT = List(wts)
        self.engine = engine
        self._ws: KWorkspace | None = None
        self._lr_cache: dict[float, LrShift] = {}
        # the fast kernels' typed views of P, built once (training / evaluation thresholds)
        self._kp_train = kparams(self.P, self.spec, train=True)
        self._kp_eval = kparams(self.P, self.spec, train=False)
        self._klr_cache: dict[LrShift, KLr] = {}

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_network(
        cls, net: Network, spec: IntSpec | None = None, engine: str = "fast"
    ) -> IntegerNetwork:
        """Quantize a float :class:`Network` (``spec.frac_bits`` or chosen from its weights)."""
        if spec is None:
            stored = net.cfg.extra.get(EXTRA_KEY)
            spec = IntSpec() if stored is None else IntSpec.from_dict(stored)
        wi, frac = quantize(net.weights, spec)
        return cls(wi, frac, net.cfg, spec, engine)

    @classmethod
    def init(
        cls, cfg: Config, spec: IntSpec | None = None, seed: int | None = None, engine: str = "fast"
    ) -> IntegerNetwork:
        """Kaiming-normal float initialisation (same as ``Network.init``), quantized."""
        return cls.from_network(Network.init(cfg, seed), spec, engine)

    @classmethod
    def load(cls, path, engine: str = "fast", spec: IntSpec | None = None) -> IntegerNetwork:
        """Read a checkpoint; its ``config.extra["integer"]`` (if any) gives the format."""
        return cls.from_network(Network.load(path), spec, engine)

    # ----------------------------------------------------------------- weights
    @property
    def int_weights(self) -> list[np.ndarray]:
        """Copies of the integer weights ``(n_out, n_in)``."""
        return [np.ascontiguousarray(wt.T) for wt in self._WT]

    @property
    def frac(self) -> tuple[int, ...]:
        """Fraction bits ``f_l`` per layer."""
        return self.P.frac

    @property
    def weights(self) -> list[np.ndarray]:
        """Float values ``W_int * 2**-f_l``, ``(n_out, n_in)`` float32 (exact for <= 24 bits)."""
        return [
            (wt.T.astype(np.float64) * 2.0**-f).astype(np.float32)
            for wt, f in zip(self._WT, self.P.frac, strict=True)
        ]

    def sha256(self) -> str:
        """:func:`weights_sha256` of the integer weights."""
        return weights_sha256(self.int_weights)

    def lr_shift(self, lr: float) -> LrShift:
        """The shift representation of ``lr`` (cached)."""
        if lr not in self._lr_cache:
            self._lr_cache[lr] = lr_to_shifts(lr, self.spec.lr_terms)
        return self._lr_cache[lr]

    def _workspace(self) -> KWorkspace:
        if self._ws is None:
            self._ws = _k_workspace(np.asarray(self.cfg.sizes, np.int64), int(self.cfg.T))
        return self._ws

    # ----------------------------------------------------------------- one sample
    def train_sample(
        self,
        x: np.ndarray,
        label: int,
        lr: float | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> SampleResult:
        """One online integer training step (like :meth:`Network.train_sample`).

        Args:
            x: ``(n_0,)`` pixel bytes (uint8) or floats ``byte / 255`` (converted exactly).
            label: class; lr: float learning rate, turned into shifts (default ``cfg.lr``).
            masks: dropout masks per layer (``None``: all ones; thresholds still training).
        """
        cfg, P = self.cfg, self.P
        xb = _as_bytes(x).reshape(-1)
        if xb.shape[0] != cfg.sizes[0]:
            raise ValueError(f"sample has {xb.shape[0]} values, input layer has {cfg.sizes[0]}")
        if not 0 <= int(label) < cfg.sizes[-1]:
            raise ValueError(f"label {label} outside 0..{cfg.sizes[-1] - 1}")
        lrs = self.lr_shift(cfg.lr if lr is None else float(lr))
        if masks is None:
            masks = [np.ones(n, bool) for n in cfg.sizes]
        masks = [np.asarray(m, bool).reshape(-1) for m in masks]
        if self.engine == "reference":
            W = self.int_weights
            stoch = self.spec.rounding == "stochastic"
            fwd, _ = train_sample_int(W, xb, int(label), cfg, P, masks, lrs, stoch)
            self._WT = List([np.ascontiguousarray(w.T) for w in W])
            counts = fwd.counts[-1]
            return SampleResult(counts.copy(), _is_correct(counts, int(label)))
        ws = self._workspace()
        flat = np.concatenate(masks)
        if lrs not in self._klr_cache:
            self._klr_cache[lrs] = klr(P, lrs)
        ok = _k_train_step(self._WT, xb, int(label), flat, self._kp_train, self._klr_cache[lrs], ws)
        return SampleResult(layer_counts(ws, len(cfg.sizes) - 1), bool(ok))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output spike counts of one sample in evaluation mode, ``(n_L,)``."""
        return self.forward_batch(_as_bytes(x).reshape(1, -1))[0]

    def forward_batch(self, X: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Output spike counts of many samples, ``(N, n_L)`` int32 (evaluation mode)."""
        Xb = _as_bytes(X).reshape(len(X), -1)
        if Xb.shape[1] != self.cfg.sizes[0]:
            raise ValueError(f"samples have {Xb.shape[1]} values, input has {self.cfg.sizes[0]}")
        out = np.zeros((len(Xb), self.cfg.sizes[-1]), np.int32)
        if self.engine == "reference":
            W = self.int_weights
            for s in range(len(Xb)):
                out[s] = forward_int(W, Xb[s], self.cfg, self.P).counts[-1]
            return out
        import numba

        n = threads or numba.get_num_threads()
        _k_evaluate(
            self._WT,
            np.ascontiguousarray(Xb),
            self.cfg.T,
            self._kp_eval,
            max(1, min(n, len(Xb))),
            out,
        )
        return out

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> Evaluation:
        """Classify a data set (strict maximum rule), like :meth:`Network.evaluate`."""
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        n_cls = self.cfg.sizes[-1]
        counts = self.forward_batch(images)
        pred = predictions_from_counts(counts) if len(counts) else np.zeros(0, np.int64)
        confusion = np.zeros((n_cls, n_cls + 1), np.int64)
        np.add.at(confusion, (labels, np.where(pred < 0, n_cls, pred)), 1)
        correct = int((pred == labels).sum())
        acc = 100.0 * correct / len(labels) if len(labels) else float("nan")
        return Evaluation(acc, len(labels), pred, counts, confusion)

    def save(self, path, **meta) -> None:
        """Write an ``.npz`` checkpoint: float values of the integer weights, the config with
        ``extra["integer"]`` (re-quantized exactly by :meth:`load`), and the weight hash."""
        from .checkpoint import save_checkpoint

        save_checkpoint(path, self.weights, self.cfg, {**meta, "int_sha256": self.sha256()})

    def copy(self) -> IntegerNetwork:
        """An independent copy."""
        return IntegerNetwork(self.int_weights, self.P.frac, self.cfg, self.spec, self.engine)


def _is_correct(counts: np.ndarray, label: int) -> bool:
    others = np.delete(counts, label)
    return bool(counts[label] > others.max())


# ----------------------------------------------------------------------------- CLI glue


def integer_training(cfg: Config, args: argparse.Namespace | None = None):
    """Prepare ``desire-bp train --arithmetic int``.

    Fixes the integer format in ``cfg.extra["integer"]`` (fraction bits chosen from the
    seed's initial weights, so a resumed run re-quantizes identically) and returns
    ``(cfg, wrap)`` where ``wrap(net)`` turns the float network that
    :func:`desire_bp.training.train` builds (initialised or resumed) into an
    :class:`IntegerNetwork`.
    """
    stored = cfg.extra.get(EXTRA_KEY)
    if stored is not None:
        spec = IntSpec.from_dict(stored)
    else:
        kw: dict[str, Any] = {}
        for name in ("weight_bits", "trace_frac", "lr_terms", "rounding"):
            v = getattr(args, f"int_{name}", None) if args is not None else None
            if v is not None:
                kw[name] = v
        spec = IntSpec(**kw)
    if spec.frac_bits is None:
        _, frac = quantize(Network.init(cfg).weights, spec)
        spec = IntSpec(**{**spec.to_dict(), "frac_bits": frac})
    cfg = cfg.replace(extra={**cfg.extra, EXTRA_KEY: spec.to_dict()})
    make_params(cfg, spec, spec.frac_bits)  # validate early (integer leak, thresholds)

    def wrap(net: Network) -> IntegerNetwork:
        return IntegerNetwork.from_network(net, spec, engine=net.engine)

    return cfg, wrap


def add_commands(subparsers: Any) -> None:
    """Add the integer-format options to ``desire-bp train`` (used with ``--arithmetic int``)."""
    t = subparsers.choices.get("train")
    if t is None:
        return
    g = t.add_argument_group("integer arithmetic (with --arithmetic int)")
    g.add_argument("--int-weight-bits", type=int, help="weight width in bits (default 16)")
    g.add_argument("--int-trace-frac", type=int, help="trace fraction bits (default 10)")
    g.add_argument(
        "--int-lr-terms",
        type=int,
        help="power-of-two terms of the learning rate (1 = one right shift; default 2)",
    )
    g.add_argument(
        "--int-rounding",
        choices=list(ROUNDINGS),
        help="rounding of the weight update (default stochastic: unbiased; nearest: half up)",
    )


def load_network(path, engine: str = "fast") -> Network | IntegerNetwork:
    """The network of a checkpoint in its own arithmetic: an :class:`IntegerNetwork` for a
    checkpoint of an integer run (``config.extra["integer"]`` present), else a
    :class:`~desire_bp.network.Network`.  ``desire-bp eval`` uses this."""
    net = Network.load(path, engine=engine)
    if "integer" in net.cfg.extra:
        return IntegerNetwork.from_network(net, None, engine)
    return net
