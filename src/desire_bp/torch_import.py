"""Import checkpoints of the authors' original PyTorch implementation (``docs/spec.md``,
"Checkpoints of the original implementation").

Their ``.pt`` files are pickled dictionaries: the state dict itself, or ``{"state":
state_dict, "pars": namespace}``.  The LIF layers' weights are under ``layers.{k}.weights``,
shape ``(n_out, n_in)``, ``k`` counting the input and flatten layers too.  They are read with
``torch.load(..., weights_only=True)``: PyTorch's restricted unpickler, which builds tensors and
plain containers only and executes nothing; the one foreign class of the authors' files,
``argparse.Namespace`` (their hyper-parameters under ``"pars"``), is allowed explicitly.  A
file that needs anything else is refused with a :class:`CheckpointError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, save_checkpoint
from .config import PRESETS, Config, preset

__all__ = ["weights_from_state_dict", "load_torch_weights", "import_torch_checkpoint"]

_KEY = re.compile(r"^layers\.(\d+)\.weights$")


def weights_from_state_dict(state: dict[str, Any], source: str = "state dict") -> list[np.ndarray]:
    """The LIF weights of an original state dict, in layer order, as float32 ``(n_out, n_in)``.

    Raises:
        CheckpointError: no ``layers.{k}.weights`` keys, or shapes that do not chain.
    """
    found = []
    for key, value in state.items():
        m = _KEY.match(str(key))
        if m:
            arr = value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value)
            found.append((int(m.group(1)), key, arr))
    if not found:
        keys = ", ".join(sorted(map(str, state))[:8])
        raise CheckpointError(f"{source}: no 'layers.K.weights' entries (keys: {keys} ...)")
    found.sort()
    weights = []
    for _k, key, arr in found:
        if arr.ndim != 2:
            raise CheckpointError(f"{source}: {key} has shape {arr.shape}, expected 2-D")
        if weights and arr.shape[1] != weights[-1].shape[0]:
            raise CheckpointError(
                f"{source}: {key} has {arr.shape[1]} inputs but the previous layer has "
                f"{weights[-1].shape[0]} neurons"
            )
        if not np.isfinite(arr).all():
            raise CheckpointError(f"{source}: {key} contains NaN or infinity")
        weights.append(np.ascontiguousarray(arr, dtype=np.float32))
    return weights


def _guess_preset(sizes: tuple[int, ...]) -> str:
    for name, cfg in PRESETS.items():
        if cfg.sizes == sizes:
            return name
    return "mnist"


def _plain(d: dict[str, Any]) -> dict[str, Any]:
    """``d`` with every value JSON-serialisable (anything else, e.g. a device, as text)."""
    plain = (int, float, str, bool, list, dict, type(None))
    return {str(k): v if isinstance(v, plain) else str(v) for k, v in d.items()}


def load_torch_weights(path: str | Path) -> tuple[list[np.ndarray], dict[str, Any] | None]:
    """The LIF weights of an original ``.pt`` file and its hyper-parameters, if it has any.

    Returns:
        ``(weights, pars)``: float32 ``(n_out, n_in)`` arrays in layer order, and the
        ``"pars"`` namespace of a best-epoch file as a dictionary (``None`` for a plain state
        dict).

    Raises:
        CheckpointError: torch missing, no such file, a file that the restricted unpickler
            refuses (it would need to run code), or no weights in it.
    """
    import argparse

    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise CheckpointError(
            "reading PyTorch checkpoints needs PyTorch: pip install 'desire-bp[torch]'"
        ) from e
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for foreign/corrupt files
        raise CheckpointError(
            f"{path}: not a PyTorch checkpoint that can be read safely (state dict or "
            f"{{'state', 'pars'}}; nothing in it was executed): "
            f"{(str(e).splitlines() or [type(e).__name__])[0]}"
        ) from e
    pars = None
    if isinstance(obj, dict) and "state" in obj and isinstance(obj["state"], dict):
        state, p = obj["state"], obj.get("pars")
        if p is not None:
            pars = _plain(vars(p) if hasattr(p, "__dict__") else {"pars": p})
    elif isinstance(obj, dict):
        state = obj
    else:
        raise CheckpointError(
            f"{path}: expected a dict (state dict or {{'state', 'pars'}}), got {type(obj).__name__}"
        )
    return weights_from_state_dict(state, str(path)), pars


def import_torch_checkpoint(
    path: str | Path, out: str | Path, preset_name: str | None = None
) -> Config:
    """Convert an original ``.pt`` checkpoint into a desire-bp ``.npz`` checkpoint.

    Args:
        path: the ``.pt`` file (read with :func:`load_torch_weights`, nothing executed).
        out: the ``.npz`` to write.
        preset_name: hyper-parameters to attach; default: the preset whose layer sizes match
            (MNIST's otherwise), with the sizes read from the file.

    Returns:
        the configuration stored with the weights.
    """
    path = Path(path)
    weights, pars = load_torch_weights(path)
    sizes = (weights[0].shape[1], *(w.shape[0] for w in weights))
    cfg = preset(preset_name or _guess_preset(sizes), sizes=sizes)
    meta: dict[str, Any] = {"imported_from": str(path)}
    if pars is not None:
        meta["pars"] = pars
    save_checkpoint(out, weights, cfg, meta)
    return cfg
