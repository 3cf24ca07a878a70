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
* the delay is a NIR ``Delay`` node, which some importers (snnTorch 1.0, Norse 1.1) do not
  support.

``--target snntorch`` / ``--target norse`` write instead the graph of
:func:`desire_bp.interop.to_nir_spikes` (one file for both libraries: encoder outside, no
delays, ``T - (L - 1)`` steps, CubaLIF nodes); ``--check`` runs a read-back graph under plain
NIR semantics, with desire-bp's metadata, and in the installed libraries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .config import Config

__all__ = [
    "to_nir",
    "export_nir",
    "simulate",
    "agreement",
    "node_chain",
    "LOST",
    "DEFAULT_DT",
    "TARGETS",
]

F32 = np.float32
DEFAULT_DT = 1e-4
#: ``export-nir --target``: the plain NIR graph, or the graph for snnTorch and Norse (one file)
TARGETS = ("nir", "snntorch", "norse")

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
    "by snnTorch 1.0 or Norse 1.1: use --target snntorch|norse)",
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

    sizes, theta, beta = cfg.sizes, float(cfg.theta_p), float(cfg.beta)
    n0 = sizes[0]
    nodes: dict[str, Any] = {
        "input": nir.Input(input_type={"input": np.array([n0])}),
        "encoder": nir.IF(
            r=np.ones(n0, F32),
            v_threshold=np.full(n0, _below(theta), F32),
            v_reset=np.zeros(n0, F32),
            metadata=reset_metadata(cfg),
        ),
    }
    tau = dt / (1.0 - beta)

    def lif(n: int) -> Any:
        return nir.LIF(
            tau=np.full(n, tau),
            r=np.full(n, tau / dt),
            v_leak=np.zeros(n),
            v_threshold=np.full(n, _below(theta), F32),
            v_reset=np.zeros(n),
            metadata=reset_metadata(cfg),
        )

    left_out = "left out (not the specification's semantics)"
    meta = {
        "input": "pixel bytes / 255, constant input at each of the T steps",
        "readout": "output spike counts over T steps; class = strict maximum (tie: none)",
        "delay": "one step between LIF layers" if delay else left_out,
    }
    return layer_chain(nodes, [("input", "encoder")], weights, cfg, dt, lif, delay, meta)


def reset_metadata(cfg: Config) -> dict[str, Any]:
    """Node metadata of the specification's reset and threshold (desire-bp's extension of NIR)."""
    return {"reset_mode": "subtract", "reset_by": float(cfg.theta_p), "threshold_rule": ">="}


def layer_chain(
    nodes: dict[str, Any],
    edges: list[tuple[str, str]],
    weights: list[np.ndarray],
    cfg: Config,
    dt: float,
    neuron: Any,
    delay: bool,
    meta: dict[str, Any],
) -> Any:
    """Complete a graph: after the last node of ``edges``, per layer ``l`` a ``Delay(dt)``
    (``l >= 2``, if ``delay``), ``linear_l: Linear(W_l)`` and ``lif_l: neuron(n_l)``; then the
    ``Output`` node.  Graph metadata: the common entries updated with ``meta``."""
    import nir

    if cfg.leak != "always":
        raise ValueError(f"NIR's LIF leaks at every step; cannot export leak={cfg.leak!r}")
    sizes = cfg.sizes
    edges = list(edges)
    prev = edges[-1][1] if edges else "input"
    for layer in range(1, len(sizes)):
        if layer >= 2 and delay:
            nodes[f"delay_{layer - 1}"] = nir.Delay(delay=np.full(sizes[layer - 1], dt))
            edges.append((prev, f"delay_{layer - 1}"))
            prev = f"delay_{layer - 1}"
        nodes[f"linear_{layer}"] = nir.Linear(weight=np.asarray(weights[layer - 1], F32))
        nodes[f"lif_{layer}"] = neuron(sizes[layer])
        edges += [(prev, f"linear_{layer}"), (f"linear_{layer}", f"lif_{layer}")]
        prev = f"lif_{layer}"
    nodes["output"] = nir.Output(output_type={"output": np.array([sizes[-1]])})
    edges.append((prev, "output"))
    common = {
        "source": "desire-bp",
        "dt": dt,
        "T": int(cfg.T),
        "theta_p": float(cfg.theta_p),
        "beta": float(cfg.beta),
        "reset": "subtractive (node metadata reset_mode); NIR semantics: reset to v_reset",
        "time": "discrete, one forward-Euler step of dt per step",
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={**common, **meta})


