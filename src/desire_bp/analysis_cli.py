"""``desire-bp sweep``, ``desire-bp figure`` and ``desire-bp train --record``.

Loaded by :mod:`desire_bp.cli` (``COMMAND_MODULES``); :func:`add_commands` adds the two
sub-commands and the recording options of ``train`` (``--record losses,spikes,contributions``),
whose hooks :func:`train_hooks` builds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config

__all__ = ["add_commands", "train_hooks", "describe", "cmd_sweep", "cmd_figure"]

#: Paper results quoted in the text (MNIST, 150 epochs): N = 800 / T = 20 -> 98.41 %.
PAPER_POINTS = {"fig4": {800.0: 98.41}, "fig5": {20.0: 98.41}}
FIGURES = ("fig4", "fig5", "fig6", "fig7", "fig8")


def _cli_error(msg: str) -> Exception:
    from .cli import CLIError

    return CLIError(msg)


# ----------------------------------------------------------------------------- descriptions


def describe(cfg: Config, sizes: str | None = None, T: str | None = None) -> str:
    """A one-line description of a run for figure titles: data set, network, ``T``, epochs and
    samples, noting when fewer epochs or samples than the paper's are used."""
    from .config import PRESETS

    full = PRESETS["fashion-mnist" if cfg.dataset == "fashion-mnist" else "mnist"]
    n_train = cfg.train_samples or 60000
    n_test = cfg.test_samples or 10000
    net = sizes or "-".join(map(str, cfg.sizes))
    text = (
        f"{cfg.dataset}, {net}, T={T or cfg.T}, {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}, "
        f"{n_train} train / {n_test} test samples"
    )
    if cfg.epochs < full.epochs or n_train < 60000 or n_test < 10000:
        text += f"\n(reduced: the paper uses {full.epochs} epochs on 60000 / 10000 samples)"
    return text


def _run_config(run_dir: Path) -> Config:
    path = run_dir / "config.json"
    if not path.exists():
        raise _cli_error(f"{run_dir} is not a run directory (no config.json)")
    return Config.from_dict(json.loads(path.read_text()))


# ----------------------------------------------------------------------------- train --record


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
        type=int,
        help="test samples used for losses and spikes (default: the run's whole test set)",
    )
    g.add_argument(
        "--spike-epochs", type=int, default=5, help="record spikes after the first E epochs (5)"
    )
    g.add_argument(
        "--spike-neurons", type=int, default=20, help="random neurons per hidden layer (20)"
    )
    g.add_argument(
        "--contrib-every",
        type=int,
        default=50,
        metavar="K",
        help="contribution snapshot every K training samples (50)",
    )
    g.add_argument(
        "--contrib-until",
        type=int,
        default=1000,
        help="... during the first this many samples of epoch 1 (1000)",
    )
    g.add_argument(
        "--contrib-samples",
        type=int,
        default=1000,
        help="test samples the contributions are averaged over (1000)",
    )


def _record_kinds(values: list[str]) -> list[str]:
    from .analysis import RECORD_KINDS

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
                raise _cli_error(f"--record {k!r}: choose from {', '.join(RECORD_KINDS)} or all")
    return list(dict.fromkeys(kinds))


def train_hooks(args: argparse.Namespace, cfg: Config, run_dir: str | Path) -> dict[str, Any]:
    """The ``on_epoch`` / ``on_sample`` hooks of ``desire-bp train --record ...`` (empty dict
    without ``--record``); keyword arguments for :func:`desire_bp.training.train`."""
    kinds = _record_kinds(getattr(args, "record", []) or [])
    if not kinds:
        return {}
    from .analysis import Recorder
    from .data import load_dataset
    from .network import Network

    run_dir = Path(run_dir)
    test = load_dataset(cfg.dataset, "test", getattr(args, "data_dir", None))
    test = test.subset(cfg.test_samples)
    if args.record_samples:
        test = test.subset(args.record_samples)
    rec = Recorder(
        kinds,
        cfg,
        run_dir,
        test.images,
        test.labels,
        spike_epochs=args.spike_epochs,
        spike_neurons=args.spike_neurons,
        contrib_every=args.contrib_every,
        contrib_until=args.contrib_until,
        contrib_samples=args.contrib_samples,
    )
    print(f"recording {', '.join(kinds)} on {len(test.labels)} test samples into {run_dir}")
    if "contributions" in kinds and not (run_dir / "checkpoint.npz").exists():
        rec.start(Network.init(cfg))  # the snapshot before the first sample
    return {"on_epoch": rec.on_epoch, "on_sample": rec.on_sample}


