"""The data behind the paper's analysis figures (Fig. 6, 7 and 8), and recorders for training.

Everything here is a pure function of weights, a configuration and data, vectorised over
samples (NumPy, float32, the same equations as :mod:`desire_bp.engine.reference`):

* :func:`forward_counts` -- spike counts of every layer for many samples at once
  (evaluation mode: no dropout, no scaling).
* :func:`desires`        -- the desire of every LIF layer, computed as in the backward pass
  without dropout (``docs/spec.md``, "Backward pass: desire").
* :func:`activity`       -- both at once, an :class:`Activity`.
* :func:`local_losses`   -- Fig. 6: per LIF layer, ``e^2`` averaged over neurons and samples.
* :func:`class_rates`    -- Fig. 7: mean relative spike count ``n / T`` per neuron and class.
* :func:`contributions`  -- Fig. 8: contribution of each input pixel to satisfying the desire
  of layer 1.
* :func:`desire_balance` -- per hidden layer, how much desire falls on saturated and on silent
  neurons, where the update cannot change the spikes it asks to change.

:class:`Recorder` bundles them into hooks for :func:`desire_bp.training.train` (``on_epoch``,
``on_sample``) and writes what it records into the run directory:

* ``losses``        -> ``metrics.jsonl`` gets ``local_loss`` (a list, one float per LIF layer)
  after every epoch;
* ``spikes``        -> ``RUN_DIR/spikes/epoch-EEE.npz`` after each of the first epochs;
* ``contributions`` -> ``RUN_DIR/contributions.npz``, snapshots every ``K`` training samples
  during the first samples of epoch 0.

Floating point: both engines of :func:`forward_counts` sum the synaptic input in float32 in
ascending pre-synaptic index like :func:`desire_bp.engine.reference.synaptic_input`, and
:func:`desires` sums the backward products in float64 like
:func:`desire_bp.engine.reference.hidden_desire`, so counts and desire are bit-identical to the
reference and to the training engine (the tests check it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba.typed import List

from .config import Config
from .engine import Network, kernels, pixel_matrix

F32 = np.float32

__all__ = [
    "RECORD_KINDS",
    "Activity",
    "forward_counts",
    "desires",
    "activity",
    "local_losses",
    "class_rates",
    "contributions",
    "desire_balance",
    "select_neurons",
    "accuracy_curve",
    "Recorder",
    "record_hooks",
    "read_spike_records",
    "read_contributions",
]

#: What :class:`Recorder` can record during training.
RECORD_KINDS = ("losses", "spikes", "contributions")


@dataclass
class Activity:
    """Spike counts and desire of every layer for ``N`` samples (evaluation mode).

    Attributes:
        counts: ``counts[l]`` is ``n_l`` for layer ``l = 0..L`` (0 = input), ``(N, n_l)``
            int16 (int32 if ``T`` > 32767), spikes summed over the ``T`` steps.
        desire: ``desire[l]`` for ``l = 1..L``, ``(N, n_l)`` int8 in ``{-1, 0, +1}``;
            ``desire[0]`` is ``None`` (nothing is propagated into the input layer).
        labels: ``(N,)`` int64 classes.
        T: time steps per sample.
    """

    counts: list[np.ndarray]
    desire: list[np.ndarray | None]
    labels: np.ndarray
    T: int

    @property
    def n(self) -> int:
        """Number of samples."""
        return len(self.labels)


def _ordered_input(s: np.ndarray, WT: np.ndarray) -> np.ndarray:
    """``sum_{j: s[b, j]} WT[j]`` per sample ``b``, in float32, in ascending ``j``.

    Args:
        s: ``(B, n_in)`` bool spikes; WT: ``(n_in, n_out)`` float32.
    Returns:
        ``(B, n_out)`` float32, bit-identical to :func:`desire_bp.engine.reference.synaptic_input`
        (scale 1) for every sample.
    """
    acc = np.zeros((s.shape[0], WT.shape[1]), F32)
    for j in np.flatnonzero(s.any(axis=0)):
        rows = s[:, j]
        acc[rows] += WT[j]
    return acc


def forward_counts(
    weights: Sequence[np.ndarray],
    images: np.ndarray,
    cfg: Config,
    batch_size: int = 256,
    engine: str = "fast",
) -> list[np.ndarray]:
    """Spike counts of every layer for many samples (``docs/spec.md``, "Forward pass",
    evaluation mode).

    Args:
        weights: ``L`` arrays, ``weights[l-1]`` is ``W_l`` of shape ``(n_l, n_{l-1})``.
        images: ``(N, n_0)`` uint8 bytes or floats in [0, 1] (or ``(N, 28, 28)``).
        cfg: ``T``, ``theta_p``, ``beta`` and ``sizes`` are used.
        batch_size: samples per vectorised block of the ``"numpy"`` engine (memory about
            ``batch_size * sum(n_l) * 16`` bytes).
        engine: ``"fast"`` (default): the event-driven Numba forward kernel of the training
            engine, parallel over samples (about 0.5 ms per sample for 784-1600-800-10 on 2
            cores); ``"numpy"``: vectorised over the samples of a block, a readable
            cross-check, much slower on large networks (it loops over the inputs that spiked,
            per step and layer).

    Returns:
        ``L + 1`` arrays, ``counts[l]`` of shape ``(N, n_l)`` (int16, or int32 for huge ``T``).
    """
    X = pixel_matrix(images)
    sizes = cfg.sizes
    L = len(sizes) - 1
    if X.shape[1] != sizes[0]:
        raise ValueError(f"samples have {X.shape[1]} values, input layer has {sizes[0]}")
    if len(weights) != L:
        raise ValueError(f"expected {L} weight arrays for sizes {sizes}, got {len(weights)}")
    WT = [np.ascontiguousarray(np.asarray(w, F32).T) for w in weights]  # (n_{l-1}, n_l)
    ctype = np.int16 if cfg.T <= np.iinfo(np.int16).max else np.int32
    N = len(X)
    if engine == "fast":
        import numba

        out = List([np.zeros((N, n), np.int32) for n in sizes])
        if N:
            chunks = max(1, min(numba.get_num_threads(), N))
            kernels.counts_batch(List(WT), X, kernels.params(cfg), chunks, out, 0)
        return [c.astype(ctype) for c in out]
    if engine != "numpy":
        raise ValueError(f"unknown engine {engine!r}; choose 'fast' or 'numpy'")
    if cfg.leak != "always":
        raise ValueError(f"the numpy cross-check implements leak='always' only, not {cfg.leak!r}")
    counts = [np.zeros((N, n), ctype) for n in sizes]
    theta, beta = F32(cfg.theta_p), F32(cfg.beta)
    for lo in range(0, N, max(1, int(batch_size))):
        x = X[lo : lo + batch_size]
        B = len(x)
        v = [np.zeros((B, n), F32) for n in sizes]
        y = [np.zeros((B, n), bool) for n in sizes]  # spikes of the previous step
        c = [np.zeros((B, n), np.int32) for n in sizes]
        for _t in range(cfg.T):
            v[0] += x
            s = v[0] >= theta
            v[0] -= theta * s
            y[0] = s
            c[0] += s
            # Layers from the top down, so that y[l-1] still holds step t-1 when layer l >= 2
            # reads it (one-step delay); layer 1 reads the input spikes of step t.
            for layer in range(L, 0, -1):
                v[layer] *= beta
                v[layer] += _ordered_input(y[layer - 1], WT[layer - 1])
                s = v[layer] >= theta
                v[layer] -= theta * s
                y[layer] = s
                c[layer] += s
        for layer in range(L + 1):
            counts[layer][lo : lo + B] = c[layer]
    return counts


def desires(
    weights: Sequence[np.ndarray], counts: Sequence[np.ndarray], labels: np.ndarray, cfg: Config
) -> list[np.ndarray | None]:
    """Desire of every LIF layer as in the backward pass, without dropout (all masks one).

    Output layer: ``e = n / (T - error_margin)`` for wrong classes, ``1 - that`` for the label,
    ``d = +-1`` where ``e > theta_out``.  Hidden layers (``cfg.hidden_error``):
    ``S = (err * sgn) @ W_l`` and ``d_{l-1} = sign(S)`` where ``|S| >= theta_hid``.

    Args:
        weights: ``W_l`` of shape ``(n_l, n_{l-1})`` for ``l = 1..L``.
        counts: ``counts[l]`` of shape ``(N, n_l)`` for ``l = 0..L`` (from
            :func:`forward_counts`).
        labels: ``(N,)`` classes.

    Returns:
        ``L + 1`` entries: ``None`` for the input layer, then ``(N, n_l)`` int8 arrays.
    """
    L = len(cfg.sizes) - 1
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    N = len(labels)
    out: list[np.ndarray | None] = [None] * (L + 1)
    denom = F32(cfg.T - cfg.error_margin)
    rate = counts[L].astype(F32) / denom
    rows = np.arange(N)
    e = rate.copy()
    e[rows, labels] = F32(1.0) - rate[rows, labels]
    sign = np.full(rate.shape, -1, np.int8)
    sign[rows, labels] = 1
    out[L] = np.where(e > F32(cfg.theta_out), sign, np.int8(0)).astype(np.int8)
    for layer in range(L, 1, -1):
        d = out[layer]
        target = (d == 1).astype(F32)
        n = counts[layer].astype(F32)
        if cfg.hidden_error == "signed":
            err = target - n / F32(cfg.T)
            sgn = np.abs(d).astype(F32)
        else:
            err = np.abs(target - n / denom)
            sgn = d.astype(F32)
        # float64 products are exact; one rounding of the sum to float32 (as the reference)
        W64 = np.asarray(weights[layer - 1], F32).astype(np.float64)
        S = ((err * sgn).astype(np.float64) @ W64).astype(F32)  # (N, n_{l-1})
        out[layer - 1] = np.where(np.abs(S) >= F32(cfg.theta_hid), np.sign(S), F32(0)).astype(
            np.int8
        )
    return out


def activity(
    weights: Sequence[np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    cfg: Config,
    batch_size: int = 256,
    engine: str = "fast",
) -> Activity:
    """Counts (:func:`forward_counts`) and desire (:func:`desires`) of ``N`` samples.

    Args:
        weights: ``W_l`` of shape ``(n_l, n_{l-1})``, e.g. ``net.weights``.
        images: ``(N, n_0)`` uint8 or floats in [0, 1]; labels: ``(N,)``.
        batch_size, engine: see :func:`forward_counts`.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    if len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    counts = forward_counts(weights, images, cfg, batch_size, engine)
    return Activity(counts, desires(weights, counts, labels, cfg), labels, cfg.T)