def export_nir(
    checkpoint: str | Path,
    out: str | Path,
    dt: float = DEFAULT_DT,
    delay: bool = True,
    target: str = "nir",
) -> Any:
    """Write the NIR file of a checkpoint; returns the graph.

    Args:
        target: ``"nir"``: :func:`to_nir` (encoder and delays in the graph); ``"snntorch"`` or
            ``"norse"``: :func:`desire_bp.interop.to_nir_spikes` (the same graph for both:
            encoder outside, no delays, ``T - (L - 1)`` steps; ``delay`` is ignored).
    """
    import nir

    from .checkpoint import load_checkpoint

    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, got {target!r}")
    ck = load_checkpoint(checkpoint)
    if target == "nir":
        graph = to_nir(ck.weights, ck.config, dt, delay)
    else:
        from .interop import to_nir_spikes

        graph = to_nir_spikes(ck.weights, ck.config, dt)
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
    passes ``x`` (the same input every step, or ``x[t]`` for a sequence); ``Linear``/``Affine``
    apply ``W x (+ b)``; ``IF``: ``v += r * input``; ``LIF``: ``v = (1 - dt/tau) v + (r dt /
    tau) input`` (plus ``dt/tau * v_leak``); ``CubaLIF``: ``I = (1 - dt/tau_syn) I + (dt /
    tau_syn) w_in input``, then the LIF update of ``v`` with ``tau_mem`` and input ``I``; all
    fire where ``v > v_threshold``; ``Delay``: output of ``round(delay / dt)`` steps earlier
    (zeros before).  Reset: NIR's ``v = v_reset`` where a spike was emitted.  With
    ``honour_metadata``, node metadata ``reset_mode = "subtract"`` means ``v -= reset_by``
    (the specification's subtractive reset) and ``threshold_rule = ">="`` firing where
    ``v >= reset_by``: desire-bp's extensions, which NIR tools ignore.
    Weights are summed over the spiking inputs in ascending index order, so that float32
    results match :class:`desire_bp.engine.network.Network` exactly.

    Args:
        graph: a ``nir.NIRGraph`` (a chain).
        x: input ``(n_0,)`` or a batch ``(N, n_0)``, e.g. pixel bytes / 255, presented at
            every step; or a sequence ``(steps, N, n_0)``, one input per step (e.g. the
            encoder spikes of :func:`desire_bp.interop.encode`).
        T: steps (default: the sequence length, else graph metadata ``steps`` or ``T``);
            dt: step (default: metadata ``dt``).
        honour_metadata: apply the subtractive reset and ``>=`` rule stored in node metadata.
        exact_order: sum spiking inputs sample by sample in index order (float32 results
            identical to the engine); ``False``: one matrix product per step (much faster for
            big batches, rounding may differ in the last bit).
    Returns:
        output spike counts ``(n_out,)`` or ``(N, n_out)`` int32.
    """
    meta = getattr(graph, "metadata", {}) or {}
    x = np.asarray(x, F32)
    sequence = x.ndim == 3
    if T is None:
        T = len(x) if sequence else meta.get("steps", meta["T"])
    T = int(T)
    dt = float(dt if dt is not None else meta.get("dt", DEFAULT_DT))
    single = x.ndim == 1
    X = x[None, :] if single else x
    N = X.shape[1] if sequence else X.shape[0]
    nodes = [graph.nodes[k] for k in node_chain(graph)]
    state = [_initial_state(node, N, dt) for node in nodes]
    counts = None
    for t in range(T):
        sig = X[t] if sequence else X
        for k, node in enumerate(nodes):
            sig = _step(node, state[k], sig, dt, honour_metadata, exact_order)
        counts = sig.astype(np.int32) if counts is None else counts + sig.astype(np.int32)
    assert counts is not None
    return counts[0] if single else counts


def _initial_state(node: Any, N: int, dt: float) -> Any:
    """Zero state of a node for ``N`` samples: potentials, (current, potential) or a queue."""
    kind = type(node).__name__
    if kind in ("IF", "LIF"):
        return np.zeros((N, np.asarray(node.v_threshold).shape[0]), F32)
    if kind == "CubaLIF":
        n = np.asarray(node.v_threshold).shape[0]
        return [np.zeros((N, n), F32), np.zeros((N, n), F32)]
    if kind == "Delay":
        d = np.asarray(node.delay, np.float64)
        if d.size and not np.allclose(d, d.flat[0]):
            raise ValueError("only uniform delays are supported")
        steps = int(round(float(d.flat[0]) / dt)) if d.size else 0
        return [np.zeros((N, d.shape[0]), F32) for _ in range(steps)]
    return None


def _euler(v: np.ndarray, sig: np.ndarray, tau: Any, r: Any, v_leak: Any, dt: float) -> None:
    """``v = (1 - dt/tau) v + (r dt/tau) sig + (dt/tau) v_leak`` in place (float32)."""
    tau = np.asarray(tau, np.float64)
    v *= (1.0 - dt / tau).astype(F32)
    gain = (np.asarray(r, np.float64) * dt / tau).astype(F32)
    v += sig if np.all(gain == 1) else gain * sig
    leak = (dt / tau * np.asarray(v_leak, np.float64)).astype(F32)
    if np.any(leak != 0):
        v += leak


def _synaptic(node: Any, sig: np.ndarray, exact_order: bool) -> np.ndarray:
    """``Linear``/``Affine``: ``sig @ W^T (+ b)``; spikes summed in ascending index order."""
    WT = np.ascontiguousarray(np.asarray(node.weight, F32).T)  # (n_in, n_out)
    if exact_order:
        out = np.zeros((sig.shape[0], WT.shape[1]), F32)
        for s in range(sig.shape[0]):
            nzi = np.flatnonzero(sig[s])
            if np.all(sig[s][nzi] == 1):  # spikes: sequential sum of weight rows
                if nzi.size:
                    out[s] = WT[nzi].sum(axis=0, dtype=F32)
            else:
                out[s] = sig[s] @ WT
    else:
        out = sig @ WT
    if type(node).__name__ == "Affine":
        out += np.asarray(node.bias, F32)
    return out


def _step(node: Any, st: Any, sig: np.ndarray, dt: float, honour: bool, exact: bool) -> Any:
    """One step of one node: its output for input ``sig`` (``st``: its state, updated)."""
    kind = type(node).__name__
    if kind in ("Input", "Output"):
        return sig
    if kind in ("Linear", "Affine"):
        return _synaptic(node, sig, exact)
    if kind == "Delay":
        if st:
            st.append(sig)
            sig = st.pop(0)
        return sig
    if kind == "IF":
        v = st
        r = np.asarray(node.r, F32)
        v += sig if np.all(r == 1) else r * sig
    elif kind == "LIF":
        v = st
        _euler(v, sig, node.tau, node.r, node.v_leak, dt)
    elif kind == "CubaLIF":
        cur, v = st
        _euler(cur, np.asarray(node.w_in, F32) * sig, node.tau_syn, 1.0, 0.0, dt)
        _euler(v, cur, node.tau_mem, node.r, node.v_leak, dt)
    else:
        raise ValueError(f"node type {kind} is not supported by this reader")
    md = node.metadata or {}
    subtract = honour and _meta_str(md.get("reset_mode", "")) == "subtract"
    if honour and _meta_str(md.get("threshold_rule", "")) == ">=":
        spk = v >= F32(float(md["reset_by"]))
    else:
        spk = v > np.asarray(node.v_threshold, F32)
    if subtract:
        v -= np.where(spk, F32(float(md["reset_by"])), F32(0))
    else:
        v[:] = np.where(spk, np.asarray(node.v_reset, F32), v)
    return spk.astype(F32)


# ----------------------------------------------------------------------------- agreement


def _scores(counts: np.ndarray, ours: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    from .engine import predictions_from_counts

    pred = predictions_from_counts(counts)
    return {
        "accuracy": float(100.0 * (pred == labels).mean()),
        "same_prediction": float((pred == predictions_from_counts(ours)).mean()),
        "identical_count_rows": float((counts == ours).all(axis=1).mean()),
    }


def _simulate_in_chunks(
    graph: Any, inputs: np.ndarray, honour: bool, like: np.ndarray, sequence: bool
) -> np.ndarray:
    """:func:`simulate` 100 samples at a time, with a progress bar (identical counts).
    ``inputs`` is ``(N, n_0)``, or ``(steps, N, n_0)`` when ``sequence``."""
    from .progress import bar

    n = inputs.shape[1] if sequence else len(inputs)
    what = "desire-bp metadata" if honour else "plain NIR semantics"
    parts = [
        simulate(
            graph,
            inputs[:, lo : lo + 100] if sequence else inputs[lo : lo + 100],
            honour_metadata=honour,
        )
        for lo in bar(range(0, n, 100), desc=f"simulating the NIR graph ({what})", unit="x100")
    ]
    return np.concatenate(parts) if parts else np.zeros_like(like)


def agreement(graph: Any, net: Any, images: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """Run a (read-back) graph as NIR prescribes, as desire-bp's metadata says, and in every
    installed library that can run it (graphs of ``--target snntorch|norse``); compare with
    ``net`` on the same samples: identical count rows, same predictions, accuracies."""
    from importlib.util import find_spec

    from .engine import predictions_from_counts, to_float_pixels
    from .interop import encode, run_library

    meta = graph.metadata
    spikes_in = "steps" in meta  # the snnTorch/Norse graph: the encoder is outside
    inputs = (
        encode(images, int(meta["steps"]), float(meta["theta_p"]))
        if spikes_in
        else to_float_pixels(images).reshape(len(images), -1)
    )
    ours = net.forward_batch(images)
    res: dict[str, Any] = {
        "n": len(labels),
        "engine_accuracy": float(100.0 * (predictions_from_counts(ours) == labels).mean()),
        "nir_semantics": {
            "note": "what NIR 1.0 prescribes: reset to v_reset, fire on v > v_threshold",
            **_scores(_simulate_in_chunks(graph, inputs, False, ours, spikes_in), ours, labels),
        },
        "desire_bp_metadata": {
            "note": "desire-bp's node metadata applied (subtractive reset, >= threshold); "
            "not standard NIR, ignored by other tools",
            **_scores(_simulate_in_chunks(graph, inputs, True, ours, spikes_in), ours, labels),
        },
    }
    runs = {
        "snntorch": ("snntorch", {}, "snntorch.import_nir.import_from_nir as is (reset to zero)"),
        "snntorch_subtract": (
            "snntorch",
            {"reset": "subtract"},
            "import_from_nir, neurons replaced by snn.Leaky(reset_mechanism='subtract')",
        ),
        "norse": ("norse", {}, "norse.torch.from_nir(reset_method=reset_subtract, dt=graph dt)"),
    }
    for name, (lib, options, note) in runs.items() if spikes_in else ():
        if find_spec(lib) is None:
            res[name] = {"note": f"{lib} is not installed (pip install 'desire-bp[interop]')"}
            continue
        counts = run_library(graph, images, lib, **options)
        res[name] = {"note": note, **_scores(counts, ours, labels)}
    return res
