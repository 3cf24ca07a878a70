"""Import checkpoints of the authors' original PyTorch implementation (SPEC.md, last sections).

Their ``.pt`` files are pickled dictionaries: the state dict itself, or ``{"state":
state_dict, "pars": namespace}``.  The LIF layers' weights are under ``layers.{k}.weights``,
shape ``(n_out, n_in)``, ``k`` counting the input and flatten layers too.  Reading them needs
``torch.load(..., weights_only=False)`` -- i.e. unpickling, which can run code -- so this is an
explicit step the user asks for (``desire-bp import-torch``), never the default loader.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, save_checkpoint
from .config import PRESETS, Config, preset

__all__ = ["weights_from_state_dict", "import_torch_checkpoint"]

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


def import_torch_checkpoint(
    path: str | Path, out: str | Path, preset_name: str | None = None
) -> Config:
    """Convert an original ``.pt`` checkpoint into a desire-bp ``.npz`` checkpoint.

    Args:
        path: the ``.pt`` file (unpickled with ``weights_only=False``: only for trusted files).
        out: the ``.npz`` to write.
        preset_name: hyper-parameters to attach; default: the preset whose layer sizes match
            (MNIST's otherwise), with the sizes read from the file.

    Returns:
        the configuration stored with the weights.
    """
    try:
        import torch
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise CheckpointError(
            "import-torch needs PyTorch: pip install 'desire-bp[torch]' (torch==2.13.0)"
        ) from e
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # torch raises many types for foreign/corrupt files
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({e})") from e
    if isinstance(obj, dict) and "state" in obj and isinstance(obj["state"], dict):
        state = obj["state"]
    elif isinstance(obj, dict):
        state = obj
    else:
        raise CheckpointError(
            f"{path}: expected a dict (state dict or {{'state', 'pars'}}), got {type(obj).__name__}"
        )
    weights = weights_from_state_dict(state, str(path))
    sizes = (weights[0].shape[1], *(w.shape[0] for w in weights))
    cfg = preset(preset_name or _guess_preset(sizes), sizes=sizes)
    save_checkpoint(out, weights, cfg, {"imported_from": str(path)})
    return cfg
