"""Operation counts per neuron per sample (the paper's Table 3), measured on real samples.

``desire-bp table3`` runs the readable engine (:mod:`desire_bp.engine.reference` in float mode,
:mod:`desire_bp.integer` in integer mode) on real training samples with dropout, takes the
events of each sample (spikes, traces, desire, masks) and counts the operations that an
**event-driven** implementation of exactly that algorithm needs.  Counted as:

Forward pass (training, per neuron, per sample):
  * input encoder (IF) neuron ``i``: a zero or dropped-out pixel costs one conditional and is
    skipped; otherwise per step one addition ``v += x`` and one comparison ``v >= theta``, one
    subtraction (counted as an addition) per spike for the reset.
  * LIF neuron ``o``: a dropped-out neuron costs one conditional and is skipped; otherwise per
    step the leak (float: 1 multiplication ``beta * v``; integer: 1 shift and 1 subtraction
    ``v - (v >> k)``), **one addition per pre-synaptic spike arriving at that step** (not a dense
    product), the dropout scale (float, training, ``c != 1``: 1 multiplication per step that
    received input; integer: none, folded into the threshold), 1 comparison, and 1 addition
    per spike for the reset.  Spikes are routed by the sender: no per-synapse "did input i
    spike" test is counted (the paper's ``T * I`` conditionals are that test).
  * the pre-synaptic trace a neuron keeps for the weight update of the next layer (every
    neuron except the output layer's, only if it is not dropped): per step 1 multiplication
    (integer: 1 shift + 1 subtraction) and 1 addition per spike.
Backward pass:
  * output neuron: float ``rate = n / (T - margin)`` 1 multiplication (by the reciprocal),
    the label's neuron ``1 - rate`` 1 addition, 1 comparison with ``theta_out``; integer: 1
    comparison of the count with a precomputed integer threshold.
  * neuron ``h`` of a layer ``l >= 2`` whose desire is propagated (``d != 0``, not dropped):
    its error, float 1 multiplication + 1 addition + 1 conditional (absolute value);
    integer 1 addition + 1 conditional; other neurons: 1 conditional (skipped).
  * neuron ``g`` of layer ``l - 1`` receiving desire: float ``S = sum_h W[h, g] e_h`` over
    the propagating ``h`` (1 multiplication + 1 addition each); integer bit-plane sum: one
    addition per set bit of each ``k_h``, one shift and one addition per further bit plane;
    then ``|S| >= theta_hid``: 2 conditionals.
Update:
  * every LIF neuron: 1 conditional (``d != 0`` and not dropped).  An updated neuron then
    visits its synapses whose trace is non-zero at one of its spike times: one addition per
    such (spike time, synapse) pair for ``sum_t s[t] r[t]``; float: 1 multiplication
    (``lr * ...``) and 1 addition per synapse; integer: per learning-rate term after the
    first 1 shift + 1 addition, rounding 1 addition + 1 shift, 1 (saturating) addition.
    (With ``rounding = "stochastic"`` each updated weight also draws one xorshift32 number:
    3 shifts, 3 exclusive-ors and 1 and, not counted here.)

A saturating addition counts as one addition; loop control and indexing are not counted.

Analytic columns: the paper's Table 3 per neuron (``docs/spec.md``, "The paper's figures and
tables": forward 1 mul, ``T*I`` add, ``T*I`` cond; backward 0 mul, ``2*O`` add, 1 cond; update 1
mul, 1 cond) with ``I`` the neuron's inputs and ``O`` its outputs, and conventional ANN backprop of
the same network with batch size 1 (our formula: forward ``I`` mul + ``I`` add + 1 cond (ReLU);
backward ``O`` mul + ``O`` add + 1 cond (ReLU derivative) for hidden neurons, 1 add for an output
neuron (``y - t``); update ``I + 1`` mul (``lr * delta`` once, then ``* x_i``) + ``I + 1`` add
(weights and bias)).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config, ConfigError
from .engine import reference

__all__ = [
    "Ops",
    "count_operations",
    "table3",
    "format_table",
    "measure_table3",
    "write_table3",
    "OPS",
]

OPS = ("mul", "add", "cond", "shift")
PHASES = ("forward", "backward", "update")


@dataclass
class Ops:
    """Operation counts (totals over a layer's neurons and the counted samples)."""

    mul: float = 0.0
    add: float = 0.0
    cond: float = 0.0
    shift: float = 0.0

    def __iadd__(self, other: Ops) -> Ops:
        for k in OPS:
            setattr(self, k, getattr(self, k) + getattr(other, k))
        return self

    def scaled(self, f: float) -> Ops:
        """Every count times ``f``."""
        return Ops(*(getattr(self, k) * f for k in OPS))

    def as_dict(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in OPS}


def _trace_ops(spikes_out: np.ndarray, alive: np.ndarray, integer: bool) -> Ops:
    """Trace upkeep of the neurons whose spikes ``(T, n)`` feed the next layer."""
    T = spikes_out.shape[0]
    n_alive = int(alive.sum())
    n_spk = int(spikes_out[:, alive].sum())
    if integer:
        return Ops(add=T * n_alive + n_spk, shift=T * n_alive)
    return Ops(mul=T * n_alive, add=n_spk)


def _sample_ops(
    cfg: Config,
    spikes: list[np.ndarray],
    inputs: list[np.ndarray],
    traces: list[np.ndarray],
    counts: list[np.ndarray],
    desire: list[np.ndarray],
    masks: list[np.ndarray],
    x_nonzero: np.ndarray,
    integer: bool,
    kk: list[np.ndarray | None],
    lr_terms: int,
    round_shift: list[bool],
) -> dict[tuple[str, int], Ops]:
    """Counts of one training sample per (phase, layer); layer 0 is the input encoder."""
    T, sizes = cfg.T, cfg.sizes
    L = len(sizes) - 1
    out: dict[tuple[str, int], Ops] = {(p, ly): Ops() for p in PHASES for ly in range(L + 1)}
    # ---- forward: encoder
    live0 = x_nonzero & masks[0]
    n0 = int(live0.sum())
    out["forward", 0] += Ops(add=T * n0 + int(spikes[0].sum()), cond=T * n0 + (sizes[0] - n0))
    out["forward", 0] += _trace_ops(spikes[0], live0, integer)
    # ---- forward: LIF layers
    for layer in range(1, L + 1):
        alive = masks[layer]
        na = int(alive.sum())
        arriving = inputs[layer].astype(bool).sum(axis=1)  # (T,) pre-synaptic spikes per step
        ops = Ops(
            add=int(arriving.sum()) * na + int(spikes[layer].sum()),
            cond=T * na + (sizes[layer] - na),
        )
        if integer:
            ops += Ops(add=T * na, shift=T * na)
        else:
            ops += Ops(mul=T * na)
            c = 1.0 / (1.0 - cfg.dropout(layer - 1))
            if c != 1.0:
                ops += Ops(mul=int((arriving > 0).sum()) * na)
        out["forward", layer] += ops
        if layer < L:
            out["forward", layer] += _trace_ops(spikes[layer], alive, integer)
    # ---- backward: output layer desire
    nL = sizes[L]
    out["backward", L] += Ops(cond=nL) if integer else Ops(mul=nL, add=1, cond=nL)
    # ---- backward: hidden desire
    for layer in range(L, 1, -1):
        d = desire[layer - 1]
        prop = (d != 0) & masks[layer]
        n_prop = int(prop.sum())
        if integer:
            k = kk[layer]
            assert k is not None
            prop = prop & (k != 0)
            out["backward", layer] += Ops(add=n_prop, cond=sizes[layer])
            bits = [
                int(((k[prop] >> b) & 1).sum()) for b in range(max(1, int(k.max()).bit_length()))
            ]
            planes = sum(1 for c in bits if c > 0)
            per_g = Ops(add=sum(bits) + max(0, planes - 1), shift=max(0, planes - 1), cond=2)
        else:
            out["backward", layer] += Ops(mul=n_prop, add=n_prop, cond=sizes[layer])
            per_g = Ops(mul=n_prop, add=n_prop, cond=2)
        out["backward", layer - 1] += per_g.scaled(sizes[layer - 1])
    # ---- update
    for layer in range(1, L + 1):
        d = desire[layer - 1]
        upd = reference.updated_neurons(d, masks[layer], spikes[layer], cfg.potentiation_cap)
        ops = Ops(cond=sizes[layer])
        if upd.any():
            s = spikes[layer][:, upd].astype(np.int64)  # (T, n_upd)
            nz = (traces[layer] != 0).astype(np.int64)  # (T, n_in)
            pairs = s.T @ nz  # (n_upd, n_in): post-spike times with a non-zero trace
            n_pairs = int(pairs.sum())
            n_syn = int((pairs > 0).sum())
            if integer:
                extra = lr_terms - 1
                rnd = 1 if round_shift[layer - 1] else 0
                ops += Ops(add=n_pairs + n_syn * (extra + rnd + 1), shift=n_syn * (extra + rnd))
            else:
                ops += Ops(mul=n_syn, add=n_pairs + n_syn)
        out["update", layer] += ops
    return out


def count_operations(
    cfg: Config,
    weights: list[np.ndarray],
    images: np.ndarray,
    labels: np.ndarray,
    masks: list[list[np.ndarray]],
    lr: float,
    arithmetic: str = "float",
    int_spec: Any = None,
) -> dict[tuple[str, int], Ops]:
    """Train on ``images`` one by one (readable engine) and count every sample's operations.

    Args:
        weights: float weights ``(n_out, n_in)`` (copied; the copy is trained).
        images: ``(N, n_0)`` uint8 bytes; labels ``(N,)``.
        masks: per sample, the dropout masks per layer.
        lr: learning rate of the counted epoch.
        arithmetic: ``"float"`` (the specification's float32 algorithm) or ``"int"`` (integer mode).
        int_spec: :class:`desire_bp.integer.IntSpec` for ``"int"`` (default: 16-bit).
    Returns:
        totals over the samples per ``(phase, layer)``; layer 0 is the input encoder.
    """
    L = len(cfg.sizes) - 1
    total: dict[tuple[str, int], Ops] = {(p, ly): Ops() for p in PHASES for ly in range(L + 1)}
    if arithmetic == "int":
        from . import integer as ints

        spec = int_spec or ints.IntSpec()
        W, frac = ints.quantize(weights, spec)
        cfg_i = cfg.replace(integer=spec)
        P = ints.make_params(cfg_i, spec, frac)
        lrs = ints.lr_to_shifts(lr, spec.lr_terms)
        round_shift = [lrs.a + P.trace_frac - f > 0 for f in frac]
    else:
        W = [np.array(w, np.float32) for w in weights]
    from .progress import bar

    for s in bar(range(len(labels)), desc=f"counting operations ({arithmetic})", unit="sample"):
        x, label, m = images[s], int(labels[s]), masks[s]
        if arithmetic == "int":
            stoch = spec.rounding == "stochastic"
            fwd, desire = ints.train_sample_int(W, x, label, cfg_i, P, m, lrs, stoch)
            kk: list[np.ndarray | None] = [None, None]
            for layer in range(2, L + 1):
                d, n = desire[layer - 1], fwd.counts[layer].astype(np.int64)
                kk.append(np.abs(np.where(d == 1, P.denom, 0) - n))  # |k_h|, both error forms
            ins = [None, *fwd.inputs[1:]]
            ops = _sample_ops(
                cfg, fwd.spikes, ins, fwd.traces, fwd.counts, desire, m,
                np.asarray(x) > 0, True, kk, spec.lr_terms, round_shift,
            )  # fmt: skip
        else:
            xf = np.asarray(x, np.float32) / np.float32(255.0)
            fwd, desire = reference.train_sample(W, xf, label, cfg, m, lr)
            ops = _sample_ops(
                cfg, fwd.spikes, fwd.inputs, fwd.traces, fwd.counts, desire, m,
                xf > 0, False, [], 1, [],
            )  # fmt: skip
        for key, v in ops.items():
            total[key] += v
    return total


def _analytic(cfg: Config, layer: int) -> dict[str, dict[str, float]]:
    """Paper Table 3 and conventional ANN backprop per neuron of ``layer`` (``I``, ``O``)."""
    sizes, T = cfg.sizes, cfg.T
    L = len(sizes) - 1
    if layer == 0:
        n_in, n_out = 1, sizes[1]
    else:
        n_in, n_out = sizes[layer - 1], (sizes[layer + 1] if layer < L else 0)
    paper = {
        "forward": {"mul": 1, "add": T * n_in, "cond": T * n_in},
        "backward": {"mul": 0, "add": 2 * n_out, "cond": 1},
        "update": {"mul": 1, "add": 0, "cond": 1},
    }
    if layer == 0:  # the ANN has no encoder; the paper's table does not cover it either
        ann = {p: {"mul": 0, "add": 0, "cond": 0} for p in PHASES}
        paper = {
            p: {"mul": float("nan"), "add": float("nan"), "cond": float("nan")} for p in PHASES
        }
    else:
        bwd = (
            {"mul": n_out, "add": n_out, "cond": 1}
            if layer < L
            else {"mul": 0, "add": 1, "cond": 0}
        )
        ann = {
            "forward": {"mul": n_in, "add": n_in, "cond": 1},
            "backward": bwd,
            "update": {"mul": n_in + 1, "add": n_in + 1, "cond": 0},
        }
    return {"paper": paper, "ann": ann, "I": n_in, "O": n_out}


def table3(
    cfg: Config,
    weights: list[np.ndarray],
    samples: int = 100,
    arithmetic: str = "float",
    epoch: int = 0,
    data_dir: str | Path | None = None,
    int_spec: Any = None,
    data: Any = None,
) -> list[dict[str, Any]]:
    """Measured operations per neuron per sample next to the analytic Table 3 and ANN BP.

    The first ``samples`` samples of epoch ``epoch``'s visiting order of the training set
    (``epoch_rng(seed, epoch)``: permutation, then dropout masks), trained one by one.

    Returns:
        rows with ``phase``, ``layer`` (``"input"``, ``"1"``.. or ``"network"`` for totals per
        sample), ``neurons``, ``I``, ``O``, measured ``mul/add/cond/shift`` per neuron per
        sample (``network``: per sample), ``paper_*`` and ``ann_*``.
    """
    from .training import epoch_rng

    if data is None:
        from .data import load_dataset

        data = load_dataset(cfg.dataset, "train", data_dir)
    if not 1 <= samples <= len(data.labels):
        raise ConfigError(
            f"samples = {samples}: must be in 1..{len(data.labels)} (the {cfg.dataset} "
            "training set)"
        )
    rng = epoch_rng(cfg.seed, epoch)
    order = rng.permutation(len(data.labels))[:samples]
    mb = reference.draw_mask_block(cfg, rng, len(order))
    masks = [[m[k] for m in mb] for k in range(len(order))]
    images = np.asarray(data.images)[order].reshape(len(order), -1)
    labels = np.asarray(data.labels)[order]
    total = count_operations(
        cfg, weights, images, labels, masks, cfg.lr_at(epoch), arithmetic, int_spec
    )
    L = len(cfg.sizes) - 1
    rows: list[dict[str, Any]] = []
    for phase in PHASES:
        net = {k: 0.0 for k in ("mul", "add", "cond", "shift")}
        net_paper = {k: 0.0 for k in ("mul", "add", "cond")}
        net_ann = {k: 0.0 for k in ("mul", "add", "cond")}
        for layer in range(L + 1):
            n = cfg.sizes[layer]
            meas = total[phase, layer].scaled(1.0 / (n * len(order))).as_dict()
            an = _analytic(cfg, layer)
            row: dict[str, Any] = {
                "arithmetic": arithmetic,
                "phase": phase,
                "layer": "input" if layer == 0 else str(layer),
                "neurons": n,
                "I": an["I"],
                "O": an["O"],
                **meas,
            }
            for k in ("mul", "add", "cond"):
                row[f"paper_{k}"] = an["paper"][phase][k]
                row[f"ann_{k}"] = an["ann"][phase][k]
                if layer > 0:
                    net_paper[k] += an["paper"][phase][k] * n
                net_ann[k] += an["ann"][phase][k] * n
            for k in net:
                net[k] += meas[k] * n
            rows.append(row)
        rows.append(
            {
                "arithmetic": arithmetic,
                "phase": phase,
                "layer": "network",
                "neurons": sum(cfg.sizes),
                "I": "",
                "O": "",
                **net,
                **{f"paper_{k}": v for k, v in net_paper.items()},
                **{f"ann_{k}": v for k, v in net_ann.items()},
            }
        )
    return rows


def _fmt(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v != v:  # NaN
        return "-"
    if abs(v) >= 1e5:
        return f"{v:.3g}"
    return f"{v:.1f}" if abs(v - round(v)) > 1e-9 else f"{int(round(v))}"


def format_table(rows: list[dict[str, Any]]) -> str:
    """Plain-text table of :func:`table3` rows."""
    head = (
        f"{'arith':<6}{'phase':<9}{'layer':<8}{'I':>6}{'O':>6} | {'mul':>9}{'add':>10}"
        f"{'cond':>9}{'shift':>9} | {'paper mul':>9}{'add':>9}{'cond':>9} | "
        f"{'ANN mul':>9}{'add':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['arithmetic']:<6}{r['phase']:<9}{r['layer']:<8}{_fmt(r['I']):>6}"
            f"{_fmt(r['O']):>6} | {_fmt(r['mul']):>9}{_fmt(r['add']):>10}{_fmt(r['cond']):>9}"
            f"{_fmt(r['shift']):>9} | {_fmt(r['paper_mul']):>9}{_fmt(r['paper_add']):>9}"
            f"{_fmt(r['paper_cond']):>9} | {_fmt(r['ann_mul']):>9}{_fmt(r['ann_add']):>9}"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- whole table


def measure_table3(
    checkpoint: str | Path | None,
    preset_name: str | None,
    samples: int,
    arithmetic: str,
    data_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Table 3 of a checkpoint (its weights and config) or of a preset's initial weights.

    Args:
        arithmetic: ``"float"``, ``"int"`` or ``"both"``.
    Returns:
        ``name`` (file stem of the source), ``samples``, ``source``, ``config`` (a
        dictionary), ``epoch`` (epochs of training behind the weights) and ``rows`` (of
        :func:`table3`).
    """
    from .config import preset

    int_spec = None
    epoch = 0
    if checkpoint:
        from .checkpoint import load_checkpoint

        ck = load_checkpoint(checkpoint)
        cfg, weights = ck.config, ck.weights
        epoch = int(ck.meta.get("epoch", -1)) + 1
        name = Path(checkpoint).stem
        int_spec = cfg.integer
    else:
        from .engine import Network

        cfg = preset(preset_name)
        weights = Network.init(cfg).weights
        name = preset_name
    arith = ["float", "int"] if arithmetic == "both" else [arithmetic]
    rows: list[dict[str, Any]] = []
    for a in arith:
        rows += table3(cfg, weights, samples, a, epoch, data_dir, int_spec)
    return {
        "name": name,
        "samples": samples,
        "source": str(checkpoint or f"preset {preset_name} (initial weights)"),
        "config": cfg.to_dict(),
        "epoch": epoch,
        "rows": rows,
    }


def write_table3(result: dict[str, Any], out_dir: str | Path, arithmetic: str) -> Path:
    """Write :func:`measure_table3`'s result as ``table3-<name>-<arithmetic>.csv`` and ``.json``
    into ``out_dir``; returns the common stem."""
    rows = result["rows"]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"table3-{result['name']}-{arithmetic}"
    with open(stem.with_suffix(".csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    meta = {k: v for k, v in result.items() if k != "name"}
    stem.with_suffix(".json").write_text(json.dumps(meta, indent=1) + "\n")
    return stem
