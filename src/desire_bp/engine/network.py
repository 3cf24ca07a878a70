"""The public Python API: a :class:`Network` of fully connected LIF layers.

Example::

    from desire_bp import Network, preset
    cfg = preset("mnist", sizes=(784, 256, 128, 10))
    net = Network.init(cfg, seed=0)            # Kaiming-normal weights, fast engine
    result = net.train_sample(x, label, lr=cfg.lr)   # one online step, x: (784,) in [0, 1]
    counts = net.forward(x)                    # output spike counts, (10,)
    ev = net.evaluate(images_u8, labels)       # strict-maximum accuracy, confusion matrix
    net.save("net.npz")

Two engines implement the same semantics: ``"fast"`` (default; event-driven Numba kernels,
:mod:`desire_bp.engine.kernels`) and ``"reference"`` (the readable NumPy transcription of
the specification, ``docs/spec.md``, :mod:`desire_bp.engine.reference`).  Both update the same
weight storage in place, so a network can switch engines at any time.

:class:`NetworkBase` is what the float :class:`Network` and the integer
:class:`desire_bp.integer.IntegerNetwork` share, and what :func:`desire_bp.training.train`
drives: the engine switch, input checks, :meth:`~NetworkBase.evaluate` and persistence.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..config import ENGINES, Config, ConfigError
from . import kernels, reference

F32 = np.float32

__all__ = [
    "Network",
    "NetworkBase",
    "SampleResult",
    "Evaluation",
    "ENGINES",
    "to_float_pixels",
    "pixel_matrix",
    "init_rng",
    "predictions_from_counts",
    "memory_estimate",
    "check_memory",
]


def memory_estimate(cfg: Config, threads: int | None = None) -> int:
    """Bytes a network of ``cfg`` needs, roughly: the weights (with the temporaries of their
    initialisation) and one per-sample workspace per evaluation thread (spike rasters,
    currents and update coefficients are ``T x n`` per layer)."""
    if threads is None:
        import numba

        threads = numba.config.NUMBA_NUM_THREADS
    sizes, T = cfg.sizes, int(cfg.T)
    n_weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    workspace = sum(sizes) * (9 * T + 40)
    return 16 * n_weights + workspace * (threads + 1)


def _available_memory() -> int | None:
    """Bytes of memory available to a new allocation (``None``: unknown)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_memory(cfg: Config) -> None:
    """Refuse a configuration whose network would not fit in memory, before allocating it.

    Raises:
        ConfigError: naming the sizes, ``T``, the estimate and the memory available.
    """
    need, have = memory_estimate(cfg), _available_memory()
    if have is not None and need > have:
        raise ConfigError(
            f"network {'-'.join(map(str, cfg.sizes))} with T={cfg.T} needs about "
            f"{need / 2**30:.3g} GiB of memory; only {have / 2**30:.3g} GiB are available"
        )


def init_rng(seed: int) -> np.random.Generator:
    """The generator of weight initialisation for ``seed`` (independent of epoch streams)."""
    return np.random.default_rng([seed, 2**32 - 1])


def to_float_pixels(images: np.ndarray) -> np.ndarray:
    """uint8 pixel bytes -> float32 values in [0, 1] (``bytes / 255``), shape kept.

    Float input is checked to lie in [0, 1] and returned as float32.
    """
    a = np.asarray(images)
    if a.dtype == np.uint8:
        return a.astype(F32) / F32(255.0)
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"pixels must be uint8 bytes or floats in [0, 1], got dtype {a.dtype}")
    a = a.astype(F32, copy=False)
    if a.size and (not np.isfinite(a).all() or a.min() < 0 or a.max() > 1):
        raise ValueError("float pixels must be finite and within [0, 1]")
    return a


def pixel_matrix(images: np.ndarray) -> np.ndarray:
    """Samples as a C-contiguous float32 matrix ``(N, n_0)`` in [0, 1] (``images``: ``(N, ...)``
    uint8 bytes or floats, trailing axes flattened)."""
    X = to_float_pixels(np.asarray(images))
    n0 = int(np.prod(X.shape[1:])) if X.ndim > 1 else 0
    return np.ascontiguousarray(X.reshape(len(X), n0))


