"""``desire-bp`` command line: a thin layer over the Python API.

Sub-commands: ``train``, ``eval``, ``data fetch``, ``import-torch``, ``bench`` (see ``--help``).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from pathlib import Path

from .config import PRESETS, SCHEDULES, Config, ConfigError, preset

__all__ = ["main", "build_parser"]

#: Modules that contribute sub-commands: each has ``add_commands(subparsers)`` which adds its
#: parsers with ``set_defaults(func=...)``; the func takes the parsed namespace, returns 0.
COMMAND_MODULES: list[str] = [
    "desire_bp.integer",
    "desire_bp.opcount",
    "desire_bp.nir_export",
    "desire_bp.analysis_cli",
    "desire_bp.report",
]

#: CLI option -> Config field for every hyper-parameter override.
OVERRIDES = {
    "T": ("--T", int, "time steps per sample"),
    "epochs": ("--epochs", int, "training epochs"),
    "lr": ("--lr", float, "learning rate at epoch 0"),
    "lr_decay": ("--lr-decay", float, "exp schedule: lr(epoch) = lr * exp(-lr_decay * epoch)"),
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


class CLIError(Exception):
    """A usage error reported as one line on stderr with exit status 2."""


def _parse_sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(s) for s in text.replace("-", ",").split(",") if s.strip())
    except ValueError as e:
        raise argparse.ArgumentTypeError(
            f"layer sizes must be integers like 784,1600,800,10: {text!r}"
        ) from e
    return sizes


def _add_config_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="mnist",
        help="start from this preset (default mnist)",
    )
    p.add_argument("--sizes", type=_parse_sizes, help="all layer sizes, e.g. 784,1600,800,10")
    p.add_argument(
        "--hidden",
        type=_parse_sizes,
        help="hidden sizes only, e.g. 1600,800 (input 784 and output 10 kept)",
    )
    p.add_argument(
        "--hidden-error",
        choices=["abs", "signed"],
        help="hidden error form: abs (SPEC default) or signed (paper Eq. 14)",
    )
    p.add_argument(
        "--leak",
        choices=["always", "skip-after-spike"],
        help="LIF leak rule: always (SPEC default) or skip-after-spike (no leak on the step "
        "after a neuron fired, as in some versions of the authors' code)",
    )
    p.add_argument(
        "--schedule",
        choices=list(SCHEDULES),
        help="learning-rate schedule: exp (SPEC), constant, cosine or linear (annealing to "
        "--lr-floor at the last epoch)",
    )
    p.add_argument(
        "--dataset", choices=["mnist", "fashion-mnist"], help="data set (default: the preset's)"
    )
    for field_name, (flag, typ, help_) in OVERRIDES.items():
        p.add_argument(flag, dest=field_name, type=typ, help=help_)


def config_from_args(args: argparse.Namespace) -> Config:
    """The :class:`Config` described by ``--preset`` and the override options."""
    changes = {f: getattr(args, f) for f in OVERRIDES if getattr(args, f, None) is not None}
    if args.sizes and args.hidden:
        raise CLIError("give either --sizes or --hidden, not both")
    base = PRESETS[args.preset]
    if args.sizes:
        changes["sizes"] = args.sizes
    elif args.hidden:
        changes["sizes"] = (base.sizes[0], *args.hidden, base.sizes[-1])
    if args.hidden_error:
        changes["hidden_error"] = args.hidden_error
    if args.leak:
        changes["leak"] = args.leak
    if getattr(args, "schedule", None):
        changes["schedule"] = args.schedule
    if args.dataset:
        changes["dataset"] = args.dataset
    return preset(args.preset, **changes)


# ----------------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    from .training import train

    if args.resume:
        run_dir = Path(args.resume)
        cfg_path = run_dir / "config.json"
        if not cfg_path.exists():
            raise CLIError(f"--resume {run_dir}: no config.json there (not a run directory)")
        cfg = Config.from_dict(json.loads(cfg_path.read_text()))
        if args.epochs is not None:
            cfg = cfg.replace(epochs=args.epochs)
        print(f"resuming {run_dir}")
    else:
        cfg = config_from_args(args)
        run_dir = (
            Path(args.run_dir)
            if args.run_dir
            else Path("runs") / (f"{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
        )
        print(f"run directory {run_dir}")
    init = None
    if args.init_from:
        if args.resume:
            raise CLIError("--init-from starts a new run; it cannot be combined with --resume")
        cfg, init = _initial_weights(Path(args.init_from), cfg)
        print(f"starting from the weights of {args.init_from} (learning-rate schedule restarted)")
    _set_threads(args.threads)
    wrap = None
    if getattr(args, "arithmetic", "float") == "int" or "integer" in cfg.extra:
        from .integer import integer_training

        cfg, wrap = integer_training(cfg, args)
        print(f"integer arithmetic: {cfg.extra['integer']}")
    print(
        f"network {'-'.join(map(str, cfg.sizes))}, T={cfg.T}, {cfg.epochs} epochs, "
        f"dataset {cfg.dataset}, engine {args.engine}"
    )
    hooks = args.train_hooks(args, cfg, run_dir) if getattr(args, "train_hooks", None) else {}
    _, rows = train(
        cfg,
        run_dir,
        resume=bool(args.resume),
        data_dir=args.data_dir,
        engine=args.engine,
        progress=not args.no_progress,
        wrap_network=wrap,
        init_weights=init,
        **hooks,
    )
    if rows:
        last = rows[-1]
        print(
            f"final test accuracy {last['test_accuracy']:.2f}%, best "
            f"{last['best_test_accuracy']:.2f}% (epoch {last['best_epoch'] + 1}); "
            f"checkpoints in {run_dir}"
        )
    return 0


def _initial_weights(path: Path, cfg: Config) -> tuple[Config, list]:
    """Weights of the checkpoint ``path`` for a new run of ``cfg``; the config records where
    they came from (``extra["init_from"]``: path, epoch, SHA-256 of the file)."""
    import hashlib

    from .checkpoint import load_checkpoint

    ck = load_checkpoint(path)
    if tuple(ck.config.sizes) != tuple(cfg.sizes):
        raise CLIError(
            f"--init-from {path}: its layer sizes {'-'.join(map(str, ck.config.sizes))} differ "
            f"from this run's {'-'.join(map(str, cfg.sizes))}"
        )
    origin = {
        "path": str(path),
        "epoch": ck.meta.get("epoch"),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    return cfg.replace(extra={**cfg.extra, "init_from": origin}), ck.weights


def cmd_eval(args: argparse.Namespace) -> int:
    from .data import load_dataset
    from .integer import IntegerNetwork, load_network

    _set_threads(args.threads)
    net = load_network(args.checkpoint, engine=args.engine)
    arithmetic = "int" if isinstance(net, IntegerNetwork) else "float"
    name = args.dataset or net.cfg.dataset
    test = load_dataset(name, args.split, args.data_dir)
    if args.test_samples:
        test = test.subset(args.test_samples)
    t0 = time.perf_counter()
    ev = net.evaluate(test.images, test.labels)
    secs = time.perf_counter() - t0
    if args.json:
        print(
            json.dumps(
                {
                    "accuracy": ev.accuracy,
                    "n": ev.n,
                    "dataset": name,
                    "split": args.split,
                    "checkpoint": str(args.checkpoint),
                    "arithmetic": arithmetic,
                    "per_class": [float(a) for a in ev.per_class],
                    "no_decision": int(ev.confusion[:, -1].sum()),
                    "confusion": ev.confusion.tolist(),
                    "seconds": secs,
                }
            )
        )
        return 0
    print(
        f"{name} {args.split}: accuracy {ev.accuracy:.2f}% on {ev.n} samples "
        f"({arithmetic} arithmetic; strict maximum, ties count as wrong)  [{secs:.1f}s]"
    )
    print("per class: " + "  ".join(f"{k}:{a:.1f}%" for k, a in enumerate(ev.per_class)))
    n_cls = ev.confusion.shape[0]
    print("confusion (rows: true class, columns: predicted, '?' = no decision)")
    print("     " + "".join(f"{k:>6}" for k in range(n_cls)) + f"{'?':>6}")
    for k, row in enumerate(ev.confusion):
        print(f"{k:>5}" + "".join(f"{v:>6}" for v in row))
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    from .checkpoint import load_checkpoint
    from .fingerprint import fingerprint, format_fingerprints

    names, fps = [], []
    for path in args.checkpoints:
        if path.suffix == ".pt":
            from .torch_import import load_torch_weights

            weights, _ = load_torch_weights(path)
        else:
            weights = load_checkpoint(path).weights
        names.append(path.parent.name + "/" + path.name if args.short_names else str(path))
        fps.append(fingerprint(weights, args.thresholds))
    if args.json:
        print(json.dumps({n: fp.to_dict() for n, fp in zip(names, fps, strict=True)}))
    else:
        print(format_fingerprints(names, fps))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from .data import fetch_dataset

    for name in args.names:
        path = fetch_dataset(name, args.data_dir)
        print(f"{name}: verified files in {path}")
    return 0


def cmd_import_torch(args: argparse.Namespace) -> int:
    from .torch_import import import_torch_checkpoint

    cfg = import_torch_checkpoint(args.file, args.out, preset_name=args.preset)
    print(
        f"wrote {args.out}: network {'-'.join(map(str, cfg.sizes))} ({cfg.dataset} preset "
        "hyper-parameters)"
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    _set_threads(args.threads)
    if args.what == "speed":
        bench.speed(
            samples=args.samples,
            presets=args.presets,
            reference_samples=args.reference_samples,
            out=args.out,
            data_dir=args.data_dir,
        )
    elif args.what == "epoch":
        bench.epoch(
            args.presets[0], train_samples=args.samples, out=args.out, data_dir=args.data_dir
        )
    else:
        bench.scaling(
            sizes=args.sizes, samples=args.samples, out_dir=args.out, data_dir=args.data_dir
        )
    return 0


def _set_threads(n: int | None) -> None:
    if n:
        import numba

        numba.set_num_threads(n)


# ----------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``desire-bp``."""
    p = argparse.ArgumentParser(
        prog="desire-bp",
        description="Train and evaluate spiking neural networks with desire backpropagation.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a network (online, batch size 1)")
    _add_config_options(t)
    t.add_argument("--run-dir", help="run directory (default runs/<dataset>-<time>)")
    t.add_argument(
        "--resume",
        metavar="RUN_DIR",
        help="continue RUN_DIR after its last completed epoch (--epochs may raise it)",
    )
    t.add_argument(
        "--init-from",
        metavar="CHECKPOINT",
        help="start a new run from this checkpoint's weights, learning-rate schedule from epoch 0 "
        "(like the original code's --model-path)",
    )
    t.add_argument("--engine", choices=["fast", "reference"], default="fast")
    t.add_argument(
        "--arithmetic",
        choices=["float", "int"],
        default="float",
        help="int: integer, multiplication-free training (desire_bp.integer, docs/integer.md)",
    )
    t.add_argument("--data-dir", help="data directory (default: $DESIRE_BP_DATA_DIR or cache)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument("--threads", type=int, help="threads for evaluation (default: all cores)")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a test set")
    e.add_argument("--checkpoint", required=True, help="an .npz checkpoint")
    e.add_argument(
        "--dataset", choices=["mnist", "fashion-mnist"], help="data set (default: the checkpoint's)"
    )
    e.add_argument("--split", choices=["test", "train"], default="test")
    e.add_argument("--test-samples", type=int, help="only the first N samples")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--engine", choices=["fast", "reference"], default="fast")
    e.add_argument("--data-dir")
    e.add_argument("--threads", type=int)
    e.set_defaults(func=cmd_eval)

    d = sub.add_parser("data", help="data set management")
    dsub = d.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download and verify data sets")
    f.add_argument("names", nargs="+", choices=["mnist", "fashion-mnist"])
    f.add_argument("--data-dir")
    f.set_defaults(func=cmd_data_fetch)

    it = sub.add_parser(
        "import-torch", help="convert a checkpoint of the authors' PyTorch code (needs torch)"
    )
    it.add_argument("file", help="the .pt file")
    it.add_argument("out", help="the .npz checkpoint to write")
    it.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        help="hyper-parameters to attach (default: guessed from the layer sizes)",
    )
    it.set_defaults(func=cmd_import_torch)

    fp = sub.add_parser(
        "fingerprint",
        help="weight statistics of checkpoints (how much learning they received)",
        description="Weight statistics per layer (std, mean, max |w|, |w| quantiles, neurons "
        "whose incoming weights ran away) of desire-bp .npz checkpoints or the authors' .pt "
        "files (read without executing code; needs torch), side by side.",
    )
    fp.add_argument("checkpoints", nargs="+", type=Path, help=".npz or .pt files")
    fp.add_argument(
        "--thresholds",
        type=lambda t: [float(v) for v in t.split(",")],
        default=[1.0, 5.0, 20.0],
        help="max-|w| thresholds for counting neurons; the largest marks runaway neurons "
        "(default 1,5,20)",
    )
    fp.add_argument("--short-names", action="store_true", help="label columns DIR/FILE")
    fp.add_argument("--json", action="store_true", help="print JSON instead of a table")
    fp.set_defaults(func=cmd_fingerprint)

    b = sub.add_parser("bench", help="benchmarks (speed of the engines, scaling like Fig. 9)")
    b.add_argument(
        "what",
        choices=["speed", "epoch", "scaling"],
        help="speed: ms/sample of both engines; epoch: one full epoch per engine "
        "(same weights, order and masks); scaling: 784-N-10 like Fig. 9",
    )
    b.add_argument("--samples", type=int, help="timed samples per measurement")
    b.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=sorted(PRESETS))
    b.add_argument(
        "--reference-samples",
        type=int,
        default=100,
        help="samples timed on the readable engine (speed)",
    )
    b.add_argument("--sizes", type=_parse_sizes, help="hidden sizes N for scaling")
    b.add_argument("--out", help="output file (speed: JSON) or directory (scaling)")
    b.add_argument("--data-dir")
    b.add_argument("--threads", type=int)
    b.set_defaults(func=cmd_bench)

    for mod in COMMAND_MODULES:
        importlib.import_module(mod).add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``desire-bp`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .checkpoint import CheckpointError
    from .training import RunError

    known: tuple[type[BaseException], ...] = (
        CLIError,
        ConfigError,
        CheckpointError,
        RunError,
        FileNotFoundError,
    )
    try:
        from .data import DataError

        known = (*known, DataError)
    except ImportError:  # pragma: no cover - data module always present in releases
        pass
    try:
        return args.func(args)
    except known as e:
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