def local_losses(act: Activity) -> np.ndarray:
    """Fig. 6: the local loss of every LIF layer.

    For a neuron with desire ``d != 0`` the error is ``e = n / T - target`` (target 1 for
    ``d = +1``, 0 for ``d = -1``); ``e = 0`` where ``d = 0``.  The loss of a layer is ``e^2``
    averaged over its neurons and over the samples.

    Returns:
        ``(L,)`` float64, entry ``l - 1`` for layer ``l``; each in [0, 1] (NaN if ``N = 0``).
    """
    out = []
    for layer in range(1, len(act.counts)):
        d = act.desire[layer]
        rate = act.counts[layer].astype(np.float64) / act.T
        e = np.where(d == 0, 0.0, rate - (d == 1))
        out.append(float(np.mean(e * e)) if e.size else float("nan"))
    return np.array(out)


def desire_balance(act: Activity, saturated_at: int | None = None) -> list[dict[str, Any]]:
    """Where the desire of every hidden layer falls, over (sample, neuron) pairs.

    The update changes a neuron's weights only when it spikes, by its desire (``docs/spec.md``,
    "Weight update"): desire +1 on a *saturated* neuron (at least ``saturated_at`` spikes)
    potentiates it without its spikes being able to rise, and desire -1 on a *silent* one
    (no spike) changes nothing.

    Args:
        act: from :func:`activity`.
        saturated_at: spike count from which a neuron counts as saturated (default
            ``T - 1``).

    Returns:
        one dict per hidden layer ``l = 1..L-1``: ``layer``, ``neurons``, and fractions in
        [0, 1] (``None`` where nothing is counted): ``saturated``, ``silent`` (of all pairs),
        ``desire_plus``, ``desire_minus`` (of all pairs), ``desire_plus_when_saturated``,
        ``desire_minus_when_silent``; and ``always_saturated_neurons``, the neurons
        saturated on every sample.
    """
    at = act.T - 1 if saturated_at is None else int(saturated_at)

    def fraction(mask: np.ndarray) -> float | None:
        return float(mask.mean()) if mask.size else None

    rows = []
    for layer in range(1, len(act.counts) - 1):
        c, d = act.counts[layer], act.desire[layer]
        assert d is not None
        saturated, silent = c >= at, c == 0
        rows.append(
            {
                "layer": layer,
                "neurons": int(c.shape[1]),
                "saturated": fraction(saturated),
                "silent": fraction(silent),
                "always_saturated_neurons": int(saturated.all(axis=0).sum()) if len(c) else 0,
                "desire_plus": fraction(d == 1),
                "desire_minus": fraction(d == -1),
                "desire_plus_when_saturated": fraction((d == 1)[saturated]),
                "desire_minus_when_silent": fraction((d == -1)[silent]),
            }
        )
    return rows