@dataclass
class SampleResult:
    """Outcome of one training sample.

    Attributes:
        counts: output spike counts ``n_L``, ``(n_L,)`` int32.
        correct: the label's neuron had the strictly largest count.
    """

    counts: np.ndarray
    correct: bool


@dataclass
class Evaluation:
    """Result of evaluating a data set (strict-maximum rule).

    Attributes:
        accuracy: percent of samples classified correctly.
        n: number of samples.
        predictions: ``(n,)`` int, predicted class or -1 for "no decision" (tie).
        counts: ``(n, n_L)`` int32 output spike counts.
        confusion: ``(n_L, n_L + 1)`` int64; rows true class, columns predicted class, last
            column "no decision".
    """

    accuracy: float
    n: int
    predictions: np.ndarray
    counts: np.ndarray
    confusion: np.ndarray

    @property
    def per_class(self) -> np.ndarray:
        """Accuracy in percent per true class, ``(n_L,)`` (NaN for an absent class)."""
        totals = self.confusion.sum(axis=1)
        hits = np.diag(self.confusion[:, :-1])
        with np.errstate(invalid="ignore", divide="ignore"):
            return 100.0 * hits / totals


def predictions_from_counts(counts: np.ndarray) -> np.ndarray:
    """Strict arg-max per row of ``(N, n_L)`` counts; -1 where the maximum is tied."""
    if len(counts) == 0:
        return np.zeros(0, np.int64)
    k = counts.argmax(axis=1)
    top = counts[np.arange(len(counts)), k]
    ties = (counts == top[:, None]).sum(axis=1) > 1
    return np.where(ties, -1, k)


