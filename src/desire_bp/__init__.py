"""desire-bp: desire backpropagation for multi-layer spiking neural networks.

Public API:

* :class:`Config`, :func:`preset` -- hyper-parameters (the specification's table and
  presets, ``docs/spec.md``).
* :class:`Network` -- build / train one sample / evaluate / save / load.
* :mod:`desire_bp.engine.reference` -- the readable engine (executable spec).
* :mod:`desire_bp.data` -- MNIST / Fashion-MNIST loading and fetching.
* :mod:`desire_bp.training` -- the training loop and run directories.
"""

from .config import PRESETS, Config, ConfigError, preset
from .engine import Evaluation, Network, SampleResult

__version__ = "0.1.0"

__all__ = [
    "Config",
    "ConfigError",
    "Evaluation",
    "Network",
    "PRESETS",
    "SampleResult",
    "preset",
    "__version__",
]
