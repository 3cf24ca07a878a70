"""A trained network as a PyTorch module (optional; ``pip install 'desire-bp[torch]'``).

Example::

    import torch
    from desire_bp.torch import SpikingNetwork

    model = SpikingNetwork.load("results/mnist/best.npz")      # or .to("cuda")
    counts = model(images)            # (B, 784) or (B, 1, 28, 28): uint8 bytes or floats in [0, 1]
    pred = SpikingNetwork.predict_from_counts(counts)          # class, -1 on a tie

The module runs the evaluation forward pass of the specification (``docs/spec.md``, "Forward
pass"; the same as :meth:`desire_bp.engine.Network.forward_batch`): the IF input encoder
(``v += x``, spike where ``v >= theta_p``, subtract ``theta_p``), then ``L`` LIF layers (leak
first ``v = beta v + W u``, spike where ``v >= theta_p``, subtractive reset), layer ``l >= 2``
seeing the spikes of layer ``l - 1`` one step late, ``T`` steps; it returns the output spike
counts ``(B, n_L)`` (int32).

Float32 summation order: the fast engine sums the synaptic input of a neuron as the weights of
the spiking inputs added one by one in ascending input index.  ``exact=True`` does the same
(one ``index_add_`` per input that spikes anywhere in the batch), so the output counts are
bit-identical to the engine's.  ``exact=False`` (default) uses one matrix product per layer and
step, much faster, whose rounding of a sum may differ in the last bit; a potential that lands
within an ulp of ``theta_p`` can then fire differently (docs/torch.md has the measured
agreement).

``desire-bp torch-check CHECKPOINT`` compares the module with the engine on a test set
(:func:`compare_with_engine`).  Importing this module imports torch; the rest of desire-bp does
not need it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .config import Config

__all__ = ["SpikingNetwork", "encode", "predictions", "compare_with_engine"]


def _pixels(images: torch.Tensor | np.ndarray, n0: int) -> torch.Tensor:
    """Images ``(B, ...)`` as float32 ``(B, n0)`` in [0, 1] (uint8 bytes divided by 255)."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        x = x.to(torch.float32) / 255.0  # float32 division: the same value as NumPy's
    elif x.is_floating_point():
        x = x.to(torch.float32)
        if x.numel() and (not torch.isfinite(x).all() or x.min() < 0 or x.max() > 1):
            raise ValueError("float pixels must be finite and within [0, 1]")
    else:
        raise TypeError(f"pixels must be uint8 bytes or floats in [0, 1], got {x.dtype}")
    x = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(1, -1)
    if x.shape[1] != n0:
        raise ValueError(f"samples have {x.shape[1]} values, the input layer has {n0}")
    return x


def encode(x: torch.Tensor, theta: float, steps: int) -> torch.Tensor:
    """The IF input encoder: spikes ``(steps, B, n0)`` float32 (0/1) of pixels ``x`` ``(B, n0)``.

    ``v += x``; spike where ``v >= theta``; ``v -= theta`` where it spiked (float32).
    """
    th = torch.tensor(theta, dtype=torch.float32, device=x.device)
    v = torch.zeros_like(x)
    out = torch.empty((steps, *x.shape), dtype=torch.float32, device=x.device)
    for t in range(steps):
        v += x
        s = v >= th
        v -= torch.where(s, th, torch.zeros_like(th))
        out[t] = s
    return out


def predictions(counts: torch.Tensor) -> torch.Tensor:
    """Strict arg-max of ``(B, n)`` counts per row, ``-1`` where the maximum is tied."""
    top, k = counts.max(dim=1)
    ties = (counts == top[:, None]).sum(dim=1) > 1
    return torch.where(ties, torch.full_like(k, -1), k)


