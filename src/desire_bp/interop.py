"""Run a trained network in snnTorch and Norse through their own NIR importers.

``desire-bp export-nir CK out.nir --target snntorch`` (or ``--target norse``: the same file)
writes a NIR graph built for simulators that step a PyTorch module once per time step:

    input (n_0 spikes) -> linear_1: Linear(W_1) -> lif_1: CubaLIF -> linear_2: Linear(W_2)
                       -> lif_2: CubaLIF -> ... -> lif_L: CubaLIF -> output (n_L)

* **The encoder is outside the graph.**  The input of each step is the spike vector of the IF
  input layer (:func:`encode`: ``v += x``, spike where ``v >= theta_p``, ``v -= theta_p``,
  ``x = byte / 255``); snnTorch 1.0 imports NIR's ``IF`` as a *leaky* neuron that returns a
  tuple, and Norse's ``IF`` integrates with ``dt``, so neither can run the specification's
  encoder (``docs/spec.md``).
* **No Delay nodes; run ``T - (L - 1)`` steps instead of ``T``.**  In the specification layer
  ``l >= 2`` sees layer ``l - 1``'s spikes one step late.  A layer whose input is zero at
  step 0 stays at ``v = 0``, so with the delays layer ``l`` produces at step ``t`` exactly what
  it produces at step ``t - (l - 1)`` without them: the output spike counts over ``T`` steps
  with delays equal the counts over the first ``T - (L - 1)`` steps without.  Neither
  snnTorch 1.0 nor Norse 1.1 reads ``Delay`` nodes; this graph needs none and loses nothing.
  Graph metadata ``steps`` is that number (18 for ``T = 20`` and three layers).
* **CubaLIF with ``tau_syn = dt``** (``w_in = 1``): under forward Euler with step ``dt`` the
  synaptic current is the input of the same step, ``I = (1 - dt/tau_syn) I + (dt/tau_syn) x
  = x``, and ``tau_mem = dt / (1 - beta)``, ``r = tau_mem / dt`` give the specification's
  ``v = beta v + W u``.  A plain LIF node would do too, but Norse 1.1's ``from_nir`` passes its
  ``reset_method`` to CubaLIF nodes only; snnTorch reads CubaLIF as ``Synaptic`` with
  ``alpha = 0`` (the same neuron as its ``Leaky``).
* ``v_threshold = theta_p`` and ``v_reset = 0``: NIR, snnTorch and Norse fire on
  ``v > v_threshold`` (the specification: ``>=``; they differ only where ``v`` is exactly
  ``theta_p``), and a subtractive reset in Norse and snnTorch subtracts ``v_threshold``, which
  must be ``theta_p``.  Node metadata ``reset_mode = "subtract"`` records the specification's
  reset.
* ``dt = 1e-4`` s: snnTorch 1.0's importer assumes it; pass ``dt=1e-4`` to Norse's
  ``from_nir`` (its default 1e-3 would leak 10 times faster).

:func:`snntorch_module`, :func:`norse_module` and :func:`spike_counts` are what the docs'
examples do by hand; :func:`run_library` encodes, runs and counts a whole test set.  The
measured agreement with the engine is in ``docs/nir.md``.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np

from .config import Config

__all__ = [
    "LIBRARIES",
    "LOST_SPIKES",
    "steps_without_delay",
    "to_nir_spikes",
    "encode",
    "snntorch_module",
    "norse_module",
    "spike_counts",
    "run_library",
]

F32 = np.float32
LIBRARIES = ("snntorch", "norse")

#: What the snnTorch/Norse graph leaves out or cannot say (printed by ``export-nir``).
LOST_SPIKES = (
    "the IF input encoder is outside the graph: feed encode(images, steps, theta_p), one "
    "spike vector per step (desire_bp.interop.encode)",
    "no Delay nodes: run `steps` = T - (L-1) steps (the same output spike counts as T steps "
    "with the specification's one-step delays)",
    "subtractive reset (v -= theta_p): NIR resets to v_reset = 0; Norse: pass "
    "reset_method=reset_subtract (exact); snnTorch's importer always resets to zero",
    "threshold v >= theta_p: NIR, snnTorch and Norse fire on v > v_threshold = theta_p "
    "(differs only where v is exactly theta_p)",
    "discrete time: forward Euler with dt = 1e-4 s (snnTorch assumes it; Norse: pass dt=1e-4); "
    "CubaLIF with tau_syn = dt is the specification's LIF only under forward Euler",
    "read-out: spike counts over `steps` steps, strict maximum (ties = no decision): metadata",
)


def steps_without_delay(cfg: Config) -> int:
    """Steps that a graph without the one-step delays runs to count the spikes that the
    specification's ``T`` steps count."""
    return int(cfg.T) - (len(cfg.sizes) - 2)


