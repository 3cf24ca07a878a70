"""``desire-bp train``, ``eval``, ``data fetch``, ``import-torch``, ``fingerprint`` and
``bench``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..config import (
    ARITHMETICS,
    DATASETS,
    PRESETS,
    ROUNDINGS,
    SCHEDULE_FIELDS,
    SPLITS,
    Config,
    IntSpec,
)
from .options import (
    CHOICES,
    OVERRIDES,
    CLIError,
    add_config_options,
    add_engine_option,
    check_output,
    config_from_args,
    dumps_json,
    parse_sizes,
    positive_int,
    set_threads,
)

__all__ = ["add_parsers"]


def cmd_train(args: argparse.Namespace) -> int:
    from ..training import run_config, train

    set_threads(args.threads)
    if args.resume:
        if args.init_from:
            raise CLIError("--init-from starts a new run; it cannot be combined with --resume")
        run_dir = Path(args.resume)
        cfg = _resume_config(args, run_config(run_dir))
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
        cfg, init = _initial_weights(Path(args.init_from), cfg)
        print(f"starting from the weights of {args.init_from} (learning-rate schedule restarted)")
    int_options = [n for n in ("weight_bits", "trace_frac", "lr_terms", "rounding")
                   if getattr(args, f"int_{n}") is not None]  # fmt: skip
    if int_options and not args.resume and args.arithmetic != "int":
        raise CLIError(
            f"--int-{int_options[0].replace('_', '-')} needs --arithmetic int (this run is float)"
        )
    if args.arithmetic == "int" and cfg.integer is None:
        from ..integer import with_integer_format

        cfg = with_integer_format(cfg, _int_spec(args))
    if cfg.integer is not None:
        print(f"integer arithmetic: {cfg.integer.to_dict()}")
    print(
        f"network {'-'.join(map(str, cfg.sizes))}, T={cfg.T}, {cfg.epochs} epochs, "
        f"dataset {cfg.dataset}, engine {args.engine}"
    )
    if cfg.potentiation == "below-target" and cfg.potentiation_cap <= 1:
        print(
            f"warning: --potentiation below-target with T={cfg.T} and error margin "
            f"{cfg.error_margin} caps potentiation at {cfg.potentiation_cap} spike(s): no hidden "
            "neuron that fires is potentiated (at T=5 both hidden layers fell silent in epoch 1; "
            "docs/training.md)",
            file=sys.stderr,
        )
    hooks = _record_hooks(args, cfg, run_dir)
    _, rows = train(
        cfg,
        run_dir,
        resume=bool(args.resume),
        data_dir=args.data_dir,
        engine=args.engine,
        progress=not args.no_progress,
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


def _resume_config(args: argparse.Namespace, stored: Config) -> Config:
    """The config of ``--resume``: the stored one with the schedule options given
    (``--epochs``, ``--schedule``, ``--hold-epochs``, ...; :func:`desire_bp.training.train`
    refuses them if a completed epoch's learning rate would change).  Any other option that
    would change the run is refused, naming it (never silently ignored)."""
    conflicts = []
    if args.run_dir is not None and Path(args.run_dir) != Path(args.resume):
        conflicts.append(f"--run-dir {args.run_dir}")
    if args.preset is not None and PRESETS[args.preset].dataset != stored.dataset:
        conflicts.append(f"--preset {args.preset} (the run's data set is {stored.dataset})")
    if getattr(args, "spec_schedule", False):
        conflicts.append("--spec-schedule (it builds a new run's config; give --schedule exp ...)")
    sizes = args.sizes
    if args.hidden is not None:
        sizes = (stored.sizes[0], *args.hidden, stored.sizes[-1])
    if sizes is not None and tuple(sizes) != stored.sizes:
        flag = "--sizes" if args.sizes is not None else "--hidden"
        given = ",".join(map(str, args.sizes if args.sizes is not None else args.hidden))
        conflicts.append(f"{flag} {given} (the run has {'-'.join(map(str, stored.sizes))})")
    for name, (flag, *_) in (*CHOICES.items(), *OVERRIDES.items()):
        value = getattr(args, name, None)
        if name not in SCHEDULE_FIELDS and value is not None and value != getattr(stored, name):
            conflicts.append(f"{flag} {value} (the run has {getattr(stored, name)})")
    if args.arithmetic is not None and args.arithmetic != stored.arithmetic:
        conflicts.append(f"--arithmetic {args.arithmetic} (the run is {stored.arithmetic})")
    for name in ("weight_bits", "trace_frac", "lr_terms", "rounding"):
        value = getattr(args, f"int_{name}")
        have = None if stored.integer is None else getattr(stored.integer, name)
        if value is not None and value != have:
            conflicts.append(f"--int-{name.replace('_', '-')} {value} (the run has {have})")
    if conflicts:
        raise CLIError(
            f"--resume {args.resume} continues the run as configured; these options would change "
            f"it: {'; '.join(conflicts)} (only the schedule's options may change: "
            f"{', '.join(_flag(name) for name in SCHEDULE_FIELDS)})"
        )
    changes = {
        name: getattr(args, name)
        for name in SCHEDULE_FIELDS
        if getattr(args, name, None) is not None
    }
    return stored.replace(**changes) if changes else stored


def _flag(name: str) -> str:
    return {**CHOICES, **OVERRIDES}[name][0]


def _initial_weights(path: Path, cfg: Config) -> tuple[Config, list]:
    """Weights of the checkpoint ``path`` for a new run of ``cfg``; the config records where
    they came from (``init_from``: path, epoch index, SHA-256 of the file)."""
    from ..checkpoint import start_from

    origin, weights = start_from(path)
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    if tuple(sizes) != tuple(cfg.sizes):
        raise CLIError(
            f"--init-from {path}: its layer sizes {'-'.join(map(str, sizes))} differ "
            f"from this run's {'-'.join(map(str, cfg.sizes))}"
        )
    return cfg.replace(init_from=origin), weights


def cmd_eval(args: argparse.Namespace) -> int:
    from ..data import load_dataset
    from ..integer import load_network

    set_threads(args.threads)
    net = load_network(args.checkpoint, engine=args.engine)
    arithmetic = net.cfg.arithmetic
    name = args.dataset or net.cfg.dataset
    if name != net.cfg.dataset:
        print(
            f"warning: {args.checkpoint} was trained on {net.cfg.dataset}; evaluating it on {name}",
            file=sys.stderr,
        )
    test = load_dataset(name, args.split, args.data_dir)
    width = int(np.prod(np.shape(test.images)[1:]))
    if width != net.cfg.sizes[0]:
        raise CLIError(
            f"{args.checkpoint}: its network has {net.cfg.sizes[0]} inputs, but {name} images "
            f"have {width} pixels"
        )
    if int(np.max(test.labels)) >= net.cfg.sizes[-1]:
        raise CLIError(
            f"{args.checkpoint}: its network has {net.cfg.sizes[-1]} outputs, but {name} has "
            f"{int(np.max(test.labels)) + 1} classes"
        )
    if args.test_samples is not None:
        if args.test_samples > len(test.labels):
            raise CLIError(
                f"--test-samples {args.test_samples}: {name} {args.split} has only "
                f"{len(test.labels)} samples"
            )
        test = test.subset(args.test_samples)
    t0 = time.perf_counter()
    ev = net.evaluate(test.images, test.labels)
    secs = time.perf_counter() - t0
    if args.json:
        print(
            dumps_json(
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
    print(
        "per class: "
        + "  ".join(f"{k}:{a:.1f}%" if a == a else f"{k}:-" for k, a in enumerate(ev.per_class))
    )
    n_cls = ev.confusion.shape[0]
    print("confusion (rows: true class, columns: predicted, '?' = no decision)")
    print("     " + "".join(f"{k:>6}" for k in range(n_cls)) + f"{'?':>6}")
    for k, row in enumerate(ev.confusion):
        print(f"{k:>5}" + "".join(f"{v:>6}" for v in row))
    return 0


def cmd_fingerprint(args: argparse.Namespace) -> int:
    from ..checkpoint import load_checkpoint
    from ..fingerprint import fingerprint, format_fingerprints, initial_weights, load_weights

    names, fps = [], []
    for path in args.checkpoints:
        names.append(path.parent.name + "/" + path.name if args.short_names else str(path))
        initial = None
        if args.from_init and path.suffix == ".npz":
            ck = load_checkpoint(path)  # once for both the weights and their start
            weights = ck.weights
            try:
                initial = initial_weights(ck, name=str(path))
            except ValueError as e:
                raise CLIError(f"--from-init: {e}") from None
        else:
            weights = load_weights(path)
        fps.append(fingerprint(weights, args.thresholds, initial))
    if args.json:
        print(dumps_json({n: fp.to_dict() for n, fp in zip(names, fps, strict=True)}))
    else:
        print(format_fingerprints(names, fps))
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from ..data import fetch_dataset

    for name in args.names:
        path = fetch_dataset(name, args.data_dir)
        print(f"{name}: verified files in {path}")
    return 0


def cmd_import_torch(args: argparse.Namespace) -> int:
    from ..torch_import import import_torch_checkpoint

    check_output(args.out, "OUT")
    cfg = import_torch_checkpoint(args.file, args.out, preset_name=args.preset)
    print(
        f"wrote {args.out}: network {'-'.join(map(str, cfg.sizes))} ({cfg.dataset} preset "
        "hyper-parameters)"
    )
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from .. import bench

    set_threads(args.threads)
    check_output(args.out, "--out", directory=args.what == "scaling")
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


def _thresholds(text: str) -> list[float]:
    """``--thresholds 1,5,20``: positive finite numbers."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"numbers like 1,5,20 expected: {text!r}") from None
    if not all(0 < v < float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"thresholds must be positive and finite: {text!r}")
    return values


def _int_spec(args: argparse.Namespace) -> IntSpec:
    """The integer format of ``--int-*`` (defaults for the options not given)."""
    kw: dict[str, Any] = {}
    for name in ("weight_bits", "trace_frac", "lr_terms", "rounding"):
        v = getattr(args, f"int_{name}")
        if v is not None:
            kw[name] = v
    return IntSpec(**kw)


def _record_kinds(values: list[str]) -> list[str]:
    from ..analysis import RECORD_KINDS

    kinds: list[str] = []
    for v in values:
        for k in v.split(","):
            k = k.strip()
            if not k:
                continue
            if k == "all":
                kinds.extend(RECORD_KINDS)
            elif k in RECORD_KINDS:
                kinds.append(k)
            else:
                raise CLIError(f"--record {k!r}: choose from {', '.join(RECORD_KINDS)} or all")
    return list(dict.fromkeys(kinds))


def _record_hooks(args: argparse.Namespace, cfg: Config, run_dir: Path) -> dict[str, Any]:
    """The hooks of ``--record ...`` (none without it)."""
    kinds = _record_kinds(args.record)
    if not kinds:
        return {}
    from ..analysis import record_hooks

    return record_hooks(
        kinds,
        cfg,
        run_dir,
        data_dir=args.data_dir,
        samples=args.record_samples,
        spike_epochs=args.spike_epochs,
        spike_neurons=args.spike_neurons,
        contrib_every=args.contrib_every,
        contrib_until=args.contrib_until,
        contrib_samples=args.contrib_samples,
    )


def _add_integer_options(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("integer arithmetic (with --arithmetic int)")
    g.add_argument("--int-weight-bits", type=int, help="weight width in bits (default 16)")
    g.add_argument("--int-trace-frac", type=int, help="trace fraction bits (default 10)")
    g.add_argument(
        "--int-lr-terms",
        type=int,
        help="power-of-two terms of the learning rate (1 = one right shift; default 2)",
    )
    g.add_argument(
        "--int-rounding",
        choices=ROUNDINGS,
        help="rounding of the weight update (default stochastic: unbiased; nearest: half up)",
    )


def _add_record_options(t: argparse.ArgumentParser) -> None:
    g = t.add_argument_group("analysis recording (Fig. 6-8; see desire-bp figure)")
    g.add_argument(
        "--record",
        action="append",
        default=[],
        metavar="KIND[,KIND]",
        help="record losses (Fig. 6, in metrics.jsonl), spikes (Fig. 7, spikes/*.npz) and/or "
        "contributions (Fig. 8, contributions.npz); 'all' for all three",
    )
    g.add_argument(
        "--record-samples",
        type=positive_int,
        help="test samples used for losses and spikes (default: the run's whole test set)",
    )
    g.add_argument(
        "--spike-epochs",
        type=positive_int,
        default=5,
        help="record spikes after the first E epochs (5)",
    )
    g.add_argument(
        "--spike-neurons",
        type=positive_int,
        default=20,
        help="random neurons per hidden layer (20)",
    )
    g.add_argument(
        "--contrib-every",
        type=positive_int,
        default=50,
        metavar="K",
        help="contribution snapshot every K training samples (50)",
    )
    g.add_argument(
        "--contrib-until",
        type=positive_int,
        default=1000,
        help="... during the first this many samples of epoch 1 (1000)",
    )
    g.add_argument(
        "--contrib-samples",
        type=positive_int,
        default=1000,
        help="test samples the contributions are averaged over (1000)",
    )


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``eval``, ``data``, ``import-torch``, ``fingerprint`` and ``bench``."""
    t = sub.add_parser("train", help="train a network (online, batch size 1)")
    add_config_options(t)
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
    add_engine_option(t)
    t.add_argument(
        "--arithmetic",
        choices=ARITHMETICS,
        help="float (default) or int: integer, multiplication-free training "
        "(desire_bp.integer, docs/integer.md)",
    )
    t.add_argument("--data-dir", help="data directory (default: $DESIRE_BP_DATA_DIR or cache)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.add_argument(
        "--threads", type=positive_int, help="threads for evaluation (default: all cores)"
    )
    _add_integer_options(t)
    _add_record_options(t)
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a checkpoint on a test set")
    e.add_argument("--checkpoint", required=True, help="an .npz checkpoint")
    e.add_argument("--dataset", choices=DATASETS, help="data set (default: the checkpoint's)")
    e.add_argument("--split", choices=SPLITS, default="test")
    e.add_argument("--test-samples", type=positive_int, help="only the first N samples")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    add_engine_option(e)
    e.add_argument("--data-dir")
    e.add_argument("--threads", type=positive_int)
    e.set_defaults(func=cmd_eval)

    d = sub.add_parser("data", help="data set management")
    dsub = d.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download and verify data sets")
    f.add_argument("names", nargs="+", choices=DATASETS)
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
        type=_thresholds,
        default=[1.0, 5.0, 20.0],
        help="max-|w| thresholds for counting neurons; the largest marks runaway neurons "
        "(default 1,5,20)",
    )
    fp.add_argument(
        "--from-init",
        action="store_true",
        help="also how far each layer travelled from the weights its run started from "
        "(relative distance and correlation; desire-bp .npz checkpoints only, an imported .pt "
        "has no known start)",
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
    b.add_argument("--samples", type=positive_int, help="timed samples per measurement")
    b.add_argument("--presets", nargs="+", choices=sorted(PRESETS), default=sorted(PRESETS))
    b.add_argument(
        "--reference-samples",
        type=positive_int,
        default=100,
        help="samples timed on the readable engine (speed)",
    )
    b.add_argument("--sizes", type=parse_sizes, help="hidden sizes N for scaling")
    b.add_argument("--out", help="output file (speed: JSON) or directory (scaling)")
    b.add_argument("--data-dir")
    b.add_argument("--threads", type=positive_int)
    b.set_defaults(func=cmd_bench)
