"""Probe: where do the hidden layers' desires fall, on saturated and on silent neurons?

The weight update (``docs/spec.md``, "Weight update") changes a neuron's weights only when it
spikes, by its desire: a neuron desired to fire more (``d = +1``) that already fires at every
step keeps being potentiated without its spikes changing, and a silent neuron desired to fire
less (``d = -1``) is not changed at all. This script measures how often that happens, in
evaluation mode (no dropout) on the first ``--samples`` test images, for each checkpoint
given::

    python scripts/probe_saturation.py results/figures/fig4-full/trials/000_N=25/checkpoint.npz

One JSON line per checkpoint and hidden layer: the fraction of (sample, neuron) pairs that are
saturated (at least ``T - 1`` spikes) or silent, the neurons saturated on every sample, the
fractions with desire +1 and -1, and the desire +1 among the saturated pairs and -1 among
the silent ones.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from desire_bp.analysis import desires, forward_counts
from desire_bp.checkpoint import load_checkpoint
from desire_bp.data import load_dataset


def _fraction(mask: np.ndarray) -> float | None:
    return round(float(mask.mean()), 4) if mask.size else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint.npz or best.npz files")
    ap.add_argument("--samples", type=int, default=2000, help="test images to use (2000)")
    args = ap.parse_args()
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        cfg = ck.config
        test = load_dataset(cfg.dataset, "test").subset(args.samples)
        counts = forward_counts(ck.weights, test.images, cfg)
        desire = desires(ck.weights, counts, test.labels, cfg)
        for layer in range(1, len(cfg.sizes) - 1):
            c, d = counts[layer], desire[layer]
            saturated, silent = c >= cfg.T - 1, c == 0
            row = {
                "checkpoint": str(path),
                "epoch": int(ck.meta["epoch"]) + 1,
                "test_accuracy": ck.meta["metrics"]["test_accuracy"],
                "layer": layer,
                "neurons": int(c.shape[1]),
                "saturated": _fraction(saturated),
                "silent": _fraction(silent),
                "always_saturated_neurons": int(saturated.all(axis=0).sum()),
                "desire_plus": _fraction(d == 1),
                "desire_minus": _fraction(d == -1),
                "desire_plus_when_saturated": _fraction((d == 1)[saturated]),
                "desire_minus_when_silent": _fraction((d == -1)[silent]),
            }
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
