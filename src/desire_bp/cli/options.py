"""Options shared by several ``desire-bp`` sub-commands, and the usage error."""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

from ..config import (
    DATASETS,
    ENGINES,
    HIDDEN_ERRORS,
    LEAKS,
    POTENTIATIONS,
    PRESETS,
    SCHEDULES,
    Config,
    preset,
)

__all__ = [
    "CLIError",
    "OVERRIDES",
    "add_config_options",
    "config_from_args",
    "check_output",
    "dumps_json",
    "parse_sizes",
    "positive_int",
    "set_threads",
]

#: CLI option -> Config field for every numeric hyper-parameter override.
OVERRIDES = {
    "T": ("--T", int, "time steps per sample"),
    "epochs": ("--epochs", int, "training epochs"),
    "lr": ("--lr", float, "learning rate of the first epoch"),
    "lr_decay": (
        "--lr-decay",
        float,
        "exp schedule: lr * exp(-lr_decay * i) in the epoch of index i (0 for epoch 1)",
    ),
    "lr_floor": ("--lr-floor", float, "cosine/linear schedule: lr of the last epoch (default 0)"),
    "hold_epochs": ("--hold-epochs", int, "epochs at constant lr before the schedule starts"),
    "restart_every": ("--restart-every", int, "restart the schedule every K epochs (0: never)"),
    "validation": (
        "--validation",
        int,
        "hold out the last N training images; best.npz is chosen on them (0: none)",
    ),
    "p_in": ("--p-in", float, "input-layer dropout probability"),
    "p_hid": ("--p-hid", float, "hidden-layer dropout probability"),
    "theta_p": ("--theta-p", float, "firing threshold"),
    "theta_hid": ("--theta-hid", float, "hidden desire threshold"),
    "theta_out": ("--theta-out", float, "output desire threshold"),
    "error_margin": ("--error-margin", int, "spike-count target is T - error_margin"),
    "mempot_decay": ("--mempot-decay", float, "beta = 1 - 2**-mempot_decay"),
    "w_bound": (
        "--w-bound",
        float,
        "extension: clip updated weights to [-B, B] (0, the default: no bound)",
    ),
    "seed": ("--seed", int, "seed of init, shuffling and dropout"),
    "train_samples": ("--train-samples", int, "use only the first N training samples"),
    "test_samples": ("--test-samples", int, "evaluate only the first N test samples"),
}

#: CLI option -> Config field for the overrides chosen from a list.
CHOICES = {
    "hidden_error": (
        "--hidden-error",
        HIDDEN_ERRORS,
        "hidden error form: abs (the specification's) or signed (paper Eq. 14)",
    ),
    "leak": (
        "--leak",
        LEAKS,
        "LIF leak rule: always (the specification's) or skip-after-spike (no leak on the step "
        "after a neuron fired, as in some versions of the authors' code)",
    ),
    "potentiation": (
        "--potentiation",
        POTENTIATIONS,
        "extension: below-target leaves a neuron desired to fire more unchanged once it fires "
        "T - error_margin times (always, the specification's: potentiate every one that spiked)",
    ),
    "schedule": (
        "--schedule",
        SCHEDULES,
        "learning-rate schedule: exp (the specification's), constant, cosine or linear "
        "(annealing to --lr-floor at the last epoch)",
    ),
    "dataset": ("--dataset", DATASETS, "data set (default: the preset's)"),
}


class CLIError(Exception):
    """A usage error reported as one line on stderr with exit status 2."""


_SIZES = re.compile(r"\s*\d+(\s*[,-]\s*\d+)*\s*")


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"784,1600,800,10"`` (or ``784-1600-800-10``) -> layer sizes.

    Only positive integers, separated by commas (or dashes *between* numbers): ``-5``, ``''``
    and ``5,`` are errors, not ``(5,)`` or "no sizes".
    """
    if not _SIZES.fullmatch(text):
        raise argparse.ArgumentTypeError(
            f"layer sizes must be positive integers separated by commas, like 1600,800: {text!r}"
        )
    sizes = tuple(int(s) for s in re.split(r"[,-]", text))
    if min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1: {text!r}")
    return sizes


def _number(text: str, kind: type, what: str, ok: Any, needs: str) -> Any:
    try:
        v = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {what}: {text!r}") from None
    if not ok(v):
        raise argparse.ArgumentTypeError(f"must be {needs}, got {text!r}")
    return v


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1 (``0`` never silently means "all")."""
    return _number(text, int, "integer", lambda n: n >= 1, ">= 1")


