"""Train desire backpropagation on your own data through the Python API.

The data set here is synthetic, built with NumPy: 8 x 8 images of a bright bar, horizontal,
vertical or along one of the two diagonals (four classes), at a random position, with noise.
Any data works the same way: ``train(cfg, run_dir, data=(train, test))`` takes two objects
with

* ``images``: an array of shape ``(N, n_in)`` (or ``(N, h, w)``, flattened), ``uint8`` bytes
  (divided by 255) or floats in [0, 1]: the firing probability of each input per time step;
* ``labels``: integers ``0 .. n_classes - 1`` of shape ``(N,)``;

and the config's first and last layer sizes must be ``n_in`` and ``n_classes``.

Run:  python examples/own_data.py [RUN_DIR]     (a few seconds once Numba's compiled kernels are
cached; default RUN_DIR: a temporary directory, removed afterwards)
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from desire_bp import preset
from desire_bp.training import train

SIDE = 8
CLASSES = ("horizontal", "vertical", "diagonal", "anti-diagonal")


def bars(n: int, rng: np.random.Generator) -> SimpleNamespace:
    """``n`` noisy 8 x 8 bar images (uint8, flattened to 64 pixels) and their classes."""
    labels = rng.integers(len(CLASSES), size=n)
    images = rng.integers(0, 60, size=(n, SIDE, SIDE))  # background noise
    idx = np.arange(SIDE)
    for img, label in zip(images, labels, strict=True):
        k = rng.integers(SIDE)
        if label == 0:
            img[k, :] = 255
        elif label == 1:
            img[:, k] = 255
        elif label == 2:
            img[idx, idx] = 255
        else:
            img[idx, SIDE - 1 - idx] = 255
    return SimpleNamespace(images=images.reshape(n, SIDE * SIDE).astype(np.uint8), labels=labels)


def main(run_dir: Path) -> float:
    rng = np.random.default_rng(0)
    train_set, test_set = bars(2000, rng), bars(500, rng)
    # The MNIST preset's hyper-parameters with this data's layer sizes: 64 inputs, 4 classes.
    # Fewer neurons per layer than MNIST's and a larger learning rate suit this small problem.
    cfg = preset("mnist", sizes=(SIDE * SIDE, 40, len(CLASSES)), epochs=5, lr=1e-3, p_hid=0.1)
    net, rows = train(cfg, run_dir, data=(train_set, test_set), progress=False)
    ev = net.evaluate(test_set.images, test_set.labels)
    print(
        f"test accuracy {ev.accuracy:.1f} % (chance 25 %); per class: "
        + ", ".join(f"{c} {a:.0f} %" for c, a in zip(CLASSES, ev.per_class, strict=True))
    )
    print(f"run directory {run_dir}: config.json, metrics.jsonl, checkpoint.npz, best.npz")
    return ev.accuracy


if __name__ == "__main__":
    if len(sys.argv) > 1:
        main(Path(sys.argv[1]))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            main(Path(tmp) / "run")