class SpikingNetwork(nn.Module):
    """A desire-bp network in evaluation mode; ``forward(images)`` gives spike counts.

    Attributes:
        cfg: the network's :class:`~desire_bp.config.Config` (sizes, ``T``, ``theta_p``,
            ``beta``, leak rule).
        exact: sum synaptic inputs in the engine's order (bit-identical counts, slower).
    """

    def __init__(self, weights: Sequence[np.ndarray], cfg: Config, exact: bool = False) -> None:
        """Args:
        weights: ``W_l`` ``(n_l, n_{l-1})`` per layer (as ``Network.weights``).
        cfg: hyper-parameters of the checkpoint.
        exact: see the class docstring.
        """
        super().__init__()
        if len(weights) != len(cfg.sizes) - 1:
            raise ValueError(f"{len(weights)} weight arrays for sizes {cfg.sizes}")
        self.cfg = cfg
        self.exact = exact
        for layer, w in enumerate(weights, start=1):
            w = np.asarray(w, np.float32)
            if w.shape != (cfg.sizes[layer], cfg.sizes[layer - 1]):
                raise ValueError(f"weights of layer {layer}: shape {w.shape}")
            # input-major (n_in, n_out), as the engine stores them: row j = weights of input j
            self.register_buffer(f"WT_{layer}", torch.tensor(np.ascontiguousarray(w.T)))

    @classmethod
    def load(cls, path: str | Path, exact: bool = False) -> SpikingNetwork:
        """The module of an ``.npz`` checkpoint (see :mod:`desire_bp.checkpoint`)."""
        from .checkpoint import load_checkpoint

        ck = load_checkpoint(path)
        return cls(ck.weights, ck.config, exact)

    @classmethod
    def from_network(cls, net, exact: bool = False) -> SpikingNetwork:
        """The module of a :class:`desire_bp.engine.Network` (weights copied)."""
        return cls(net.weights, net.cfg, exact)

    predict_from_counts = staticmethod(predictions)

    @property
    def layers(self) -> list[torch.Tensor]:
        """``W_l^T`` ``(n_{l-1}, n_l)`` per layer (buffers; they follow ``.to(device)``)."""
        return [getattr(self, f"WT_{k}") for k in range(1, len(self.cfg.sizes))]

    def _synaptic(self, WT: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``s @ WT`` for 0/1 spikes ``s`` ``(B, n_in)``; ``exact``: the engine's order."""
        if not self.exact:
            return s @ WT
        acc = torch.zeros((s.shape[0], WT.shape[1]), dtype=torch.float32, device=s.device)
        pairs = s.t().nonzero()  # (input j, sample) in ascending j: rows of W added in order
        if pairs.numel():
            inputs, counts = torch.unique_consecutive(pairs[:, 0], return_counts=True)
            for j, rows in zip(inputs.tolist(), pairs[:, 1].split(counts.tolist()), strict=True):
                acc.index_add_(0, rows, WT[j].expand(len(rows), -1))
        return acc

    @torch.no_grad()
    def forward(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Output spike counts ``(B, n_L)`` int32 of a batch of images.

        Args:
            images: ``(B, n_0)`` or ``(B, 1, 28, 28)`` (any shape with ``n_0`` values per
                sample), uint8 bytes or floats in [0, 1], on the module's device (a NumPy
                array is moved there).
        """
        cfg = self.cfg
        layers = self.layers
        dev = layers[0].device
        x = _pixels(images, cfg.sizes[0]).to(dev)
        B = x.shape[0]
        theta = torch.tensor(cfg.theta_p, dtype=torch.float32, device=dev)
        beta = torch.tensor(cfg.beta, dtype=torch.float32, device=dev)
        skip = cfg.leak == "skip-after-spike"
        spikes_in = encode(x, float(cfg.theta_p), cfg.T)
        v = [torch.zeros((B, WT.shape[1]), dtype=torch.float32, device=dev) for WT in layers]
        prev = [torch.zeros_like(p) for p in v]  # spikes of the previous step, per layer
        counts = torch.zeros((B, cfg.sizes[-1]), dtype=torch.int32, device=dev)
        for t in range(cfg.T):
            now = []
            for k, WT in enumerate(layers):
                s_in = spikes_in[t] if k == 0 else prev[k - 1]  # one-step delay for l >= 2
                if skip and t > 0:
                    v[k] = torch.where(prev[k] > 0, v[k], v[k] * beta)
                else:
                    v[k] = v[k] * beta
                if k == 0 or t > 0:
                    v[k] = v[k] + self._synaptic(WT, s_in)
                s = v[k] >= theta
                v[k] = v[k] - torch.where(s, theta, torch.zeros_like(theta))
                now.append(s.to(torch.float32))
            prev = now
            counts += prev[-1].to(torch.int32)
        return counts

    def predict(self, images: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Predicted class per image (strict maximum of the counts; ``-1`` on a tie)."""
        return predictions(self(images))


def compare_with_engine(
    checkpoint: str | Path,
    samples: int | None = None,
    exact: bool = False,
    device: str = "cpu",
    batch: int = 10000,
    threads: int = 1,
    data_dir: str | None = None,
) -> dict:
    """Run a checkpoint's test set through :class:`SpikingNetwork` and through
    ``Network.forward_batch`` (``desire-bp torch-check``).

    Args:
        samples: the first N test samples (``None``: all); batch: samples per module call;
        threads: torch CPU threads; exact, device: as for the module.
    Returns:
        both accuracies, the share of identical predictions and of identical count rows, and
        the seconds each took.
    """
    import time

    from .data import load_dataset
    from .engine import Network

    net = Network.load(checkpoint)
    test = load_dataset(net.cfg.dataset, "test", data_dir).subset(samples)
    t0 = time.perf_counter()
    ours = net.forward_batch(test.images)
    t_engine = time.perf_counter() - t0
    torch.set_num_threads(threads)  # after Numba, whose OpenMP layer resets the count
    model = SpikingNetwork.from_network(net, exact=exact).to(device)
    t0 = time.perf_counter()
    images = torch.from_numpy(test.images)
    parts = [model(images[i : i + batch]).cpu() for i in range(0, len(images), batch)]
    t_torch = time.perf_counter() - t0
    counts = torch.cat(parts).numpy()
    pred = predictions(torch.from_numpy(counts)).numpy()
    ref = predictions(torch.from_numpy(ours)).numpy()
    labels = np.asarray(test.labels)
    return {
        "checkpoint": str(checkpoint),
        "n": len(labels),
        "device": device,
        "exact": exact,
        "engine_accuracy": float(100.0 * (ref == labels).mean()),
        "torch_accuracy": float(100.0 * (pred == labels).mean()),
        "same_prediction": float((pred == ref).mean()),
        "identical_count_rows": float((counts == ours).all(axis=1).mean()),
        "seconds_engine": round(t_engine, 2),
        "seconds_torch": round(t_torch, 2),
    }
