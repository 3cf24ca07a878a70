"""The float engine: the readable reference, the fast kernels and the :class:`Network` over both.

* :mod:`desire_bp.engine.reference` -- the specification (``docs/spec.md``) equation by equation
  in NumPy float32: the executable specification.
* :mod:`desire_bp.engine.kernels` -- the same semantics as event-driven Numba kernels,
  bit-identical to the reference; their type-generic parts serve the integer engine too.
* :mod:`desire_bp.engine.network` -- :class:`Network`, the public API over both, and
  :class:`NetworkBase`, what the float and integer networks share.
"""

from .network import (
    ENGINES,
    Evaluation,
    Network,
    NetworkBase,
    SampleResult,
    init_rng,
    pixel_matrix,
    predictions_from_counts,
    to_float_pixels,
)

__all__ = [
    "ENGINES",
    "Evaluation",
    "Network",
    "NetworkBase",
    "SampleResult",
    "init_rng",
    "pixel_matrix",
    "predictions_from_counts",
    "to_float_pixels",
]
