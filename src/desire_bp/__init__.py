"""desire-bp: desire backpropagation for multi-layer spiking neural networks.

Public API:

* :class:`Config`, :func:`preset` -- hyper-parameters (the specification's table and
  presets, ``docs/spec.md``).
* :class:`Network` -- build / train one sample / evaluate / save / load.
* :mod:`desire_bp.engine.reference` -- the readable engine (executable spec).
* :mod:`desire_bp.data` -- MNIST / Fashion-MNIST loading and fetching.
* :mod:`desire_bp.training` -- the training loop and run directories.
"""

from .config import PRESETS, SPEC_PRESETS, Config, ConfigError, preset
from .engine import Evaluation, Network, SampleResult

try:  # the installed distribution's version (pyproject.toml), one source of truth
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as _version

    __version__ = _version("desire-bp")
except PackageNotFoundError:  # pragma: no cover - imported from a source tree, not installed
    __version__ = "0+unknown"

__all__ = [
    "Config",
    "ConfigError",
    "Evaluation",
    "Network",
    "PRESETS",
    "SPEC_PRESETS",
    "SampleResult",
    "preset",
    "__version__",
]
