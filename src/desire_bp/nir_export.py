"""Export a trained network to NIR (Neuromorphic Intermediate Representation) and run it back.

``desire-bp export-nir CHECKPOINT OUT.nir`` writes a NIR graph (``pip install desire-bp[nir]``)::

    input (n_0) -> encoder: IF -> linear_1: Linear(W_1) -> lif_1: LIF
                -> delay_1: Delay(dt) -> linear_2: Linear(W_2) -> lif_2: LIF
                -> ... -> linear_L: Linear(W_L) -> lif_L: LIF -> output (n_L)

with these parameters (``dt`` the step length, default ``1e-4`` s as snnTorch's importer
assumes; ``beta = 1 - 2**-mempot_decay``):

* the input is the pixel value ``byte / 255`` in [0, 1], presented as a constant input at every
  one of the ``T`` steps; the encoder is ``IF(r = 1, v_threshold, v_reset = 0)``
  (``v += r * x`` per step, the discrete reading snnTorch's importer uses);
* ``LIF(tau = dt / (1 - beta), r = tau / dt, v_leak = 0, v_threshold, v_reset = 0)``: one
  forward-Euler step of ``tau dv/dt = -v + r I`` is ``v = beta v + I``, the specification's
  leak-first LIF (``docs/spec.md``);
* ``Delay(delay = dt)`` between LIF layers (the specification's one-step delay
  ``u_l[t] = s_{l-1}[t-1]``);
* ``v_threshold`` is the largest float32 below ``theta_p``: NIR fires on ``v > v_threshold``
  and the specification on ``v >= theta_p``; for float32 potentials the two are the same test.

What NIR 1.0 cannot express (printed by the command, listed in ``docs/nir.md``):

* **subtractive reset** -- NIR's IF/LIF reset to ``v_reset``; the specification subtracts
  ``theta_p``.
  Stored only as node metadata (``reset_mode = "subtract"``, ``reset_by = theta_p``), which
  :func:`simulate` honours and standard NIR tools ignore.
* **discrete time** -- NIR is continuous-time; the export assumes forward Euler with step
  ``dt`` (graph metadata ``dt``, ``T``).  An exact exponential integrator would use
  ``exp(-dt / tau) = exp(-(1 - beta))`` (0.7788 instead of 0.75).
* **the ``>=`` threshold** -- exported as the next float32 below ``theta_p`` with ``>``
  (exact in float32, off by one float32 ulp in other precisions).
* **the read-out** -- spike counts over ``T`` steps with the strict-maximum rule are metadata.
* **integer arithmetic** of :mod:`desire_bp.integer` (shift leak rounding, integer thresholds)
  -- weights are exported as their float values ``W_int * 2**-f``.
* the delay is a NIR ``Delay`` node, which some importers (snnTorch 1.0) do not support.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .config import Config

__all__ = ["to_nir", "export_nir", "simulate", "agreement", "node_chain", "LOST", "DEFAULT_DT"]

F32 = np.float32
DEFAULT_DT = 1e-4

#: What NIR cannot express, one line each (printed by ``desire-bp export-nir``).
LOST = (
    "subtractive reset (v -= theta_p): NIR IF/LIF reset to v_reset = 0; kept only as node "
    "metadata reset_mode='subtract' (honoured by desire_bp.nir_export.simulate, ignored by "
    "standard NIR tools)",
    "discrete time: NIR is continuous-time; parameters assume one forward-Euler step of dt "
    "(graph metadata dt, T); an exact exponential integrator would leak by exp(-(1-beta)) "
    "instead of beta",
    "threshold v >= theta_p: exported as v > nextafter(theta_p, -inf) in float32 (same test "
    "for float32 potentials, one ulp off otherwise)",
    "read-out (spike counts over T steps, strict maximum, ties = no decision) and T: graph "
    "metadata only",
    "input: pixel bytes / 255 in [0, 1] as a constant input each step (IF r = 1, the discrete "
    "reading snnTorch uses); NIR has no notion of the byte encoding",
    "one-step delay between LIF layers: NIR Delay(dt) nodes (standard NIR, but not supported "
    "by every importer, e.g. snnTorch 1.0)",
    "integer-mode arithmetic (shift leak rounding, integer thresholds) is not represented; "
    "weights are exported as float values",
)


def _below(theta: float) -> np.float32:
    """The largest float32 strictly below ``theta`` (so ``v > it`` iff ``v >= theta``)."""
    return np.nextafter(F32(theta), F32(-np.inf))


def to_nir(
    weights: list[np.ndarray], cfg: Config, dt: float = DEFAULT_DT, delay: bool = True
) -> Any:
    """Build the ``nir.NIRGraph`` of a network.

    Args:
        weights: ``W_l`` ``(n_l, n_{l-1})`` float32, ``l = 1..L``.
        cfg: sizes, ``T``, ``theta_p``, ``mempot_decay``.
        dt: step length in seconds (sets ``tau`` and the delay).
        delay: write the one-step ``Delay`` nodes between LIF layers; ``False`` leaves them
            out for importers without ``Delay`` (a different network: every layer then sees
            the previous layer's spikes of the same step).
    """
    import nir

    if cfg.leak != "always":
        raise ValueError(f"NIR's LIF leaks at every step; cannot export leak={cfg.leak!r}")
    sizes, theta, beta = cfg.sizes, float(cfg.theta_p), float(cfg.beta)
    reset_meta = {"reset_mode": "subtract", "reset_by": theta, "threshold_rule": ">="}
    n0 = sizes[0]
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([n0])}),
        "encoder": nir.IF(
            r=np.ones(n0, F32),
            v_threshold=np.full(n0, _below(theta), F32),
            v_reset=np.zeros(n0, F32),
            metadata=dict(reset_meta),
        ),
    }
    edges = [("input", "encoder")]
    prev = "encoder"
    tau = dt / (1.0 - beta)
    for layer in range(1, len(sizes)):
        n = sizes[layer]
        if layer >= 2 and delay:
            nodes[f"delay_{layer - 1}"] = nir.Delay(delay=np.full(sizes[layer - 1], dt))
            edges.append((prev, f"delay_{layer - 1}"))
            prev = f"delay_{layer - 1}"
        nodes[f"linear_{layer}"] = nir.Linear(weight=np.asarray(weights[layer - 1], F32))
        nodes[f"lif_{layer}"] = nir.LIF(
            tau=np.full(n, tau),
            r=np.full(n, tau / dt),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, _below(theta), F32),
            v_reset=np.zeros(n),
            metadata=dict(reset_meta),
        )
        edges += [(prev, f"linear_{layer}"), (f"linear_{layer}", f"lif_{layer}")]
        prev = f"lif_{layer}"
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((prev, "output"))
    meta = {
        "source": "desire-bp",
        "dt": dt,
        "T": int(cfg.T),
        "theta_p": theta,
        "beta": beta,
        "input": "pixel bytes / 255, constant input at each of the T steps",
        "readout": "output spike counts over T steps; class = strict maximum (tie: none)",
        "reset": "subtractive (node metadata reset_mode); NIR semantics: reset to v_reset",
        "time": "discrete, one forward-Euler step of dt per step",
        "delay": "one step between LIF layers"
        if delay
        else "left out (not the specification's semantics)",
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(
    checkpoint: str | Path, out: str | Path, dt: float = DEFAULT_DT, delay: bool = True
) -> Any:
    """Write the NIR file of a checkpoint (see :func:`to_nir`); returns the graph."""
    import nir

    from .checkpoint import load_checkpoint

    ck = load_checkpoint(checkpoint)
    graph = to_nir(ck.weights, ck.config, dt, delay)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    nir.write(str(out), graph)
    return graph


def _meta_str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def node_chain(graph: Any) -> list[str]:
    """The node names of a feed-forward chain from the Input to the Output node."""
    nxt: dict[str, str] = {}
    for a, b in graph.edges:
        if a in nxt:
            raise ValueError(f"node {a!r} has several successors: only chains are supported")
        nxt[a] = b
    start = [k for k, n in graph.nodes.items() if type(n).__name__ == "Input"]
    if len(start) != 1:
        raise ValueError("the graph needs exactly one Input node")
    order = [start[0]]
    while order[-1] in nxt:
        order.append(nxt[order[-1]])
        if len(order) > len(graph.nodes):
            raise ValueError("the graph has a cycle")
    return order


def simulate(
    graph: Any,
    x: np.ndarray,
    T: int | None = None,
    dt: float | None = None,
    honour_metadata: bool = True,
    exact_order: bool = True,
) -> np.ndarray:
    """Run a feed-forward NIR graph in discrete time (float32) and count output spikes.

    Semantics per step (forward Euler with step ``dt``, nodes in chain order): ``Input``
    passes ``x`` (the same input every step); ``Linear``/``Affine`` apply ``W x (+ b)``;
    ``IF``: ``v += r * input``; ``LIF``: ``v = (1 - dt/tau) v + (r dt / tau) input`` (plus
    ``dt/tau * v_leak``); both fire where ``v > v_threshold``; ``Delay``: output of
    ``round(delay / dt)`` steps earlier (zeros before).  Reset: NIR's ``v = v_reset`` where a
    spike was emitted, or, with ``honour_metadata`` and node metadata
    ``reset_mode = "subtract"``, ``v -= reset_by`` (the specification's subtractive reset).
    Weights are summed over the spiking inputs in ascending index order, so that float32
    results match :class:`desire_bp.engine.network.Network` exactly.

    Args:
        graph: a ``nir.NIRGraph`` (a chain).
        x: input ``(n_0,)`` or a batch ``(N, n_0)``, e.g. pixel bytes / 255.
        T: steps (default: graph metadata ``T``); dt: step (default: metadata ``dt``).
        honour_metadata: apply the subtractive reset stored in node metadata.
        exact_order: sum spiking inputs sample by sample in index order (float32 results
            identical to the engine); ``False``: one matrix product per step (much faster for
            big batches, rounding may differ in the last bit).
    Returns:
        output spike counts ``(n_out,)`` or ``(N, n_out)`` int32.
    """
    meta = getattr(graph, "metadata", {}) or {}
    T = int(T if T is not None else meta["T"])
    dt = float(dt if dt is not None else meta.get("dt", DEFAULT_DT))
    x = np.asarray(x, F32)
    single = x.ndim == 1
    X = x[None, :] if single else x
    N = X.shape[0]
    order = node_chain(graph)
    nodes = [graph.nodes[k] for k in order]
    state: list[Any] = []
    for node in nodes:
        kind = type(node).__name__
        if kind in ("IF", "LIF", "CubaLIF"):
            n = np.asarray(node.v_threshold).shape[0]
            state.append(np.zeros((N, n), F32))
        elif kind == "Delay":
            d = np.asarray(node.delay, np.float64)
            steps = int(round(float(d.flat[0]) / dt)) if d.size else 0
            if d.size and not np.allclose(d, d.flat[0]):
                raise ValueError("only uniform delays are supported")
            state.append([np.zeros((N, d.shape[0]), F32) for _ in range(steps)])
        else:
            state.append(None)
    counts = None
    for _t in range(T):
        sig = X
        for k, node in enumerate(nodes):
            kind = type(node).__name__
            if kind in ("Input", "Output"):
                continue
            if kind in ("Linear", "Affine"):
                WT = np.ascontiguousarray(np.asarray(node.weight, F32).T)  # (n_in, n_out)
                out = np.zeros((N, WT.shape[1]), F32)
                for s in range(N if exact_order else 0):
                    nzi = np.flatnonzero(sig[s])
                    if np.all(sig[s][nzi] == 1):  # spikes: sequential sum of weight rows
                        if nzi.size:
                            out[s] = WT[nzi].sum(axis=0, dtype=F32)
                    else:
                        out[s] = sig[s] @ WT
                if not exact_order:
                    out = sig @ WT
                if kind == "Affine":
                    out += np.asarray(node.bias, F32)
                sig = out
            elif kind == "Delay":
                buf = state[k]
                if buf:
                    buf.append(sig)
                    sig = buf.pop(0)
            elif kind in ("IF", "LIF"):
                v = state[k]
                if kind == "IF":
                    r = np.asarray(node.r, F32)
                    v += sig if np.all(r == 1) else r * sig
                else:
                    tau = np.asarray(node.tau, np.float64)
                    beta = (1.0 - dt / tau).astype(F32)
                    gain = (np.asarray(node.r, np.float64) * dt / tau).astype(F32)
                    v *= beta
                    v += sig if np.all(gain == 1) else gain * sig
                    leak = (dt / tau * np.asarray(node.v_leak, np.float64)).astype(F32)
                    if np.any(leak != 0):
                        v += leak
                spk = v > np.asarray(node.v_threshold, F32)
                md = node.metadata or {}
                if honour_metadata and _meta_str(md.get("reset_mode", "")) == "subtract":
                    v -= np.where(spk, F32(float(md["reset_by"])), F32(0))
                else:
                    v[:] = np.where(spk, np.asarray(node.v_reset, F32), v)
                sig = spk.astype(F32)
            else:
                raise ValueError(f"node type {kind} is not supported by this reader")
        counts = sig.astype(np.int32) if counts is None else counts + sig.astype(np.int32)
    assert counts is not None
    return counts[0] if single else counts


# ----------------------------------------------------------------------------- CLI


def agreement(graph: Any, net: Any, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """How far ``graph``, simulated by :func:`simulate`, agrees with ``net`` on the samples:
    identical count rows, same predictions, accuracies."""
    from .engine import predictions_from_counts, to_float_pixels

    X = to_float_pixels(images)
    ours = net.forward_batch(images)
    res: dict[str, Any] = {"n": len(labels)}
    for name, honour in (("desire_bp_reader", True), ("pure_nir_semantics", False)):
        c = simulate(graph, X, honour_metadata=honour)
        pred = predictions_from_counts(c)
        res[name] = {
            "identical_count_rows": float((c == ours).all(axis=1).mean()),
            "same_prediction": float((pred == predictions_from_counts(ours)).mean()),
            "accuracy": float(100.0 * (pred == labels).mean()),
        }
    res["engine_accuracy"] = float(100.0 * (predictions_from_counts(ours) == labels).mean())
    return res
