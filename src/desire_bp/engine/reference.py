"""The readable engine: the specification (``docs/spec.md``), equation by equation, in NumPy
float32.

This module is the executable specification.  Every function is pure (state in, state out) or
documents the one array it updates in place, and follows the order and names of ``docs/spec.md``:

* :func:`draw_masks`      -- "Dropout masks are drawn once per sample"
* :func:`forward`         -- "Forward pass of one sample" (input IF layer, LIF layers, one-step
  delay between LIF layers, pre-synaptic traces, spike counts)
* :func:`output_desire`   -- "Backward pass: desire values", output layer
* :func:`hidden_desire`   -- the same, hidden layers
* :func:`weight_update`   -- "Weight update (STDP guided by desire)"
* :func:`is_correct`      -- "Classification" (strict maximum, ties are wrong)

It is deliberately simple and slow (dense float32 matrix-vector products per time step).  The
fast engine (:mod:`desire_bp.engine.kernels`) is tested against it.

Shapes: ``T`` time steps, ``n_l`` neurons in layer ``l``; weights ``W_l`` are ``(n_l, n_{l-1})``
float32; spikes are ``(T, n_l)`` bool; inputs ``u_l`` and traces ``r_l`` are ``(T, n_{l-1})``
float32; desire is int8 in ``{-1, 0, +1}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import Config

F32 = np.float32

__all__ = [
    "Forward",
    "draw_masks",
    "draw_mask_block",
    "scales",
    "forward",
    "synaptic_input",
    "output_desire",
    "hidden_desire",
    "backward",
    "updated_neurons",
    "weight_update",
    "train_sample",
    "is_correct",
    "predict",
]


@dataclass
class Forward:
    """Everything the forward pass of one sample produces.

    Attributes:
        spikes: ``spikes[l]`` is ``s_l``, ``(T, n_l)`` bool, for ``l = 0..L`` (0 = input layer).
        inputs: ``inputs[l]`` is ``u_l``, ``(T, n_{l-1})`` float32, what LIF layer ``l``
            receives (scaled spikes); ``inputs[0]`` is ``None``.
        traces: ``traces[l]`` is ``r_l``, ``(T, n_{l-1})`` float32; ``traces[0]`` is ``None``.
        counts: ``counts[l]`` is ``n_l``, ``(n_l,)`` int32, binary spikes summed over time.
    """

    spikes: list[np.ndarray]
    inputs: list[np.ndarray | None]
    traces: list[np.ndarray | None]
    counts: list[np.ndarray]


def draw_masks(cfg: Config, rng: np.random.Generator) -> list[np.ndarray]:
    """Dropout masks of one training sample, drawn from ``rng``.

    ``m_l[j] ~ Bernoulli(1 - p_l)``: one vector ``U = rng.random(sum n_l)`` is drawn over the
    layers whose dropout probability is > 0 (input, then hidden layers, in order), split per
    layer, and ``m_l = U_l >= p_l``.  Layers with probability 0 (always the output layer) get
    all ones and draw nothing.  Drawing ``k`` samples at once with ``rng.random((k, sum n_l))``
    gives the same masks (see :func:`draw_mask_block`).

    Returns:
        ``len(cfg.sizes)`` bool arrays, ``masks[l]`` of shape ``(n_l,)``.
    """
    return [m[0] for m in draw_mask_block(cfg, rng, 1)]


def draw_mask_block(cfg: Config, rng: np.random.Generator, k: int) -> list[np.ndarray]:
    """Masks of ``k`` consecutive samples: ``masks[l]`` is ``(k, n_l)`` bool.

    Identical to ``k`` calls of :func:`draw_masks` on the same generator.
    """
    probs = [cfg.dropout(layer) for layer in range(len(cfg.sizes))]
    total = sum(n for n, p in zip(cfg.sizes, probs, strict=True) if p > 0)
    u = rng.random((k, total)) if total else None
    masks, pos = [], 0
    for n, p in zip(cfg.sizes, probs, strict=True):
        if p > 0:
            masks.append(u[:, pos : pos + n] >= p)
            pos += n
        else:
            masks.append(np.ones((k, n), dtype=bool))
    return masks


def scales(cfg: Config, train: bool) -> list[np.float32]:
    """Dropout scale ``c_l = 1 / (1 - p_l)`` per layer in training, 1 in evaluation."""
    if not train:
        return [F32(1.0)] * len(cfg.sizes)
    return [F32(1.0 / (1.0 - cfg.dropout(layer))) for layer in range(len(cfg.sizes))]


def forward(
    weights: list[np.ndarray],
    x: np.ndarray,
    cfg: Config,
    masks: list[np.ndarray] | None = None,
    train: bool = False,
) -> Forward:
    """Forward pass of one sample (``docs/spec.md``, "Forward pass").

    Args:
        weights: ``L`` float32 arrays, ``weights[l-1]`` is ``W_l`` of shape ``(n_l, n_{l-1})``.
        x: pixel values in [0, 1], shape ``(n_0,)`` (float; cast to float32).
        cfg: hyper-parameters (``T``, ``theta_p``, ``beta``, dropout probabilities).
        masks: dropout masks from :func:`draw_masks` (``None``: all ones).
        train: apply the training-time dropout scale ``c_l`` (masks are applied whenever given).
    """
    T, theta, beta = cfg.T, F32(cfg.theta_p), F32(cfg.beta)
    sizes = cfg.sizes
    L = len(sizes) - 1
    if masks is None:
        masks = [np.ones(n, dtype=bool) for n in sizes]
    c = scales(cfg, train)
    x = np.asarray(x, dtype=F32)

    spikes = [np.zeros((T, n), dtype=bool) for n in sizes]
    inputs: list[np.ndarray | None] = [None] + [np.zeros((T, n), F32) for n in sizes[:-1]]
    v = [np.zeros(n, dtype=F32) for n in sizes]  # state reset at the start of every sample

    for t in range(T):
        # Input layer: integrate-and-fire, no leak.
        v[0] += x
        spikes[0][t] = (v[0] >= theta) & masks[0]
        v[0] -= theta * spikes[0][t]  # subtractive reset, only where a spike was emitted
        # LIF layers: leak first, integrate, fire, reset.
        for layer in range(1, L + 1):
            if layer == 1:
                s_in = spikes[0][t]  # u_1[t] = y_0[t]
            elif t > 0:
                s_in = spikes[layer - 1][t - 1]  # u_l[t] = y_{l-1}[t-1]: one-step delay
            else:
                s_in = np.zeros(sizes[layer - 1], dtype=bool)  # u_l[0] = 0
            inputs[layer][t] = c[layer - 1] * s_in  # u_l[t] = c_{l-1} * s
            if cfg.leak == "skip-after-spike" and t > 0:  # option: no leak right after a spike
                v[layer] = np.where(spikes[layer][t - 1], v[layer], v[layer] * beta)
            else:
                v[layer] *= beta
            v[layer] += synaptic_input(weights[layer - 1], s_in, c[layer - 1])
            spikes[layer][t] = (v[layer] >= theta) & masks[layer]
            v[layer] -= theta * spikes[layer][t]

    # Pre-synaptic traces r_l[t] = beta * r_l[t-1] + min(u_l[t], 1), r_l[-1] = 0.
    traces: list[np.ndarray | None] = [None]
    for layer in range(1, L + 1):
        u = inputs[layer]
        r = np.zeros_like(u)
        prev = np.zeros(u.shape[1], dtype=F32)
        for t in range(T):
            prev = beta * prev + np.minimum(u[t], F32(1.0))
            r[t] = prev
        traces.append(r)

    counts = [s.sum(axis=0, dtype=np.int32) for s in spikes]
    return Forward(spikes=spikes, inputs=inputs, traces=traces, counts=counts)


def synaptic_input(W: np.ndarray, s_in: np.ndarray, c: np.float32) -> np.ndarray:
    """``W @ u`` for the scaled spikes ``u = c * s_in``, as ``c * sum_{j: s_in[j]} W[:, j]``.

    The specification leaves the float32 summation order open; it is fixed here
    (``docs/spec.md``, "Float32 summation order") to ascending pre-synaptic index (one rounding
    per addition, then one for the scale), which the fast engine follows too, so that both
    produce bit-identical potentials.

    Args:
        W: ``(n_out, n_in)`` float32; s_in: ``(n_in,)`` bool spikes; c: dropout scale.
    Returns:
        ``(n_out,)`` float32 synaptic input.
    """
    acc = np.zeros(W.shape[0], dtype=F32)
    for j in np.flatnonzero(s_in):
        acc += W[:, j]
    return c * acc


def output_desire(counts: np.ndarray, label: int, cfg: Config) -> np.ndarray:
    """Desire of the output layer (``docs/spec.md``, "Backward pass: desire", output layer).

    ``rate = n / (T - error_margin)``; ``e[k] = rate[k]`` for ``k != label`` and
    ``1 - rate[label]``; ``d[k] = (+1 if k == label else -1)`` where ``e[k] > theta_out``.

    Args:
        counts: output spike counts ``n_L``, shape ``(n_L,)``.
        label: the sample's class.
    Returns:
        int8 desire, shape ``(n_L,)``.
    """
    rate = counts.astype(F32) / F32(cfg.T - cfg.error_margin)
    e = rate.copy()
    e[label] = F32(1.0) - rate[label]
    sign = np.full(counts.shape, -1, dtype=np.int8)
    sign[label] = 1
    return np.where(e > F32(cfg.theta_out), sign, np.int8(0)).astype(np.int8)


def hidden_desire(
    W: np.ndarray, d: np.ndarray, counts: np.ndarray, mask: np.ndarray, cfg: Config
) -> np.ndarray:
    """Desire of layer ``l-1`` from layer ``l`` (``docs/spec.md``, "Backward pass: desire",
    hidden layers).

    ``target = [d == +1]``, ``err = |target - n / (T - error_margin)|`` (or, with
    ``cfg.hidden_error == "signed"``, the paper's ``target - n / T`` with ``sgn = |d| m``),
    ``sgn = d * m``, ``S = W^T @ (err * sgn)``, ``d_{l-1} = sign(S)`` where ``|S| >= theta_hid``.

    Args:
        W: ``W_l`` before the update, ``(n_l, n_{l-1})`` float32.
        d: desire of layer ``l``, ``(n_l,)`` int8.
        counts: spike counts ``n_l``, ``(n_l,)``.
        mask: dropout mask ``m_l``, ``(n_l,)`` bool.
    Returns:
        int8 desire of layer ``l-1``, shape ``(n_{l-1},)``.
    """
    target = (d == 1).astype(F32)
    if cfg.hidden_error == "signed":
        err = target - counts.astype(F32) / F32(cfg.T)
        sgn = (np.abs(d) * mask).astype(F32)
    else:
        rate = counts.astype(F32) / F32(cfg.T - cfg.error_margin)
        err = np.abs(target - rate)
        sgn = (d * mask).astype(F32)
    # S = W^T (err * sgn): each product is exact in float64, the float64 sum is rounded once
    # to float32, so the result does not depend on the summation order (fast engine).
    S = (W.T.astype(np.float64) @ (err * sgn).astype(np.float64)).astype(F32)
    return np.where(np.abs(S) >= F32(cfg.theta_hid), np.sign(S), F32(0)).astype(np.int8)


def backward(
    weights: list[np.ndarray], fwd: Forward, label: int, masks: list[np.ndarray], cfg: Config
) -> list[np.ndarray]:
    """Desire of every LIF layer: ``desire[l-1]`` is ``d_l`` for ``l = 1..L``.

    Uses the weights as they were during the forward pass.
    """
    L = len(cfg.sizes) - 1
    desire: list[np.ndarray] = [np.empty(0, np.int8)] * L
    desire[L - 1] = output_desire(fwd.counts[L], label, cfg)
    for layer in range(L, 1, -1):
        desire[layer - 2] = hidden_desire(
            weights[layer - 1], desire[layer - 1], fwd.counts[layer], masks[layer], cfg
        )
    return desire


def updated_neurons(
    d: np.ndarray, mask: np.ndarray, spikes: np.ndarray, cap: int = 0
) -> np.ndarray:
    """The neurons a weight update touches, ``(n_out,)`` bool: a desire, kept by dropout, and,
    with ``cap > 0`` (``Config.potentiation_cap``), not desired +1 with ``cap`` spikes or more.

    Args:
        d: ``(n_out,)`` desire; mask: ``(n_out,)`` bool; spikes: ``(T, n_out)`` bool.
    """
    keep = (d != 0) & mask
    if cap > 0:  # potentiation="below-target": no potentiation at or above the target count
        keep &= ~((d > 0) & (spikes.sum(axis=0) >= cap))
    return keep


def weight_update(
    W: np.ndarray,
    d: np.ndarray,
    mask: np.ndarray,
    spikes: np.ndarray,
    traces: np.ndarray,
    lr: float,
    w_bound: float = 0.0,
    cap: int = 0,
) -> None:
    """STDP guided by desire, in place (``docs/spec.md``, "Weight update").

    ``W[o, i] += lr * d[o] * m[o] * sum_t s[t][o] * r[t][i]``.  With ``w_bound > 0`` (an
    extension, ``Config.w_bound``) every weight of the neurons that changed (desire, kept by
    dropout, at least one spike) is then clipped to ``[-w_bound, w_bound]``.  With ``cap > 0``
    (an extension, ``Config.potentiation_cap``) a neuron with ``d[o] = +1`` that fired at
    least ``cap`` times is left out, as if it had no desire.

    Args:
        W: ``(n_out, n_in)`` float32, updated in place.
        d: ``(n_out,)`` int8 desire; ``mask``: ``(n_out,)`` bool dropout mask.
        spikes: post-synaptic spikes ``(T, n_out)`` bool; traces: ``(T, n_in)`` float32.
        lr: learning rate of the current epoch.
    """
    rows = np.flatnonzero(updated_neurons(d, mask, spikes, cap))  # only these neurons change
    # stdp[o, i] = sum_t s[t][o] r[t][i], accumulated in float32 in ascending t
    stdp = np.zeros((len(rows), W.shape[1]), dtype=F32)
    for t in range(spikes.shape[0]):
        stdp += np.outer(spikes[t, rows].astype(F32), traces[t])
    coef = F32(lr) * d[rows].astype(F32)  # lr * d_o * m_o for the rows kept
    W[rows] += coef[:, None] * stdp
    if w_bound > 0:  # the neurons whose weights changed: those of ``rows`` that spiked
        changed = rows[spikes[:, rows].any(axis=0)]
        W[changed] = np.clip(W[changed], -F32(w_bound), F32(w_bound))


def is_correct(counts: np.ndarray, label: int) -> bool:
    """True iff the label's output neuron has the strictly largest spike count."""
    others = np.delete(counts, label)
    return bool(counts[label] > others.max())


def predict(counts: np.ndarray) -> int:
    """Predicted class: the strict arg-max of ``counts``, or -1 ("no decision") on a tie."""
    k = int(np.argmax(counts))
    return k if int((counts == counts[k]).sum()) == 1 else -1


def train_sample(
    weights: list[np.ndarray],
    x: np.ndarray,
    label: int,
    cfg: Config,
    masks: list[np.ndarray],
    lr: float,
) -> tuple[Forward, list[np.ndarray]]:
    """One online training step: forward (with dropout), backward, update every layer in place.

    Returns:
        the forward result and the desire of every LIF layer.
    """
    fwd = forward(weights, x, cfg, masks, train=True)
    desire = backward(weights, fwd, label, masks, cfg)
    for layer in range(1, len(cfg.sizes)):
        weight_update(
            weights[layer - 1],
            desire[layer - 1],
            masks[layer],
            fwd.spikes[layer],
            fwd.traces[layer],
            lr,
            cfg.w_bound,
            cfg.potentiation_cap,
        )
    return fwd, desire
