"""The integer format: widths, fixed-point scales, the learning rate as shifts and the integer
constants of a configuration (``docs/integer.md``, ``docs/spec.md``).

The format itself, :class:`~desire_bp.config.IntSpec`, lives in :mod:`desire_bp.config` (it is
the ``integer`` field of a :class:`~desire_bp.config.Config`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..config import Config, ConfigError, IntSpec

__all__ = [
    "I32_MIN",
    "I32_MAX",
    "IntParams",
    "LrShift",
    "choose_frac_bits",
    "lr_to_shifts",
    "make_params",
    "quantize",
    "saturate",
    "shift_leak",
    "storage_dtype",
]

I32_MIN, I32_MAX = -(2**31), 2**31 - 1


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


def storage_dtype(bits: int) -> np.dtype:
    """The NumPy integer type that stores ``bits``-wide weights (int8, int16 or int32)."""
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
    dt = storage_dtype(spec.weight_bits)
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
        mempot_decay: the leak as a shift (``Config.mempot_decay``, an integer here).
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
        cap: a neuron desired +1 that fired at least ``cap`` times is not updated
            (``Config.potentiation_cap``; 0: no cap).
    """

    frac: tuple[int, ...]
    mempot_decay: int
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
    cap: int = 0


def make_params(cfg: Config, spec: IntSpec, frac: Sequence[int]) -> IntParams:
    """The integer constants of ``cfg`` (see :class:`IntParams`)."""
    if int(cfg.mempot_decay) != cfg.mempot_decay:
        raise ConfigError(
            f"mempot_decay = {cfg.mempot_decay}: the integer mode needs an integer (shift) leak"
        )
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
    # Output desire tables from the specification's float32 formula, so the decisions are identical.
    f32 = np.float32
    n = np.arange(cfg.T + 1)
    rate = n.astype(f32) / f32(cfg.T - cfg.error_margin)
    out_pos = (f32(1.0) - rate) > f32(cfg.theta_out)
    out_neg = rate > f32(cfg.theta_out)
    return IntParams(
        frac=frac,
        mempot_decay=int(cfg.mempot_decay),
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
        cap=cfg.potentiation_cap,
    )
