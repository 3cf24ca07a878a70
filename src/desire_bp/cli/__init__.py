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
from typing import NoReturn

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


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, ``desire-bp CMD: error: ...`` (``--help`` shows the usage)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``desire-bp``."""
    p = _Parser(
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
    where = f"desire-bp {args.command}"
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which stopped reading
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141
    except KNOWN_ERRORS as e:
        print(f"{where}: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file or directory that cannot be read or written
        what = f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e)
        print(f"{where}: error: {what}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{where}: error: out of memory", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; completed epochs are checkpointed (resume with --resume)", file=sys.stderr
        )
        return 130
    except Exception as e:  # a bug: still one line, the traceback on request
        if os.environ.get("DESIRE_BP_TRACEBACK"):
            raise
        msg = str(e).splitlines()[0] if str(e) else ""
        print(
            f"{where}: internal error: {type(e).__name__}: {msg} (a bug; please report it; "
            "DESIRE_BP_TRACEBACK=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
