"""Weight fingerprints: summary statistics that tell how much learning a network received.

Two networks of equal accuracy can differ a lot in how far their weights have travelled from
the Kaiming-normal initialisation.  Under desire backpropagation a neuron that keeps receiving
``+1`` desire while it fires gets its incoming weights raised at every step; with enough
(undecayed) learning such neurons "run away": their incoming weights grow to tens or hundreds,
they fire on any input, and the next layer learns to ignore them (their outgoing weights
shrink).  The statistics here make that visible and comparable between runs, e.g. between a
desire-bp checkpoint and the authors' published model:

- per layer ``l`` (weights ``W_l`` of shape ``(n_l, n_{l-1})``): standard deviation, mean,
  maximum absolute value and the 50/90/99 % quantiles of ``|w|``;
- per hidden layer: how many neurons have a maximum absolute incoming weight above each of
  ``thresholds`` (default 1, 5, 20), the largest row mean, and, for the neurons above the
  largest threshold ("runaway" neurons), the mean ``|w|`` of their outgoing weights beside the
  layer's overall mean ``|w|`` of outgoing weights;
- given the weights the run started from (:func:`initial_weights`), how far each layer has
  travelled from them: ``||W - W0|| / ||W0||`` (Frobenius norms) and the correlation of ``W``
  with ``W0`` over the entries.  A layer grown by runaway neurons has travelled many times
  its own initial norm and kept little of its initial pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .checkpoint import Checkpoint

__all__ = [
    "LayerFingerprint",
    "Fingerprint",
    "fingerprint",
    "format_fingerprints",
    "load_weights",
    "initial_weights",
    "summary",
]

DEFAULT_THRESHOLDS = (1.0, 5.0, 20.0)


@dataclass(frozen=True)
class LayerFingerprint:
    """Statistics of one weight matrix ``W_l`` (``(n_out, n_in)``); all in weight units.

    Attributes:
        layer: 1-based layer index (``W1`` maps the input to the first hidden layer).
        shape: ``(n_out, n_in)``.
        std / mean / max_abs: over all entries.
        abs_quantiles: ``|w|`` at the 50, 90 and 99 % quantiles.
        neurons_over: for each threshold, how many of the ``n_out`` neurons have a maximum
            absolute incoming weight above it (keys are the thresholds as text, e.g. ``"20"``).
        max_row_mean: the largest mean incoming weight of a neuron.
        runaway: neurons over the largest threshold.
        runaway_out_abs: mean ``|w|`` of the outgoing weights (column of ``W_{l+1}``) of the
            runaway neurons (``None``: none, or the output layer).
        out_abs: mean ``|w|`` of all outgoing weights of this layer's neurons (``None`` for
            the output layer).
        drift: ``||W - W0|| / ||W0||`` against the initial weights ``W0`` (``None``: not given).
        init_corr: Pearson correlation of the entries of ``W`` and ``W0`` (``None``: not
            given, or a constant matrix).
    """

    layer: int
    shape: tuple[int, int]
    std: float
    mean: float
    max_abs: float
    abs_quantiles: tuple[float, float, float]
    neurons_over: dict[str, int]
    max_row_mean: float
    runaway: int
    runaway_out_abs: float | None
    out_abs: float | None
    drift: float | None = None
    init_corr: float | None = None


@dataclass(frozen=True)
class Fingerprint:
    """The fingerprint of a whole network: one :class:`LayerFingerprint` per weight layer."""

    layers: list[LayerFingerprint] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dictionary."""
        return {"layers": [asdict(lf) for lf in self.layers]}


def _label(t: float) -> str:
    return f"{t:g}"