# ----------------------------------------------------------------------------- sweep


def cmd_sweep(args: argparse.Namespace) -> int:
    from .cli import config_from_args
    from .sweep import Sweep, SweepError, figure_grid, parse_grid, parse_random

    try:
        grid: dict[str, list[Any]] = {}
        if args.figure:
            name, values = next(iter(figure_grid(args.figure).items()))
            if args.values:
                values = parse_grid(f"{name}={args.values}")[1]
            grid[name] = values
        elif args.values:
            raise _cli_error("--values needs --figure fig4 or fig5")
        for spec in args.grid:
            name, values = parse_grid(spec)
            if name in grid:
                raise _cli_error(f"--grid {spec!r}: parameter {name} given twice")
            grid[name] = values
        random = [parse_random(s) for s in args.random]
        if args.trials is not None and not random:
            raise _cli_error("--trials needs at least one --random")
        if grid or random:
            base = config_from_args(args)
            sweep = Sweep.create(
                args.sweep_dir, base, grid, random, args.trials or 10, args.search_seed
            )
        else:
            sweep = Sweep.load(args.sweep_dir)
            if args.epochs is not None:
                sweep = sweep.raise_epochs(args.epochs)
        if args.list:
            for r in sweep.results():
                acc = r["best_test_accuracy"]
                print(
                    f"{r['trial']:<40} {r['status']:<8} {r['epochs_done']}/{r['epochs']} epochs"
                    + (f"  best {acc:.2f}%" if acc == acc else "")
                )
            return 0
        rows = sweep.run(
            args.executor,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            max_concurrent=args.max_concurrent,
            data_dir=args.data_dir,
            engine=args.engine,
        )
    except SweepError as e:
        raise _cli_error(str(e)) from e
    done = sum(r["status"] == "done" for r in rows)
    print(f"{done}/{len(rows)} trials finished; results in {sweep.dir / 'results.csv'}")
    best = sweep.dir / "best.json"
    if best.exists():
        b = json.loads(best.read_text())
        print(
            f"best: {b['trial']} with best test accuracy {b['best_test_accuracy']:.2f}% "
            f"(epoch {b['best_epoch'] + 1}); {best}"
        )
    return 0


# ----------------------------------------------------------------------------- figures


