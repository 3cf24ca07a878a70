"""Network.predict: the strict-maximum class, -1 on a tie."""

from __future__ import annotations

import numpy as np

from desire_bp.config import Config
from desire_bp.engine import Network, predictions_from_counts


def test_predict_is_the_strict_maximum_of_forward_batch():
    cfg = Config(sizes=(4, 3), T=5, p_hid=0.0)
    # output 0 sees input 0 only, output 1 input 1, output 2 inputs 0 and 1 at half weight
    W = [np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0.5, 0.5, 0, 0]], np.float32)]
    net = Network(W, cfg)
    X = np.array([[1.0, 0.2, 0, 0], [0.2, 1.0, 0, 0], [1.0, 1.0, 0, 0], [0, 0, 0, 0]], np.float32)
    counts = net.forward_batch(X)
    pred = net.predict(X)
    assert pred.dtype == np.int64 and pred.shape == (4,)
    assert pred.tolist() == predictions_from_counts(counts).tolist()
    assert pred[:2].tolist() == [0, 1]
    assert pred[2] == -1 and pred[3] == -1  # ties: all three fire alike / nothing fires
    assert net.predict(X[:0]).shape == (0,)
    assert net.predict((X[None, 0] * 255).astype(np.uint8)).tolist() == [0]


def test_predict_is_shared_by_the_integer_network():
    """``predict`` lives on NetworkBase: the integer network has it too."""
    from desire_bp.config import preset
    from desire_bp.integer import IntegerNetwork

    inet = IntegerNetwork.init(preset("mnist", sizes=(49, 30, 10), T=10))
    X = np.random.default_rng(1).integers(0, 256, size=(20, 49)).astype(np.uint8)
    pred = inet.predict(X)
    assert pred.dtype == np.int64
    assert pred.tolist() == predictions_from_counts(inet.forward_batch(X)).tolist()
    assert inet.predict(X[:0]).shape == (0,)


def test_base_package_does_not_import_torch():
    """desire_bp, its NIR export and interop modules and the CLI import torch only when running
    it."""
    import subprocess
    import sys

    code = (
        "import sys, desire_bp, desire_bp.engine, desire_bp.nir_export, desire_bp.interop, "
        "desire_bp.cli; assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
