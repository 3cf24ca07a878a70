"""Run an exported desire-bp network through snnTorch's NIR importer (docs/nir.md).

Usage: python scripts/nir_snntorch_check.py CHECKPOINT [N]

snnTorch 1.0.0 cannot execute the full export (no Delay support; its IF import returns a
tuple), so this exports with delay=False, drops the IF encoder node and feeds the encoder's
spikes (computed here, the specification's IF with subtractive reset) at every step.  The LIF
layers then run with snnTorch's semantics (reset to zero).  Prints the accuracy next to the
engine's.
"""

from __future__ import annotations

import sys

import nir
import numpy as np
import torch
from snntorch.import_nir import import_from_nir

from desire_bp.data import load_dataset
from desire_bp.engine import Network, predictions_from_counts, to_float_pixels
from desire_bp.nir_export import to_nir

ck = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
net = Network.load(ck)
test = load_dataset(net.cfg.dataset, "test").subset(N)
X, y = to_float_pixels(test.images), np.asarray(test.labels)
g = to_nir(net.weights, net.cfg, delay=False)
nodes = {k: v for k, v in g.nodes.items() if k != "encoder"}
edges = [("input", "linear_1")] + [e for e in g.edges if "encoder" not in e]
g = nir.NIRGraph(nodes=nodes, edges=edges, metadata=g.metadata)
m = import_from_nir(g)
torch.set_num_threads(1)
v0, counts = np.zeros_like(X), 0
with torch.no_grad():
    for _t in range(net.cfg.T):
        v0 += X
        s0 = v0 >= np.float32(net.cfg.theta_p)
        v0 -= np.float32(net.cfg.theta_p) * s0
        out = m(torch.tensor(s0.astype(np.float32)))
        counts = counts + (out[0] if isinstance(out, tuple) else out)
c = counts.numpy().astype(np.int32)
ours = net.forward_batch(test.images)
print(f"engine accuracy {100 * (predictions_from_counts(ours) == y).mean():.2f}% on {N}")
print(
    f"snnTorch (no delay, reset to zero, encoder outside): "
    f"{100 * (predictions_from_counts(c) == y).mean():.2f}%"
)