def class_rates(counts: np.ndarray, labels: np.ndarray, T: int, n_classes: int) -> np.ndarray:
    """Fig. 7: relative spike count ``n / T`` of each neuron averaged over each class.

    Args:
        counts: ``(N, n)`` spike counts of one layer (or of selected neurons).
        labels: ``(N,)`` classes in ``0..n_classes-1``.
        T: time steps per sample.

    Returns:
        ``(n, n_classes)`` float64 in [0, 1]; NaN for a class without samples.
    """
    labels = np.asarray(labels).astype(np.int64).reshape(-1)
    counts = np.asarray(counts)
    sums = np.zeros((n_classes, counts.shape[1]))
    np.add.at(sums, labels, counts.astype(np.float64))
    totals = np.bincount(labels, minlength=n_classes)[:n_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums / totals[:, None] / T).T


def contributions(W1: np.ndarray, act: Activity) -> np.ndarray:
    """Fig. 8: contribution of each input pixel to satisfying the desire of layer 1.

    ``C[i] = mean over samples of sum_o W_1[o, i] * d_1[o] * n_1[o] * n_0[i]``.

    Args:
        W1: ``W_1``, ``(n_1, n_0)`` (the weights the activity was computed with).
        act: from :func:`activity`.

    Returns:
        ``(n_0,)`` float64 (units: weight x spikes^2); positive means the pixel's spikes push
        layer 1 towards its desire.
    """
    if act.n == 0:
        return np.full(W1.shape[1], np.nan)
    a = act.desire[1].astype(F32) * act.counts[1].astype(F32)  # (N, n_1)
    per_sample = (a @ np.asarray(W1, F32)).astype(np.float64) * act.counts[0]  # (N, n_0)
    return per_sample.mean(axis=0)


