"""Probe: replay epochs of a finished run from one of its checkpoints, watching the hidden layers.

Training is deterministic (each epoch's shuffle and dropout come from the seed and the epoch
number), so a run resumed from its ``best.npz`` retraces the original epochs bit for bit. This
script does that in a scratch copy of the run (the run itself is not touched), checks each
replayed epoch's accuracies against the run's ``metrics.jsonl``, and after every epoch measures,
in evaluation mode on the first ``--samples`` test images: per hidden layer the mean spike count
per neuron and image, the neurons silent on every image, and where the desires fall
(:func:`desire_bp.analysis.desire_balance`); for the output layer the target neuron's mean
count and the share of images whose top count is tied::

    python scripts/probe_replay.py results/figures/fig5-full/trials/001_T=10 --until 133

One JSON line per epoch (epochs counted from 1). ``--keep DIR`` also saves each epoch's
weights there (``NNN.npz``, arrays ``W1``, ``W2``, ...).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from desire_bp.analysis import activity, desire_balance
from desire_bp.checkpoint import load_checkpoint
from desire_bp.data import load_dataset
from desire_bp.training import read_metrics, run_config, train


class _Done(Exception):
    """Raised by the epoch hook to end the replay."""


def _summary(weights: list[np.ndarray], cfg, test) -> dict:
    act = activity(weights, test.images, test.labels, cfg)
    hidden = []
    for balance in desire_balance(act):
        layer = balance["layer"]
        c = act.counts[layer]
        hidden.append(
            {
                "layer": layer,
                "mean_count": round(float(c.mean()), 4),
                "never_firing": int((c.sum(axis=0) == 0).sum()),
                **{k: round(v, 4) for k, v in balance.items() if isinstance(v, float)},
            }
        )
    out = np.sort(act.counts[-1], axis=1)
    target = act.counts[-1][np.arange(act.n), act.labels]
    return {
        "hidden": hidden,
        "target_count": round(float(target.mean()), 3),
        "tied_top": round(float((out[:, -1] == out[:, -2]).mean()), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path, help="a run directory (or a sweep trial)")
    ap.add_argument("--start", default="best.npz", help="checkpoint in RUN to start from")
    ap.add_argument("--until", type=int, required=True, help="last epoch to replay (from 1)")
    ap.add_argument("--samples", type=int, default=2000, help="test images to measure on")
    ap.add_argument("--keep", type=Path, help="save each epoch's weights in this directory")
    args = ap.parse_args()
    start = args.run / args.start
    if not start.is_file():
        sys.exit(f"probe_replay: no checkpoint {start}")
    original = {row["epoch"]: row for row in read_metrics(args.run)}
    if args.until > len(original):
        sys.exit(f"probe_replay: {args.run} has {len(original)} epochs, not {args.until}")
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
    begun = int(load_checkpoint(start).meta["epoch"]) + 1
    if args.until <= begun:
        sys.exit(f"probe_replay: {start} is at epoch {begun}; --until must be later")
    cfg = run_config(args.run)
    test = load_dataset(cfg.dataset, "test").subset(args.samples)

    def hook(m, net) -> None:
        weights = [np.asarray(w) for w in net.weights]
        if args.keep:
            np.savez(
                args.keep / f"{m.epoch + 1:03d}.npz",
                **{f"W{i + 1}": w for i, w in enumerate(weights)},
            )
        was = original[m.epoch]
        same = (was["train_accuracy"], was["test_accuracy"]) == (m.train_accuracy, m.test_accuracy)
        row = {
            "epoch": m.epoch + 1,
            "train_accuracy": m.train_accuracy,
            "test_accuracy": m.test_accuracy,
            "as_in_the_run": same,
        }
        print(json.dumps(row | _summary(weights, cfg, test)), flush=True)
        if m.epoch + 1 >= args.until:
            raise _Done

    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(args.run / "config.json", scratch)
        shutil.copy(start, Path(scratch) / "checkpoint.npz")
        try:
            train(cfg, scratch, resume=True, progress=False, log=None, on_epoch=hook)
        except _Done:
            pass


if __name__ == "__main__":
    main()