def fingerprint(
    weights: Sequence[np.ndarray],
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    initial: Sequence[np.ndarray] | None = None,
) -> Fingerprint:
    """The :class:`Fingerprint` of ``weights`` (``W_l`` of shape ``(n_l, n_{l-1})``).

    Args:
        initial: the weights the run started from (same shapes), for ``drift`` and
            ``init_corr``; ``None`` leaves those out.

    Raises:
        ValueError: no weights, non-2-D or non-chaining shapes, no thresholds, or ``initial``
            of other shapes.
    """
    if not weights:
        raise ValueError("fingerprint needs at least one weight matrix")
    if not thresholds:
        raise ValueError("fingerprint needs at least one threshold")
    ws = [np.asarray(w, dtype=np.float64) for w in weights]
    for k, w in enumerate(ws):
        if w.ndim != 2:
            raise ValueError(f"W{k + 1} has shape {w.shape}, expected (n_out, n_in)")
        if k and w.shape[1] != ws[k - 1].shape[0]:
            raise ValueError(
                f"W{k + 1} has {w.shape[1]} inputs but W{k} has {ws[k - 1].shape[0]} neurons"
            )
    ts = sorted(float(t) for t in thresholds)
    w0s = None if initial is None else [np.asarray(w, dtype=np.float64) for w in initial]
    if w0s is not None and [w.shape for w in w0s] != [w.shape for w in ws]:
        raise ValueError(
            f"initial weights of shapes {[w.shape for w in w0s]} for weights of shapes "
            f"{[w.shape for w in ws]}"
        )
    layers = []
    for k, w in enumerate(ws):
        a = np.abs(w)
        row_max = a.max(axis=1)
        run = row_max > ts[-1]
        nxt = np.abs(ws[k + 1]) if k + 1 < len(ws) else None
        layers.append(
            LayerFingerprint(
                layer=k + 1,
                shape=(int(w.shape[0]), int(w.shape[1])),
                std=float(w.std()),
                mean=float(w.mean()),
                max_abs=float(a.max()),
                abs_quantiles=tuple(float(q) for q in np.quantile(a, [0.5, 0.9, 0.99])),
                neurons_over={_label(t): int((row_max > t).sum()) for t in ts},
                max_row_mean=float(w.mean(axis=1).max()),
                runaway=int(run.sum()),
                runaway_out_abs=(
                    float(nxt[:, run].mean()) if nxt is not None and run.any() else None
                ),
                out_abs=float(nxt.mean()) if nxt is not None else None,
                **({} if w0s is None else _travel(w, w0s[k])),
            )
        )
    return Fingerprint(layers)


def _travel(w: np.ndarray, w0: np.ndarray) -> dict[str, float | None]:
    """``drift`` and ``init_corr`` of ``w`` against its initial weights ``w0`` (float64)."""
    n0 = float(np.linalg.norm(w0))
    drift = float(np.linalg.norm(w - w0)) / n0 if n0 > 0 else None
    a, b = w.ravel() - w.mean(), w0.ravel() - w0.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return {"drift": drift, "init_corr": float(a @ b) / den if den > 0 else None}


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:.4g}"
    return f"{v:.3e}"


def format_fingerprints(names: Sequence[str], fps: Sequence[Fingerprint]) -> str:
    """A text table with one column per network (``names``) and one row per statistic."""
    if len(names) != len(fps):
        raise ValueError("one name per fingerprint")
    rows: list[tuple[str, list[str]]] = []
    n_layers = max(len(fp.layers) for fp in fps)
    for k in range(n_layers):
        lfs = [fp.layers[k] if k < len(fp.layers) else None for fp in fps]

        def row(label: str, get, lfs=lfs) -> None:
            rows.append((label, [get(lf) if lf is not None else "" for lf in lfs]))

        L = f"W{k + 1}"
        row(f"{L} shape", lambda lf: "x".join(map(str, lf.shape)))
        row(f"{L} std / mean", lambda lf: f"{_fmt(lf.std)} / {lf.mean:+.4g}")
        row(f"{L} max |w|", lambda lf: _fmt(lf.max_abs))
        row(f"{L} |w| 50/90/99 %", lambda lf: " / ".join(_fmt(q) for q in lf.abs_quantiles))
        if k + 1 < n_layers:
            keys = list(next(lf for lf in lfs if lf is not None).neurons_over)
            row(
                f"{L} neurons max|w| > {'/'.join(keys)}",
                lambda lf: " / ".join(str(v) for v in lf.neurons_over.values()),
            )
            row(f"{L} largest row mean", lambda lf: _fmt(lf.max_row_mean))
            row(
                f"{L} runaway: out |w| (all)",
                lambda lf: f"{_fmt(lf.runaway_out_abs)} ({_fmt(lf.out_abs)})",
            )
        if any(lf is not None and lf.drift is not None for lf in lfs):
            row(
                f"{L} from init: drift / corr",
                lambda lf: f"{_fmt(lf.drift)} / {_fmt(lf.init_corr)}",
            )
    width = max(len(r[0]) for r in rows)
    cols = [max(len(n), *(len(r[1][i]) for r in rows)) for i, n in enumerate(names)]

    def line(label: str, vals: Sequence[str]) -> str:
        cells = (v.rjust(c) for v, c in zip(vals, cols, strict=True))
        return label.ljust(width) + "  " + "  ".join(cells)

    return "\n".join([line("", names), *(line(label, vals) for label, vals in rows)])