class NetworkBase(ABC):
    """What both arithmetics share (float :class:`Network`, integer
    :class:`desire_bp.integer.IntegerNetwork`).

    Subclasses set :attr:`cfg` and the engine and implement :attr:`weights` (float values,
    ``(n_out, n_in)`` each), :meth:`train_sample`, :meth:`forward_batch`, :meth:`copy` and
    :meth:`load`; the base gives the engine switch, the label checks, :meth:`predict`,
    :meth:`evaluate` and :meth:`save`.
    """

    cfg: Config
    _engine: str

    @property
    def engine(self) -> str:
        """``"fast"`` or ``"reference"``."""
        return self._engine

    @engine.setter
    def engine(self, name: str) -> None:
        if name not in ENGINES:
            raise ValueError(f"unknown engine {name!r}; choose one of {ENGINES}")
        self._engine = name

    @property
    @abstractmethod
    def weights(self) -> list[np.ndarray]:
        """Float values of the weights, ``(n_out, n_in)`` float32 each (copies)."""

    @abstractmethod
    def train_sample(
        self,
        x: np.ndarray,
        label: int,
        lr: float | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> SampleResult:
        """One online training step (forward with dropout, desire backward, update)."""

    @abstractmethod
    def forward_batch(self, X: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Output spike counts of many samples, ``(N, n_L)`` int32 (evaluation mode)."""

    @abstractmethod
    def copy(self) -> NetworkBase:
        """An independent copy."""

    def _check_label(self, label: int) -> None:
        if not 0 <= int(label) < self.cfg.sizes[-1]:
            raise ValueError(f"label {label} outside 0..{self.cfg.sizes[-1] - 1}")

    def _check_input_width(self, n: int, what: str = "samples have") -> None:
        if n != self.cfg.sizes[0]:
            raise ValueError(f"{what} {n} values, input layer has {self.cfg.sizes[0]}")

    def predict(self, images: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Predicted class of each sample, ``(N,)`` int64: the output neuron with the strictly
        largest spike count, ``-1`` ("no decision") where the maximum is tied.

        Args:
            images: ``(N, n_0)`` (or ``(N, 28, 28)``, ``(N, 1, 28, 28)``) uint8 bytes or floats
                in [0, 1]; one sample ``x`` is ``x[None]``.
        """
        return predictions_from_counts(self.forward_batch(images, threads)).astype(np.int64)

    def evaluate(self, images: np.ndarray, labels: np.ndarray) -> Evaluation:
        """Classify a data set with the strict-maximum rule.

        Args:
            images: ``(N, n_0)`` (or ``(N, 28, 28)``) uint8 bytes or floats in [0, 1].
            labels: ``(N,)`` integer classes.
        """
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        if len(labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(labels)} labels")
        n_cls = self.cfg.sizes[-1]
        if len(labels) and (labels.min() < 0 or labels.max() >= n_cls):
            raise ValueError(f"labels must lie in 0..{n_cls - 1}")
        counts = self.forward_batch(images)
        pred = predictions_from_counts(counts)
        confusion = np.zeros((n_cls, n_cls + 1), np.int64)
        np.add.at(confusion, (labels, np.where(pred < 0, n_cls, pred)), 1)
        correct = int((pred == labels).sum())
        acc = 100.0 * correct / len(labels) if len(labels) else float("nan")
        return Evaluation(acc, len(labels), pred, counts, confusion)

    def _checkpoint_meta(self) -> dict:
        """Metadata a subclass adds to every checkpoint it writes."""
        return {}

    def save(self, path, **meta) -> None:
        """Write an ``.npz`` checkpoint (no pickle), atomically: :attr:`weights`, the config and
        ``meta``; see :mod:`desire_bp.checkpoint`."""
        from ..checkpoint import save_checkpoint

        save_checkpoint(path, self.weights, self.cfg, {**meta, **self._checkpoint_meta()})


class Network(NetworkBase):
    """A feed-forward SNN: an IF input encoder and ``L`` fully connected LIF layers.

    Weights are stored input-major (``WT_l = W_l.T``, float32, C-contiguous); the API speaks
    The specification's post-synaptic-first shape ``(n_out, n_in)``.
    """

    def __init__(self, weights: Sequence[np.ndarray], cfg: Config, engine: str = "fast") -> None:
        """Build a network from given weights.

        Args:
            weights: ``L`` arrays, ``weights[l-1]`` of shape ``(n_l, n_{l-1})`` matching
                ``cfg.sizes`` (copied, cast to float32).
            cfg: hyper-parameters.
            engine: ``"fast"`` or ``"reference"``.
        """
        self.cfg = cfg
        self._WT = None
        check_memory(cfg)
        self.set_weights(weights)
        self.engine = engine
        self._ws: kernels.Workspace | None = None

    # ----------------------------------------------------------------- construction
    @classmethod
    def init(cls, cfg: Config, seed: int | None = None, engine: str = "fast") -> Network:
        """Kaiming-normal initialisation: ``W_l ~ Normal(0, sqrt(2 / n_{l-1}))``.

        Args:
            seed: defaults to ``cfg.seed``.
        """
        check_memory(cfg)
        rng = init_rng(cfg.seed if seed is None else seed)
        weights = [
            (rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in)).astype(F32)
            for n_in, n_out in zip(cfg.sizes[:-1], cfg.sizes[1:], strict=True)
        ]
        return cls(weights, cfg, engine)

    # ----------------------------------------------------------------- weights
    @property
    def weights(self) -> list[np.ndarray]:
        """Copies of the weights, ``(n_out, n_in)`` float32 each."""
        return [np.ascontiguousarray(wt.T) for wt in self._WT]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Replace all weights; shapes must match ``cfg.sizes`` (error names the layer)."""
        sizes = self.cfg.sizes
        if len(weights) != len(sizes) - 1:
            raise ValueError(
                f"expected {len(sizes) - 1} weight arrays for sizes {sizes}, got {len(weights)}"
            )
        new = []
        for layer, w in enumerate(weights, start=1):
            w = np.asarray(w)
            want = (sizes[layer], sizes[layer - 1])
            if w.shape != want:
                raise ValueError(f"weights of layer {layer}: shape {w.shape}, expected {want}")
            if not np.isfinite(w).all():
                raise ValueError(f"weights of layer {layer} contain NaN or infinity")
            new.append(np.array(w.T, dtype=F32, order="C", copy=True))  # never a view
        self._WT = kernels.List(new)

    @property
    def reference_weights(self) -> list[np.ndarray]:
        """Views ``(n_out, n_in)`` of the live weight storage (writes go through)."""
        return [wt.T for wt in self._WT]

    @cached_property
    def _params(self) -> kernels.Params:
        """The kernels' typed view of ``cfg`` (built once, like the workspace)."""
        return kernels.params(self.cfg)

    def _workspace(self) -> kernels.Workspace:
        if self._ws is None:
            self._ws = kernels.workspace(
                self.cfg.sizes, self.cfg.T, reference.scales(self.cfg, True)
            )
        return self._ws

    # ----------------------------------------------------------------- one sample
    def _check_sample(self, x: np.ndarray, label: int | None = None) -> np.ndarray:
        x = to_float_pixels(x).reshape(-1)
        self._check_input_width(x.shape[0], "sample has")
        if label is not None:
            self._check_label(label)
        return np.ascontiguousarray(x)

    def train_sample(
        self,
        x: np.ndarray,
        label: int,
        lr: float | None = None,
        masks: Sequence[np.ndarray] | None = None,
    ) -> SampleResult:
        """One online training step (forward with dropout, desire backward, STDP update).

        Args:
            x: one sample, ``(n_0,)`` (or any shape with ``n_0`` values), uint8 bytes or
                float32 in [0, 1].
            label: its class.
            lr: learning rate (default ``cfg.lr``, the epoch-0 rate).
            masks: dropout masks per layer (``(n_l,)`` bool each) as from
                :func:`desire_bp.engine.reference.draw_masks`; ``None`` means dropout off (all
                ones), scales ``c_l`` still apply.
        """
        cfg = self.cfg
        x = self._check_sample(x, label)
        lr = cfg.lr if lr is None else lr
        if masks is None:
            masks = [np.ones(n, dtype=bool) for n in cfg.sizes]
        if self._engine == "reference":
            W = self.reference_weights
            fwd, _ = reference.train_sample(W, x, int(label), cfg, list(masks), lr)
            counts = fwd.counts[-1]
            return SampleResult(counts.copy(), reference.is_correct(counts, int(label)))
        ws = self._workspace()
        flat = np.concatenate([np.asarray(m, np.bool_).reshape(-1) for m in masks])
        if flat.shape[0] != sum(cfg.sizes):
            raise ValueError(f"masks have {flat.shape[0]} entries in all, layers {cfg.sizes}")
        correct = kernels.train_step(self._WT, x, int(label), flat, F32(lr), self._params, ws)
        return SampleResult(kernels.layer_counts(ws, len(cfg.sizes) - 1), bool(correct))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output spike counts of one sample in evaluation mode (no dropout), ``(n_L,)``."""
        x = self._check_sample(x)
        if self._engine == "reference":
            return reference.forward(self.reference_weights, x, self.cfg).counts[-1]
        return self.forward_batch(x[None, :])[0]

    def forward_batch(self, X: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Output spike counts of many samples, ``(N, n_L)`` int32 (evaluation mode)."""
        X = pixel_matrix(X)
        self._check_input_width(X.shape[1])
        out = np.zeros((len(X), self.cfg.sizes[-1]), np.int32)
        if self._engine == "reference":
            W = self.reference_weights
            for s in range(len(X)):
                out[s] = reference.forward(W, X[s], self.cfg).counts[-1]
            return out
        import numba

        n = threads or numba.get_num_threads()
        kernels.counts_batch(
            self._WT,
            X,
            self._params,
            max(1, min(n, len(X))),
            kernels.List([out]),
            len(self.cfg.sizes) - 1,
        )
        return out

    # ----------------------------------------------------------------- persistence
    @classmethod
    def load(cls, path, engine: str = "fast") -> Network:
        """Read a checkpoint written by :meth:`save` (or by a training run)."""
        from ..checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        return cls(ck.weights, ck.config, engine)

    def copy(self) -> Network:
        """An independent copy (weights copied)."""
        return Network(self.weights, self.cfg, self._engine)