def select_neurons(sizes: Sequence[int], k: int, seed: int) -> list[np.ndarray]:
    """Fig. 7's neurons: ``k`` random neurons of each hidden layer, every output neuron.

    Returns:
        ``len(sizes)`` sorted int64 index arrays; entry 0 (input layer) is empty, hidden layers
        get ``min(k, n_l)`` indices drawn without replacement from ``default_rng([seed, 7])``,
        the output layer gets ``arange(n_L)``.
    """
    rng = np.random.default_rng([seed, 7])
    out = [np.zeros(0, np.int64)]
    for n in sizes[1:-1]:
        out.append(np.sort(rng.choice(n, size=min(k, n), replace=False)).astype(np.int64))
    out.append(np.arange(sizes[-1], dtype=np.int64))
    return out


def accuracy_curve(
    x: Sequence[float], final: Sequence[float], best: Sequence[float]
) -> dict[str, np.ndarray]:
    """Fig. 4 / 5 data: test accuracies of sweep trials grouped by a parameter value.

    Args:
        x: the parameter of each trial (e.g. ``N`` or ``T``).
        final, best: each trial's final and best test accuracy (percent; NaN if none).

    Returns:
        arrays over the distinct ``x`` in increasing order: ``x``, ``n`` (trials with a
        result), ``final_mean``, ``final_std``, ``best_mean``, ``best_std`` (population std, 0
        for a single trial; NaN where no trial has a result).
    """
    x = np.asarray(x, float)
    final, best = np.asarray(final, float), np.asarray(best, float)
    xs = np.unique(x)
    out: dict[str, list[float]] = {k: [] for k in ("n", "final_mean", "final_std")}
    out.update(best_mean=[], best_std=[])
    for v in xs:
        sel = (x == v) & np.isfinite(best) & np.isfinite(final)
        out["n"].append(int(sel.sum()))
        for key, arr in (("final", final), ("best", best)):
            vals = arr[sel]
            out[f"{key}_mean"].append(float(vals.mean()) if len(vals) else float("nan"))
            out[f"{key}_std"].append(float(vals.std()) if len(vals) else float("nan"))
    res = {k: np.asarray(v) for k, v in out.items()}
    res["x"] = xs
    return res


