"""Integer, multiplication-free training mode (``desire-bp train --arithmetic int``).

Everything a sample touches -- input encoder, LIF forward pass, desire backpropagation and the
STDP weight update -- runs on integers with additions, subtractions, shifts and comparisons
only.  The semantics follow the specification (``docs/spec.md``) with these integer choices (see
``docs/integer.md``):

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
  ``T + 1`` possible counts, built from the float32 formula, so decisions are identical).
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

The package mirrors the float engine (:mod:`desire_bp.engine`):

* :mod:`~desire_bp.integer.format` -- the format's arithmetic: fraction bits, quantization,
  the learning rate as shifts, the integer constants :class:`IntParams` of a configuration (the
  format itself is :class:`~desire_bp.config.IntSpec`, the ``integer`` field of a ``Config``);
* :mod:`~desire_bp.integer.reference` -- the readable engine (``forward_int`` ...
  ``train_sample_int``);
* :mod:`~desire_bp.integer.kernels` -- the fast engine (Numba), bit-identical to it;
* :mod:`~desire_bp.integer.network` -- :class:`IntegerNetwork`, a
  :class:`~desire_bp.engine.NetworkBase` like the float ``Network``, so
  :func:`desire_bp.training.train` trains it (a config with ``integer`` set).
"""

from ..config import IntSpec
from .format import (
    IntParams,
    LrShift,
    choose_frac_bits,
    lr_to_shifts,
    make_params,
    quantize,
    saturate,
    shift_leak,
)
from .network import IntegerNetwork, load_network, weights_sha256, with_integer_format
from .reference import (
    IntForward,
    backward_int,
    forward_int,
    hidden_desire_int,
    output_desire_int,
    sample_seeds,
    train_sample_int,
    weight_update_int,
    xorshift32,
)

__all__ = [
    "IntSpec",
    "IntParams",
    "LrShift",
    "IntForward",
    "IntegerNetwork",
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
    "weights_sha256",
    "xorshift32",
    "sample_seeds",
    "load_network",
    "with_integer_format",
]
