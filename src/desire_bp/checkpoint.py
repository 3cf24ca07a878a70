"""Checkpoints: NumPy ``.npz`` archives without pickle, written atomically.

Layout of a checkpoint file:

* ``W1 .. WL``: float32 weights, ``W_l`` of shape ``(n_l, n_{l-1})`` (the
  specification's orientation).
* ``config``: the run's :class:`~desire_bp.config.Config` as a JSON string.
* ``meta``: a JSON object (epoch, metrics, format version, ...).

Every value is a plain array (strings as NumPy unicode scalars), so ``np.load(...,
allow_pickle=False)`` reads it and nothing executes code on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .config import Config, ConfigError, InitFrom

FORMAT = "desire-bp-checkpoint"
VERSION = 1

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "atomic_write",
    "file_sha256",
    "load_checkpoint",
    "load_start",
    "save_checkpoint",
    "start_from",
]


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or inconsistent; the message names the file."""


@dataclass
class Checkpoint:
    """Contents of a checkpoint: weights ``(n_out, n_in)`` float32, config, metadata."""

    weights: list[np.ndarray]
    config: Config
    meta: dict[str, Any] = field(default_factory=dict)


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], object] | bytes) -> None:
    """Call ``write(file_object)`` (or write the bytes ``write``) on a temporary file beside
    ``path``, then rename it over.

    An interruption leaves either the old file or the complete new one, never a partial file.
    """
    if isinstance(write, bytes):
        data = write

        def write(f: BinaryIO) -> None:
            f.write(data)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; use the usual mode
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save_checkpoint(
    path: str | os.PathLike,
    weights: list[np.ndarray],
    config: Config,
    meta: dict[str, Any] | None = None,
    compress: bool = False,
) -> None:
    """Write a checkpoint atomically.

    Args:
        weights: ``(n_out, n_in)`` arrays, one per LIF layer (stored as float32).
        meta: JSON-serialisable metadata (epoch, accuracies, ...).
        compress: zip-deflate the arrays (smaller, slower).
    """
    meta = dict(meta or {})
    meta.setdefault("format", FORMAT)
    meta.setdefault("version", VERSION)
    arrays = {f"W{k}": np.asarray(w, dtype=np.float32) for k, w in enumerate(weights, start=1)}
    arrays["config"] = np.array(json.dumps(config.to_dict()))
    arrays["meta"] = np.array(json.dumps(meta))
    saver = np.savez_compressed if compress else np.savez
    atomic_write(path, lambda f: saver(f, **arrays))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read and validate a checkpoint (shapes against the stored config, finite weights)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            files = set(z.files)
            if "config" not in files:
                raise CheckpointError(
                    f"checkpoint {path}: no 'config' entry; not a desire-bp checkpoint "
                    "(original PyTorch .pt files need `desire-bp import-torch`)"
                )
            cfg = Config.from_dict(json.loads(str(z["config"])))
            meta = json.loads(str(z["meta"])) if "meta" in files else {}
            weights = []
            for k in range(1, len(cfg.sizes)):
                if f"W{k}" not in files:
                    raise CheckpointError(f"checkpoint {path}: weight array W{k} missing")
                w = z[f"W{k}"]
                want = (cfg.sizes[k], cfg.sizes[k - 1])
                if w.shape != want:
                    raise CheckpointError(
                        f"checkpoint {path}: W{k} has shape {w.shape}, config says {want}"
                    )
                if w.dtype != np.float32:
                    raise CheckpointError(f"checkpoint {path}: W{k} is {w.dtype}, not float32")
                if not np.isfinite(w).all():
                    raise CheckpointError(f"checkpoint {path}: W{k} contains NaN or infinity")
                weights.append(w)
    except CheckpointError:
        raise
    except (ConfigError, json.JSONDecodeError, TypeError) as e:
        raise CheckpointError(f"checkpoint {path}: bad config/meta entry: {e}") from e
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        why = "it would need unpickling, which is never done" if "pickle" in str(e) else e
        raise CheckpointError(f"checkpoint {path}: not a readable .npz archive ({why})") from e
    return Checkpoint(weights, cfg, meta)


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of the file ``path``, as a hex string (read in 1 MiB blocks)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def start_from(path: str | os.PathLike) -> tuple[InitFrom, list[np.ndarray]]:
    """The weights of checkpoint ``path`` as the start of a new run (``train --init-from``),
    with the record of where they came from (path, epoch index, SHA-256 of the file) that the
    new run's config keeps as ``init_from``."""
    ck = load_checkpoint(path)
    return InitFrom(str(path), ck.meta.get("epoch"), file_sha256(path)), ck.weights


def load_start(origin: InitFrom, where: str | os.PathLike) -> list[np.ndarray]:
    """The weights a run recorded as its ``init_from`` origin, read back from that file.

    Raises:
        CheckpointError: the file is gone, or its SHA-256 is no longer the recorded one (the
            message names ``where``, the run or checkpoint asking, and the file).
    """
    src = Path(origin.path)
    if not src.is_file():
        raise CheckpointError(f"{where}: its run started from {src}, which no longer exists")
    if origin.sha256 and file_sha256(src) != origin.sha256:
        raise CheckpointError(
            f"{where}: its run started from {src}, which has changed since (SHA-256 differs)"
        )
    return load_checkpoint(src).weights
