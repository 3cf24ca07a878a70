"""Probe: does averaging end-of-epoch weights beat the single epochs it averages?

Continues a run's checkpoint for ``--epochs`` epochs exactly as the run itself continues (its
config, its schedule, the per-epoch random streams: the single epochs reproduce the run's own
metrics bit for bit), and after every epoch prints the test accuracy of the live weights and
of the running mean of the end-of-epoch weights so far::

    python scripts/probe_averaging.py results/fashion-mnist/best.npz --epochs 8

One JSON line per epoch (``epoch`` counted from 1). One Numba thread: it is meant to run
beside long trainings.
"""

from __future__ import annotations

import argparse
import json

import numba
import numpy as np

from desire_bp.checkpoint import load_checkpoint
from desire_bp.data import load_dataset
from desire_bp.engine import Network
from desire_bp.training import train_epoch, training_arrays


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoint", help="a run's checkpoint.npz or best.npz")
    ap.add_argument("--epochs", type=int, default=8, help="epochs to continue (8)")
    args = ap.parse_args()
    numba.set_num_threads(1)
    ck = load_checkpoint(args.checkpoint)
    cfg = ck.config
    train = load_dataset(cfg.dataset, "train")
    test = load_dataset(cfg.dataset, "test").subset(cfg.test_samples)
    X, y, _ = training_arrays(cfg, train)
    net = Network([w.copy() for w in ck.weights], cfg)
    start = int(ck.meta["epoch"]) + 1
    snapshots: list[list[np.ndarray]] = []
    for k, epoch in enumerate(range(start, start + args.epochs), start=1):
        train_acc = train_epoch(net, X, y, epoch)
        snapshots.append([w.copy() for w in net.weights])
        avg = Network([np.mean(ws, axis=0) for ws in zip(*snapshots, strict=True)], cfg)
        row = {
            "epoch": epoch + 1,
            "lr": cfg.lr_at(epoch),
            "train_accuracy": train_acc,
            "test_accuracy": net.evaluate(test.images, test.labels).accuracy,
            "averaged_test_accuracy": avg.evaluate(test.images, test.labels).accuracy,
            "averaged_epochs": k,
        }
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