# ----------------------------------------------------------------------------- recording


def _save_npz(path: Path, **arrays: Any) -> None:
    from .checkpoint import atomic_write

    atomic_write(path, lambda f: np.savez(f, **arrays))


class Recorder:
    """Analysis hooks for :func:`desire_bp.training.train` that write into a run directory.

    Example::

        rec = Recorder(["losses", "spikes"], cfg, run_dir, test.images, test.labels)
        train(cfg, run_dir, on_epoch=rec.on_epoch, on_sample=rec.on_sample)

    Args:
        kinds: any of :data:`RECORD_KINDS`.
        cfg: the run's configuration.
        run_dir: where ``spikes/`` and ``contributions.npz`` go (``None``: keep in memory only,
            in :attr:`spikes` and :attr:`snapshots`).
        images, labels: the samples the analysis runs on, ``(N, n_0)`` and ``(N,)`` (the test
            set or a subset of it).
        spike_epochs: record spikes after epochs ``0 .. spike_epochs-1``.
        spike_neurons: random neurons per hidden layer for spikes.
        contrib_every: snapshot the contributions every this many training samples (K).
        contrib_until: ... during the first this many training samples of epoch 0.
        contrib_samples: the first this many of ``images`` are used for contributions.
        batch_size: samples per vectorised block.
    """

    def __init__(
        self,
        kinds: Sequence[str],
        cfg: Config,
        run_dir: str | Path | None,
        images: np.ndarray,
        labels: np.ndarray,
        *,
        spike_epochs: int = 5,
        spike_neurons: int = 20,
        contrib_every: int = 50,
        contrib_until: int = 1000,
        contrib_samples: int = 1000,
        batch_size: int = 256,
    ) -> None:
        unknown = sorted(set(kinds) - set(RECORD_KINDS))
        if unknown:
            raise ValueError(f"unknown record kind(s) {unknown}; choose from {RECORD_KINDS}")
        if contrib_every < 1 or contrib_until < 1 or contrib_samples < 1:
            raise ValueError("contribution options must be positive integers")
        self.kinds = frozenset(kinds)
        self.cfg = cfg
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.X = pixel_matrix(images)
        self.labels = np.asarray(labels).astype(np.int64).reshape(-1)
        self.spike_epochs = spike_epochs
        self.neurons = select_neurons(cfg.sizes, spike_neurons, cfg.seed)
        self.contrib_every = contrib_every
        self.contrib_until = contrib_until
        self.contrib_n = min(contrib_samples, len(self.labels))
        self.batch_size = batch_size
        #: spikes recorded so far: ``{epoch: {"layer1_neurons": ..., "layer1_rates": ...}}``
        self.spikes: dict[int, dict[str, np.ndarray]] = {}
        #: contribution snapshots: ``[(training samples seen, C (n_0,))]``
        self.snapshots: list[tuple[int, np.ndarray]] = []

    @property
    def on_sample(self):
        """The ``on_sample(epoch, samples_done, net)`` hook, or ``None`` if not needed."""
        return self._on_sample if "contributions" in self.kinds else None

    # ---------------------------------------------------------------- epoch hook
    def on_epoch(self, metrics: Any, net: Any) -> dict[str, Any]:
        """Hook after each epoch: returns extra metrics for ``metrics.jsonl``."""
        epoch = int(metrics.epoch)
        want_spikes = "spikes" in self.kinds and epoch < self.spike_epochs
        if "losses" not in self.kinds and not want_spikes:
            return {}
        act = activity(net.weights, self.X, self.labels, self.cfg, self.batch_size)
        extra: dict[str, Any] = {}
        if "losses" in self.kinds:
            extra["local_loss"] = [float(v) for v in local_losses(act)]
            extra["local_loss_samples"] = act.n
        if want_spikes:
            rec = self.spike_record(act, epoch)
            self.spikes[epoch] = rec
            if self.run_dir is not None:
                rel = f"spikes/epoch-{epoch:03d}.npz"
                _save_npz(self.run_dir / rel, **rec)
                extra["spikes_file"] = rel
        return extra

    def spike_record(self, act: Activity, epoch: int) -> dict[str, np.ndarray]:
        """Fig. 7 arrays of one epoch: per LIF layer ``l`` the selected neurons
        (``layer{l}_neurons``, ``(k,)``) and their class rates (``layer{l}_rates``,
        ``(k, n_classes)``), plus ``epoch``, ``T`` and ``class_samples`` ``(n_classes,)``."""
        n_cls = self.cfg.sizes[-1]
        rec: dict[str, np.ndarray] = {
            "epoch": np.array(epoch),
            "T": np.array(self.cfg.T),
            "class_samples": np.bincount(act.labels, minlength=n_cls)[:n_cls],
        }
        for layer in range(1, len(self.cfg.sizes)):
            idx = self.neurons[layer]
            rec[f"layer{layer}_neurons"] = idx
            rec[f"layer{layer}_rates"] = class_rates(
                act.counts[layer][:, idx], act.labels, self.cfg.T, n_cls
            )
        return rec

    # ---------------------------------------------------------------- sample hook
    def start(self, net: Any) -> None:
        """Snapshot before training (0 samples seen); call with the initial network."""
        if "contributions" in self.kinds:
            self._snapshot(0, net)

    def _on_sample(self, epoch: int, done: int, net: Any) -> None:
        if epoch != 0 or done > self.contrib_until or done % self.contrib_every:
            return
        self._snapshot(done, net)

    def _snapshot(self, done: int, net: Any) -> None:
        n = self.contrib_n
        W = net.weights
        act = activity(W, self.X[:n], self.labels[:n], self.cfg, self.batch_size)
        self.snapshots = [s for s in self.snapshots if s[0] < done]
        self.snapshots.append((done, contributions(W[0], act)))
        if self.run_dir is not None:
            _save_npz(
                self.run_dir / "contributions.npz",
                samples=np.array([s[0] for s in self.snapshots], np.int64),
                C=np.stack([s[1] for s in self.snapshots]),
                n_test=np.array(n),
                every=np.array(self.contrib_every),
            )


