"""The integer network: :class:`IntegerNetwork`, the API of the float
:class:`~desire_bp.engine.Network` over the integer engines."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from numba.typed import List

from ..config import Config, IntSpec
from ..engine.kernels import layer_counts
from ..engine.network import Network, NetworkBase, SampleResult
from ..engine.reference import is_correct
from . import kernels
from .format import LrShift, lr_to_shifts, make_params, quantize, storage_dtype
from .reference import as_bytes, forward_int, train_sample_int

__all__ = ["IntegerNetwork", "load_network", "weights_sha256", "with_integer_format"]


def weights_sha256(weights: Sequence[np.ndarray]) -> str:
    """SHA-256 of integer weights: each ``W_l`` ``(n_out, n_in)`` row-major, little-endian
    int64, layers in order.  (Independent of the storage width.)"""
    h = hashlib.sha256()
    for w in weights:
        h.update(np.ascontiguousarray(w, dtype="<i8").tobytes())
    return h.hexdigest()


class IntegerNetwork(NetworkBase):
    """A network trained and evaluated in integer arithmetic; the API of
    :class:`~desire_bp.engine.Network` (both are :class:`~desire_bp.engine.NetworkBase`).

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
        self.spec = (spec or IntSpec()).replace(frac_bits=tuple(frac))
        self.cfg = cfg.replace(integer=self.spec)
        self.P = make_params(self.cfg, self.spec, frac)
        dt = storage_dtype(self.spec.weight_bits)
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
        self._ws: kernels.KWorkspace | None = None
        self._lr_cache: dict[float, LrShift] = {}
        # the fast kernels' typed views of P, built once (training / evaluation thresholds)
        self._kp_train = kernels.kparams(self.P, self.spec, train=True)
        self._kp_eval = kernels.kparams(self.P, self.spec, train=False)
        self._klr_cache: dict[LrShift, kernels.KLr] = {}

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_network(
        cls, net: Network, spec: IntSpec | None = None, engine: str = "fast"
    ) -> IntegerNetwork:
        """Quantize a float :class:`Network` (``spec.frac_bits`` or chosen from its weights)."""
        if spec is None:
            spec = net.cfg.integer or IntSpec()
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
        """Read a checkpoint; its ``config.integer`` (if any) gives the format."""
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

    def _workspace(self) -> kernels.KWorkspace:
        if self._ws is None:
            self._ws = kernels.workspace(np.asarray(self.cfg.sizes, np.int64), int(self.cfg.T))
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
        xb = as_bytes(x).reshape(-1)
        self._check_input_width(xb.shape[0], "sample has")
        self._check_label(label)
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
            return SampleResult(counts.copy(), is_correct(counts, int(label)))
        ws = self._workspace()
        flat = np.concatenate(masks)
        if lrs not in self._klr_cache:
            self._klr_cache[lrs] = kernels.klr(P, lrs)
        ok = kernels.train_step(
            self._WT, xb, int(label), flat, self._kp_train, self._klr_cache[lrs], ws
        )
        return SampleResult(layer_counts(ws, len(cfg.sizes) - 1), bool(ok))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Output spike counts of one sample in evaluation mode, ``(n_L,)``."""
        return self.forward_batch(as_bytes(x).reshape(1, -1))[0]

    def forward_batch(self, X: np.ndarray, threads: int | None = None) -> np.ndarray:
        """Output spike counts of many samples, ``(N, n_L)`` int32 (evaluation mode)."""
        Xb = as_bytes(X)
        Xb = Xb.reshape(len(Xb), int(np.prod(Xb.shape[1:])))  # also for an empty batch
        self._check_input_width(Xb.shape[1])
        out = np.zeros((len(Xb), self.cfg.sizes[-1]), np.int32)
        if self.engine == "reference":
            W = self.int_weights
            for s in range(len(Xb)):
                out[s] = forward_int(W, Xb[s], self.cfg, self.P).counts[-1]
            return out
        import numba

        n = threads or numba.get_num_threads()
        kernels.counts_batch(
            self._WT,
            np.ascontiguousarray(Xb),
            self.cfg.T,
            self._kp_eval,
            max(1, min(n, len(Xb))),
            out,
        )
        return out

    def _checkpoint_meta(self) -> dict:
        """Checkpoints hold the float values of the integer weights and the config with its
        ``integer`` format (re-quantized exactly by :meth:`load`), plus the weight hash."""
        return {"int_sha256": self.sha256()}

    def copy(self) -> IntegerNetwork:
        """An independent copy."""
        return IntegerNetwork(self.int_weights, self.P.frac, self.cfg, self.spec, self.engine)


def with_integer_format(cfg: Config, spec: IntSpec | None = None) -> Config:
    """``cfg`` for training in integer arithmetic, its format fixed.

    The format is ``spec``, else ``cfg.integer``, else the default :class:`IntSpec`; its
    fraction bits, when not given, are chosen from the seed's initial weights, so a resumed run
    re-quantizes identically.  :func:`desire_bp.training.train` trains a config with
    ``integer`` set as an :class:`IntegerNetwork`.
    """
    spec = spec or cfg.integer or IntSpec()
    if spec.frac_bits is None:
        _, frac = quantize(Network.init(cfg).weights, spec)
        spec = spec.replace(frac_bits=frac)
    cfg = cfg.replace(integer=spec)
    make_params(cfg, spec, spec.frac_bits)  # validate early (integer leak, thresholds)
    return cfg


def load_network(path, engine: str = "fast") -> Network | IntegerNetwork:
    """The network of a checkpoint in its own arithmetic: an :class:`IntegerNetwork` for a
    checkpoint of an integer run (``config.integer`` set), else a
    :class:`~desire_bp.engine.Network`.  ``desire-bp eval`` uses this."""
    net = Network.load(path, engine=engine)
    if net.cfg.integer is not None:
        return IntegerNetwork.from_network(net, None, engine)
    return net
