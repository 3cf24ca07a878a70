"""Probe: where do the hidden layers' desires fall, on saturated and on silent neurons?

The weight update (``docs/spec.md``, "Weight update") changes a neuron's weights only when it
spikes, by its desire: a neuron desired to fire more (``d = +1``) that already fires at every
step keeps being potentiated without its spikes changing, and a silent neuron desired to fire
less (``d = -1``) is not changed at all. This script measures how often that happens
(:func:`desire_bp.analysis.desire_balance`), in evaluation mode (no dropout) on the first
``--samples`` test images, for each checkpoint given::

    python scripts/probe_saturation.py results/figures/fig4-full/trials/000_N=25/checkpoint.npz

One JSON line per checkpoint and hidden layer (fractions rounded to 4 digits).
"""

from __future__ import annotations

import argparse
import json

from desire_bp.analysis import activity, desire_balance
from desire_bp.checkpoint import load_checkpoint
from desire_bp.data import load_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", help="checkpoint.npz or best.npz files")
    ap.add_argument("--samples", type=int, default=2000, help="test images to use (2000)")
    args = ap.parse_args()
    for path in args.checkpoints:
        ck = load_checkpoint(path)
        test = load_dataset(ck.config.dataset, "test").subset(args.samples)
        act = activity(ck.weights, test.images, test.labels, ck.config)
        epoch = ck.meta.get("epoch")  # absent from imported checkpoints
        head = {
            "checkpoint": str(path),
            "epoch": None if epoch is None else int(epoch) + 1,
            "test_accuracy": ck.meta.get("metrics", {}).get("test_accuracy"),
        }
        for row in desire_balance(act):
            row = {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}
            print(json.dumps(head | row), flush=True)


if __name__ == "__main__":
    main()