def record_hooks(
    kinds: Sequence[str],
    cfg: Config,
    run_dir: str | Path,
    *,
    data_dir: str | Path | None = None,
    samples: int | None = None,
    log: Callable[[str], None] | None = print,
    **options: int,
) -> dict[str, Any]:
    """The ``on_epoch`` / ``on_sample`` hooks that record ``kinds`` (of :data:`RECORD_KINDS`)
    during :func:`desire_bp.training.train` of ``cfg`` into ``run_dir``: keyword arguments for
    ``train`` (empty without kinds).

    The recordings use the run's test set (its first ``cfg.test_samples``), cut to its first
    ``samples`` when given; ``options`` go to :class:`Recorder` (``spike_epochs``, ...).
    """
    if not kinds:
        return {}
    from .data import load_dataset

    run_dir = Path(run_dir)
    test = load_dataset(cfg.dataset, "test", data_dir).subset(cfg.test_samples)
    if samples:
        test = test.subset(samples)
    rec = Recorder(kinds, cfg, run_dir, test.images, test.labels, **options)
    if log is not None:
        log(f"recording {', '.join(kinds)} on {len(test.labels)} test samples into {run_dir}")
    if "contributions" in kinds and not (run_dir / "checkpoint.npz").exists():
        rec.start(Network.init(cfg))  # the snapshot before the first sample
    return {"on_epoch": rec.on_epoch, "on_sample": rec.on_sample}


def read_spike_records(run_dir: str | Path) -> dict[int, dict[str, np.ndarray]]:
    """The Fig. 7 records of a run directory: ``{epoch: arrays}`` from ``spikes/*.npz``."""
    out = {}
    for path in sorted((Path(run_dir) / "spikes").glob("epoch-*.npz")):
        with np.load(path) as z:
            rec = {k: z[k] for k in z.files}
        out[int(rec["epoch"])] = rec
    return out


def read_contributions(run_dir: str | Path) -> dict[str, np.ndarray]:
    """The Fig. 8 record of a run directory: ``samples`` ``(S,)``, ``C`` ``(S, n_0)``,
    ``n_test``, ``every``."""
    path = Path(run_dir) / "contributions.npz"
    if not path.exists():
        raise FileNotFoundError(
            f"{path} not found: train with --record contributions to record Fig. 8's data"
        )
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
