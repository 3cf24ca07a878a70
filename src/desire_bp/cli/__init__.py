"""``desire-bp`` command line: a thin layer over the Python API.

Every argument parser of the project is in this package: :mod:`.run` (``train``, ``eval``,
``data fetch``, ``import-torch``, ``fingerprint``, ``bench``), :mod:`.analysis` (``sweep``,
``figure``, ``report``, ``table3``, ``export-nir``, ``torch-check``) and the options they share,
:mod:`.options`.  Each command parses its options and calls library functions.
"""

from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..checkpoint import CheckpointError
from ..config import ConfigError
from ..data import DataError
from ..figures import FigureError
from ..training import RunError
from . import analysis, run
from .options import CLIError, config_from_args

__all__ = ["main", "build_parser", "CLIError", "config_from_args"]

#: Errors reported as one line on stderr with exit status 2.
KNOWN_ERRORS = (
    CLIError,
    ConfigError,
    CheckpointError,
    RunError,
    DataError,
    FigureError,
    FileNotFoundError,
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``desire-bp``."""
    p = argparse.ArgumentParser(
        prog="desire-bp",
        description="Train and evaluate spiking neural networks with desire backpropagation.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    run.add_parsers(sub)
    analysis.add_parsers(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``desire-bp`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KNOWN_ERRORS as e:
        print(f"desire-bp {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; completed epochs are checkpointed (resume with --resume)", file=sys.stderr
        )
        return 130
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141