def _fig_sweep(args: argparse.Namespace, which: str) -> list[Path]:
    from .analysis import accuracy_curve
    from .plotting import plot_accuracy_curve, write_csv
    from .sweep import Sweep, SweepError

    d = args.sweep_dir or args.dir
    if not d:
        raise _cli_error(f"figure {which} needs --sweep-dir (see desire-bp sweep --figure {which})")
    try:
        sweep = Sweep.load(d)
    except SweepError as e:
        raise _cli_error(str(e)) from e
    rows = [r for r in sweep.results() if r["epochs_done"] > 0]
    if not rows:
        raise _cli_error(f"no trial of {d} has finished an epoch yet (run desire-bp sweep {d})")
    if which == "fig4":
        xs = [r["config"].sizes[-2] for r in rows]  # N: the last hidden layer of 784-2N-N-10
        xlabel, net, T = "N (network 784-2N-N-10)", "784-2N-N-10", None
        name = "Fig. 4: test accuracy vs hidden neurons N"
    else:
        xs = [r["config"].T for r in rows]
        xlabel, net, T = "time steps T", None, "swept"
        name = "Fig. 5: test accuracy vs time steps T"
    curve = accuracy_curve(
        xs, [r["final_test_accuracy"] for r in rows], [r["best_test_accuracy"] for r in rows]
    )
    cfg = rows[0]["config"]
    partial = sum(r["status"] != "done" for r in sweep.results())
    note = f"; {partial} trial(s) unfinished" if partial else ""
    title = f"{name}{note}\n{describe(cfg, net, T)}"
    if args.title:
        title = args.title
    out = Path(args.out) if args.out else sweep.dir / f"{which}.png"
    png = plot_accuracy_curve(
        curve, xlabel, title, out, logx=which == "fig4", paper=PAPER_POINTS[which]
    )
    keys = ["x", "n", "final_mean", "final_std", "best_mean", "best_std"]
    header = ["N" if which == "fig4" else "T", "trials"] + [f"{k}_test_accuracy" for k in keys[2:]]
    csv = write_csv(
        out.with_suffix(".csv"),
        header,
        [[_num(curve[k][i].item()) for k in keys] for i in range(len(curve["x"]))],
    )
    return [png, csv]


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _fig6(run: Path, out: Path, title: str | None) -> list[Path]:
    from .plotting import plot_local_losses, write_csv
    from .training import read_metrics

    rows = [r for r in read_metrics(run) if "local_loss" in r]
    if not rows:
        raise _cli_error(f"{run}: no local losses recorded (train with --record losses)")
    cfg = _run_config(run)
    epochs = np.array([r["epoch"] for r in rows])
    losses = np.array([r["local_loss"] for r in rows])
    acc = np.array([r["test_accuracy"] for r in rows])
    n = rows[-1].get("local_loss_samples", "?")
    title = title or (
        f"Fig. 6: local test losses per layer ({n} test samples) and test accuracy\n{describe(cfg)}"
    )
    png = plot_local_losses(epochs, losses, acc, title, out)
    header = ["epoch", "test_accuracy"] + [f"loss_layer{k + 1}" for k in range(losses.shape[1])]
    data = [
        [int(e) + 1, float(a), *map(float, ls)]
        for e, a, ls in zip(epochs, acc, losses, strict=True)
    ]
    return [png, write_csv(out.with_suffix(".csv"), header, data)]


def _fig7(run: Path, out: Path, title: str | None) -> list[Path]:
    from .analysis import read_spike_records
    from .plotting import plot_class_rates, write_csv

    recs = read_spike_records(run)
    if not recs:
        raise _cli_error(f"{run}: no spike records (train with --record spikes)")
    cfg = _run_config(run)
    k = len(next(iter(recs.values()))["layer1_neurons"])
    title = title or (
        f"Fig. 7: relative spike count n/T per class, {k} random neurons per hidden layer and "
        f"the outputs, after epochs {', '.join(str(e + 1) for e in sorted(recs))}\n"
        f"{describe(cfg)}"
    )
    png = plot_class_rates(recs, title, out)
    data = []
    for e in sorted(recs):
        r = recs[e]
        for layer in range(1, len(cfg.sizes)):
            rates = r[f"layer{layer}_rates"]
            for j, neuron in enumerate(r[f"layer{layer}_neurons"]):
                for c in range(rates.shape[1]):
                    data.append([e + 1, layer, int(neuron), c, float(rates[j, c])])
    header = ["epoch", "layer", "neuron", "class", "rate"]
    return [png, write_csv(out.with_suffix(".csv"), header, data)]


def _fig8(run: Path, out: Path, title: str | None) -> list[Path]:
    from .analysis import read_contributions
    from .plotting import plot_contributions, write_csv

    try:
        rec = read_contributions(run)
    except FileNotFoundError as e:
        raise _cli_error(str(e)) from e
    cfg = _run_config(run)
    samples, C = rec["samples"], rec["C"]
    title = title or (
        f"Fig. 8: contribution of each input pixel to layer 1's desire, every "
        f"{int(rec['every'])} training samples (mean over {int(rec['n_test'])} test samples)\n"
        f"{describe(cfg)}"
    )
    side = int(round(np.sqrt(C.shape[1])))
    shape = (side, side) if side * side == C.shape[1] else (1, C.shape[1])
    png = plot_contributions(samples, C, title, out, shape)
    header = ["samples", "mean"] + [f"pixel{i}" for i in range(C.shape[1])]
    data = [[int(s), float(c.mean()), *map(float, c)] for s, c in zip(samples, C, strict=True)]
    return [png, write_csv(out.with_suffix(".csv"), header, data)]


