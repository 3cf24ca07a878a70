"""Options shared by several ``desire-bp`` sub-commands, and the usage error."""

from __future__ import annotations

import argparse

from ..config import (
    DATASETS,
    ENGINES,
    HIDDEN_ERRORS,
    LEAKS,
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
    "parse_sizes",
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


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"784,1600,800,10"`` (or ``784-1600-800-10``) -> layer sizes."""
    try:
        sizes = tuple(int(s) for s in text.replace("-", ",").split(",") if s.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"layer sizes must be integers like 784,1600,800,10: {text!r}"
        ) from e
    return sizes


def add_engine_option(p: argparse.ArgumentParser) -> None:
    """``--engine fast|reference``."""
    p.add_argument("--engine", choices=ENGINES, default="fast")


def add_config_options(p: argparse.ArgumentParser) -> None:
    """``--preset`` and an option for every hyper-parameter (see :func:`config_from_args`)."""
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="mnist",
        help="start from this preset (default mnist)",
    )
    p.add_argument("--sizes", type=parse_sizes, help="all layer sizes, e.g. 784,1600,800,10")
    p.add_argument(
        "--hidden",
        type=parse_sizes,
        help="hidden sizes only, e.g. 1600,800 (input 784 and output 10 kept)",
    )
    for field_name, (flag, choices, help_) in CHOICES.items():
        p.add_argument(flag, dest=field_name, choices=choices, help=help_)
    for field_name, (flag, typ, help_) in OVERRIDES.items():
        p.add_argument(flag, dest=field_name, type=typ, help=help_)


def config_from_args(args: argparse.Namespace) -> Config:
    """The :class:`Config` described by ``--preset`` and the override options."""
    changes = {
        f: getattr(args, f) for f in (*CHOICES, *OVERRIDES) if getattr(args, f, None) is not None
    }
    if args.sizes and args.hidden:
        raise CLIError("give either --sizes or --hidden, not both")
    base = PRESETS[args.preset]
    if args.sizes:
        changes["sizes"] = args.sizes
    elif args.hidden:
        changes["sizes"] = (base.sizes[0], *args.hidden, base.sizes[-1])
    return preset(args.preset, **changes)


def set_threads(n: int | None) -> None:
    """Numba's thread count for evaluation (``--threads``; ``None``: all cores)."""
    if n:
        import numba

        numba.set_num_threads(n)