def finite_float(text: str) -> float:
    """An argparse type: a finite float (``inf`` and ``nan`` are refused here, not later)."""
    return _number(text, float, "number", math.isfinite, "a finite number")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def dumps_json(obj: Any, **kw: Any) -> str:
    """``json.dumps`` that writes valid JSON: NaN and infinities become ``null``."""
    return json.dumps(_finite(obj), allow_nan=False, **kw)


def check_output(path: str | Path | None, flag: str, directory: bool = False) -> None:
    """Refuse an output path that cannot be written, *before* any work is done.

    ``path`` (a file, or with ``directory`` a folder) may not exist yet; its nearest existing
    ancestor must be a writable directory (missing folders are created when writing).

    Raises:
        CLIError: naming ``flag`` and the reason.
    """
    if path is None:
        return
    import os

    p = Path(path)
    if str(path) == "":
        raise CLIError(f"{flag}: empty path")
    if p.exists():
        if directory and not p.is_dir():
            raise CLIError(f"{flag} {path}: exists and is not a directory")
        if not directory and p.is_dir():
            raise CLIError(f"{flag} {path}: is a directory; give a file name")
        if not os.access(p if directory else p.parent, os.W_OK):
            raise CLIError(f"{flag} {path}: not writable")
        return
    parent = p.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise CLIError(f"{flag} {path}: {parent} is a file, not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise CLIError(f"{flag} {path}: cannot create it, {parent} is not writable")


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """``--engine fast|reference``."""
    p.add_argument("--engine", choices=ENGINES, default="fast")


def add_config_options(p: argparse.ArgumentParser) -> None:
    """``--preset`` and an option for every hyper-parameter (see :func:`config_from_args`)."""
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="start from this preset (default mnist)",
    )
    p.add_argument("--sizes", type=parse_sizes, help="all layer sizes, e.g. 784,1600,800,10")
    p.add_argument(
        "--hidden",
        type=parse_sizes,
        help="hidden sizes only, e.g. 1600,800 (input 784 and output 10 kept)",
    )
    p.add_argument(
        "--spec-schedule",
        action="store_true",
        help="the specification's single exponential decay (150 / 600 epochs) instead of the "
        "presets' protocol (lr held for 2/3 of the epochs, then linear to 0)",
    )
    for field_name, (flag, choices, help_) in CHOICES.items():
        p.add_argument(flag, dest=field_name, choices=choices, help=help_)
    for field_name, (flag, typ, help_) in OVERRIDES.items():
        typ = finite_float if typ is float else typ
        p.add_argument(flag, dest=field_name, type=typ, help=help_)


def config_from_args(args: argparse.Namespace) -> Config:
    """The :class:`Config` described by ``--preset`` and the override options."""
    changes = {
        f: getattr(args, f) for f in (*CHOICES, *OVERRIDES) if getattr(args, f, None) is not None
    }
    if args.sizes is not None and args.hidden is not None:
        raise CLIError("give either --sizes or --hidden, not both")
    name = args.preset or "mnist"
    base = PRESETS[name]
    if args.sizes is not None:
        changes["sizes"] = args.sizes
    elif args.hidden is not None:
        changes["sizes"] = (base.sizes[0], *args.hidden, base.sizes[-1])
    return preset(name, spec_schedule=getattr(args, "spec_schedule", False), **changes)


def set_threads(n: int | None) -> None:
    """Numba's thread count for evaluation (``--threads``; ``None``: all cores).

    Raises:
        CLIError: ``n`` outside ``1..`` the number of cores Numba can use.
    """
    if n is None:
        return
    import numba

    most = numba.config.NUMBA_NUM_THREADS
    if not 1 <= n <= most:
        raise CLIError(f"--threads {n}: must be in 1..{most} (the cores Numba can use)")
    numba.set_num_threads(n)