def cmd_figure(args: argparse.Namespace) -> int:
    which = args.name
    if which in ("fig4", "fig5"):
        paths = _fig_sweep(args, which)
    else:
        if not args.dir:
            raise _cli_error(f"figure {which} needs a run directory: desire-bp figure {which} RUN")
        run = Path(args.dir)
        if not run.is_dir():
            raise _cli_error(f"{run} is not a directory")
        out = Path(args.out) if args.out else run / f"{which}.png"
        paths = {"fig6": _fig6, "fig7": _fig7, "fig8": _fig8}[which](run, out, args.title)
    for p in paths:
        print(f"wrote {p}")
    return 0


# ----------------------------------------------------------------------------- parsers


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep`` and ``figure`` to the ``desire-bp`` parser, and ``--record`` to ``train``."""
    from .cli import _add_config_options

    train = sub.choices.get("train")
    if train is not None:
        _add_record_options(train)
        train.set_defaults(train_hooks=train_hooks)

    s = sub.add_parser(
        "sweep",
        help="hyper-parameter sweep (grid / random search; Ray Tune if installed)",
        description="Grid or random search over Config fields, one training run per trial in "
        "SWEEP_DIR/trials/. Run again with only SWEEP_DIR to resume an interrupted sweep. "
        "Parameters: any Config field (lr, p_hid, T, theta_hid, sizes as 784-100-10, ...), N "
        "(784-2N-N-10) and hidden (e.g. 1600-800).",
    )
    s.add_argument("sweep_dir", metavar="SWEEP_DIR")
    s.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2,...",
        help="grid values of a parameter (repeat for more; every combination is a trial)",
    )
    s.add_argument(
        "--random",
        action="append",
        default=[],
        metavar="NAME=DIST",
        help="random search: uniform:LO:HI, loguniform:LO:HI, randint:LO:HI or choice:A,B,...",
    )
    s.add_argument("--trials", type=int, help="random samples (default 10)")
    s.add_argument("--search-seed", type=int, default=0, help="seed of the random search (0)")
    s.add_argument(
        "--figure",
        choices=["fig4", "fig5"],
        help="the paper's sweep: fig4 = grid over N in 784-2N-N-10, fig5 = grid over T",
    )
    s.add_argument("--values", help="values of the --figure sweep (default: 50..1600 / 5..30)")
    _add_config_options(s)
    s.add_argument(
        "--executor",
        choices=["auto", "ray", "local"],
        default="auto",
        help="auto: Ray Tune if installed, else sequential in this process",
    )
    s.add_argument("--address", help="Ray cluster address (default: start local Ray)")
    s.add_argument("--cpus-per-trial", type=float, default=1, help="Ray CPUs per trial (1)")
    s.add_argument("--max-concurrent", type=int, help="at most this many trials at once (Ray)")
    s.add_argument("--engine", choices=["fast", "reference"], default="fast")
    s.add_argument("--data-dir")
    s.add_argument("--list", action="store_true", help="list the trials and their state only")
    s.set_defaults(func=cmd_sweep)

    f = sub.add_parser(
        "figure",
        help="plot the paper's Fig. 4-8 (PNG + CSV) from a sweep or a recorded run",
        description="fig4/fig5: from a sweep directory (desire-bp sweep DIR --figure fig4). "
        "fig6/fig7/fig8: from a run trained with --record losses / spikes / contributions.",
    )
    f.add_argument("name", choices=FIGURES)
    f.add_argument("dir", nargs="?", metavar="DIR", help="run directory (fig6-8) or sweep dir")
    f.add_argument("--sweep-dir", help="sweep directory (fig4, fig5)")
    f.add_argument("--out", help="PNG to write (CSV beside it; default DIR/<name>.png)")
    f.add_argument("--title", help="replace the generated title")
    f.set_defaults(func=cmd_figure)