def to_nir_spikes(weights: list[np.ndarray], cfg: Config, dt: float = 1e-4) -> Any:
    """The ``nir.NIRGraph`` for snnTorch and Norse (module docstring): input = encoder spikes,
    ``Linear`` + ``CubaLIF(tau_syn = dt)`` per layer, no delays, ``steps`` in the metadata."""
    import nir

    from .nir_export import layer_chain, reset_metadata

    theta, beta = float(cfg.theta_p), float(cfg.beta)
    tau_mem = dt / (1.0 - beta)

    def cuba_lif(n: int) -> Any:
        return nir.CubaLIF(
            tau_syn=np.full(n, dt),
            tau_mem=np.full(n, tau_mem),
            r=np.full(n, tau_mem / dt),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, theta, F32),
            v_reset=np.zeros(n),
            w_in=np.ones(n),
            metadata=reset_metadata(cfg),
        )

    nodes = {"input": nir.Input(input_type={"input": np.array([cfg.sizes[0]])})}
    meta = {
        "target": "snntorch, norse",
        "steps": steps_without_delay(cfg),
        "input": "IF encoder spikes (outside the graph): v += byte/255, spike where "
        "v >= theta_p, v -= theta_p; one spike vector per step, `steps` steps",
        "readout": "output spike counts over `steps` steps; class = strict maximum (tie: none)",
        "delay": "none: `steps` = T - (L - 1) steps without delays count the same spikes as "
        "T steps with the specification's one-step delays",
    }
    return layer_chain(nodes, [], weights, cfg, dt, cuba_lif, False, meta)


def encode(images: np.ndarray, steps: int, theta_p: float = 1.0) -> np.ndarray:
    """The IF input layer's spikes, ``(steps, N, n_0)`` float32 0/1, of images ``(N, ...)``
    (uint8 bytes or floats in [0, 1]): ``v += x``, spike where ``v >= theta_p``, subtract."""
    from .engine import pixel_matrix

    X = pixel_matrix(images)
    theta = F32(theta_p)
    v = np.zeros_like(X)
    out = np.zeros((int(steps), *X.shape), F32)
    for t in range(int(steps)):
        v += X
        s = v >= theta
        v -= np.where(s, theta, F32(0))
        out[t] = s
    return out


def _meta(graph: Any, key: str) -> float:
    v = graph.metadata[key]
    return float(v.item() if hasattr(v, "item") else v)


def snntorch_module(graph: Any, reset: str = "zero") -> Any:
    """snnTorch's ``import_from_nir(graph)``, its messages silenced.

    Args:
        reset: ``"zero"`` keeps what the importer builds (reset to zero); ``"subtract"``
            replaces every imported neuron by an ``snn.Leaky`` with the same ``beta`` and
            threshold and snnTorch's reset by subtraction (the importer cannot be told).
    """
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    with contextlib.redirect_stdout(io.StringIO()):  # it prints about RNN subgraphs
        module = import_from_nir(graph)
    if reset == "zero":
        return module
    if reset != "subtract":
        raise ValueError(f"reset must be 'zero' or 'subtract', got {reset!r}")
    for name, m in list(module.named_modules()):
        if isinstance(m, snn.Leaky | snn.Synaptic):  # Synaptic: alpha = 0, i.e. a Leaky
            new = snn.Leaky(
                beta=m.beta,
                threshold=float(m.threshold),
                reset_mechanism="subtract",
                init_hidden=True,
                reset_delay=False,
            )
            module.set_submodule(name, new)  # a new neuron: its reset is fixed when built
    return module


def norse_module(graph: Any) -> Any:
    """Norse's ``from_nir`` with subtractive reset and the graph's ``dt``."""
    import norse.torch as norse
    from norse.torch.functional.reset import reset_subtract

    return norse.from_nir(graph, reset_method=reset_subtract, dt=_meta(graph, "dt"))


def spike_counts(module: Any, spikes: Any, library: str) -> Any:
    """Step ``module`` over ``spikes`` ``(steps, B, n_0)`` (a tensor) and sum its output.

    Both importers build a nirtorch module that returns ``(output, state)``; Norse's takes
    the state back, snnTorch's neurons keep it themselves (reset here first).
    """
    import torch

    counts = torch.zeros(0)
    state = None
    if library == "snntorch":
        import snntorch.utils

        snntorch.utils.reset(module)
    with torch.no_grad():
        for t in range(spikes.shape[0]):
            if library == "norse":
                out, state = module(spikes[t], state)
            else:
                out, _ = module(spikes[t])
            counts = out if t == 0 else counts + out
    return counts


def run_library(
    graph: Any, images: np.ndarray, library: str, batch: int = 2000, **options: Any
) -> np.ndarray:
    """Output spike counts ``(N, n_L)`` int32 of images through snnTorch or Norse.

    Args:
        graph: from :func:`to_nir_spikes` (or ``nir.read`` of ``--target snntorch|norse``).
        library: ``"snntorch"`` or ``"norse"``; options go to its ``*_module`` function.
        batch: samples per call (memory).
    """
    import torch

    if library not in LIBRARIES:
        raise ValueError(f"library must be one of {LIBRARIES}, got {library!r}")
    make = snntorch_module if library == "snntorch" else norse_module
    module = make(graph, **options)
    steps, theta = int(_meta(graph, "steps")), _meta(graph, "theta_p")
    parts = []
    for i in range(0, len(images), batch):
        spikes = torch.from_numpy(encode(images[i : i + batch], steps, theta))
        parts.append(spike_counts(module, spikes, library).numpy())
    n_out = graph.nodes["output"].output_type["output"][0]
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, n_out), np.int32)