def summary(weights: Sequence[np.ndarray], runaway_threshold: float = 20.0) -> dict[str, list]:
    """A compact per-epoch fingerprint for metrics files: per layer (``W1`` first) the
    standard deviation, the maximum ``|w|`` and the number of neurons whose maximum incoming
    ``|w|`` exceeds ``runaway_threshold``."""
    std, max_abs, runaway = [], [], []
    for w in weights:
        w64 = np.asarray(w, dtype=np.float64)
        a = np.abs(w64)
        std.append(round(float(w64.std()), 6))
        max_abs.append(round(float(a.max()), 4))
        runaway.append(int((a.max(axis=1) > runaway_threshold).sum()))
    return {"w_std": std, "w_max_abs": max_abs, "runaway": runaway}


def load_weights(path: str | Path) -> list[np.ndarray]:
    """The weight matrices (``W1`` first, ``(n_out, n_in)`` each) of a desire-bp ``.npz``
    checkpoint or of one of the authors' PyTorch ``.pt`` files (read with
    ``torch.load(weights_only=True)``: no code in the file is executed; needs the ``torch``
    extra)."""
    path = Path(path)
    if path.suffix == ".pt":
        from .torch_import import load_torch_weights

        return list(load_torch_weights(path)[0])
    from .checkpoint import load_checkpoint

    return list(load_checkpoint(path).weights)


def initial_weights(source: str | Path | Checkpoint, name: str = "") -> list[np.ndarray]:
    """The weights the run of a desire-bp checkpoint (its ``.npz`` path, or the checkpoint
    already loaded) started from, ``(n_out, n_in)`` float32 each: the seeded Kaiming-normal
    initialisation of its config (quantized as the run quantized it, for integer training),
    or, for a run started with ``--init-from``, the weights of that checkpoint (the file must
    still have the SHA-256 the run recorded). ``name`` names a loaded checkpoint in errors.

    Raises:
        ValueError: ``source`` is not a desire-bp ``.npz`` checkpoint (an imported model has no
            known start), or the ``--init-from`` source is missing or has changed since (the
            message names it).
    """
    from .checkpoint import Checkpoint, load_checkpoint, load_start
    from .engine.network import Network

    if isinstance(source, Checkpoint):
        cfg, where = source.config, name or "checkpoint"
    else:
        path = Path(source)
        if path.suffix != ".npz":
            raise ValueError(
                f"{path}: the initial weights are known for desire-bp .npz checkpoints"
            )
        cfg, where = load_checkpoint(path).config, str(path)
    if cfg.init_from is not None:
        weights = load_start(cfg.init_from, where)
        net = Network(weights, cfg.replace(integer=None, init_from=None))
    else:
        net = Network.init(cfg.replace(integer=None))
    if cfg.integer is not None:
        from .integer import IntegerNetwork

        return IntegerNetwork.from_network(net, cfg.integer).weights
    return net.weights
