"""``desire-bp sweep``, ``figure``, ``report``, ``table3``, ``export-nir`` and ``torch-check``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..config import PRESETS
from ..figures import FIGURES
from ..nir_export import DEFAULT_DT
from ..nir_export import TARGETS as NIR_TARGETS
from .options import (
    CLIError,
    add_config_options,
    add_engine_option,
    check_output,
    config_from_args,
    dumps_json,
    positive_int,
)

__all__ = ["add_parsers"]


def cmd_sweep(args: argparse.Namespace) -> int:
    from ..sweep import Sweep, SweepError, figure_grid, parse_grid, parse_random
    from ..sweep.core import best_text

    try:
        grid: dict[str, list[Any]] = {}
        if args.figure:
            name, values = next(iter(figure_grid(args.figure).items()))
            if args.values:
                values = parse_grid(f"{name}={args.values}")[1]
            grid[name] = values
        elif args.values:
            raise CLIError("--values needs --figure fig4 or fig5")
        for spec in args.grid:
            name, values = parse_grid(spec)
            if name in grid:
                raise CLIError(f"--grid {spec!r}: parameter {name} given twice")
            grid[name] = values
        random = [parse_random(s) for s in args.random]
        if args.trials is not None and not random:
            raise CLIError("--trials needs at least one --random")
        if grid or random:
            base = config_from_args(args)
            sweep = Sweep.create(
                args.sweep_dir, base, grid, random, args.trials or 10, args.search_seed
            )
        else:
            sweep = Sweep.load(args.sweep_dir)
            if args.epochs is not None:
                sweep = sweep.raise_epochs(args.epochs)
        for run_dir in args.reuse:
            trial = sweep.adopt(run_dir)
            print(f"trial {trial.id}: reusing the run {run_dir}")
        if args.list:
            for r in sweep.results():
                acc = r["best_test_accuracy"]
                val = r.get("best_val_accuracy")
                print(
                    f"{r['trial']:<40} {r['status']:<8} {r['epochs_done']}/{r['epochs']} epochs"
                    + (f"  best {acc:.2f}%" if acc == acc else "")
                    + (f" (validation {val:.2f}%)" if val is not None and val == val else "")
                )
            return 0
        rows = sweep.run(
            args.executor,
            address=args.address,
            cpus_per_trial=args.cpus_per_trial,
            max_concurrent=args.max_concurrent,
            asha=args.asha,
            grace_epochs=args.grace_epochs,
            data_dir=args.data_dir,
            engine=args.engine,
        )
    except SweepError as e:
        raise CLIError(str(e)) from e
    done = sum(r["status"] in ("done", "stopped") for r in rows)
    stopped = sum(r["status"] == "stopped" for r in rows)
    print(
        f"{done}/{len(rows)} trials finished"
        + (f" ({stopped} stopped early)" if stopped else "")
        + f"; results in {sweep.dir / 'results.csv'}"
    )
    best = sweep.dir / "best.json"
    if best.exists():
        b = json.loads(best.read_text())
        print(f"best: {b['trial']} with {best_text(b)}; {best}")
    return 0


def cmd_figure(args: argparse.Namespace) -> int:
    from ..figures import draw_figure

    check_output(args.out, "--out")
    which = args.name
    if which in ("fig4", "fig5"):
        d = args.sweep_dir or args.dir
        if not d:
            raise CLIError(
                f"figure {which} needs --sweep-dir (see desire-bp sweep --figure {which})"
            )
    elif not args.dir:
        raise CLIError(f"figure {which} needs a run directory: desire-bp figure {which} RUN")
    else:
        d = args.dir
    if args.compare and which not in ("fig4", "fig5"):
        raise CLIError(f"--compare draws more sweeps beside the first: fig4 and fig5, not {which}")
    if args.zoom is not None and which not in ("fig4", "fig5"):
        raise CLIError(f"--zoom is the accuracy axis of fig4 and fig5, not of {which}")
    if args.zoom is not None and not 0 <= args.zoom <= 100:
        raise CLIError(
            f"--zoom takes 0 (one panel) or a width in points up to 100, not {args.zoom:g}"
        )
    zoom = 3.0 if args.zoom is None else (args.zoom or None)
    for p in draw_figure(which, d, args.out, args.title, args.compare or (), zoom=zoom):
        print(f"wrote {p}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from ..report import (
        PAPER,
        aggregate_seeds,
        parse_window,
        plot_comparison,
        plot_curves,
        plot_fingerprints,
        summarize,
        window_means,
    )

    agg = aggregate_seeds(args.run_dirs) if args.seeds else None  # refused before any output
    windows = (  # also refused before any output
        [window_means(r, *parse_window(args.window)) for r in args.run_dirs]
        if args.window is not None
        else None
    )
    check_output(args.compare, "--compare")
    check_output(args.fingerprints, "--fingerprints")
    if args.reference is not None and not args.fingerprints:
        raise CLIError("--reference needs --fingerprints PNG")
    if args.reference is not None and not Path(args.reference).is_file():
        raise CLIError(f"--reference {args.reference}: no such file")
    if args.fingerprints:
        png = plot_fingerprints(args.run_dirs, args.fingerprints, args.reference)
        print(f"weight statistics per epoch of {len(args.run_dirs)} runs in {png}")
    if args.compare:
        datasets = {summarize(run)["dataset"] for run in args.run_dirs}
        paper = PAPER.get(datasets.pop()) if len(datasets) == 1 else None
        png = plot_comparison(args.run_dirs, args.compare, paper=paper)
        print(f"test accuracy of {len(args.run_dirs)} runs in {png}")
    for run in args.run_dirs:
        s = summarize(run)
        png = None if args.no_curves else plot_curves(run, paper=PAPER.get(s["dataset"]))
        if args.json:
            print(dumps_json({**s, "png": str(png) if png else None}))
        else:
            val = (
                f", chosen on validation {s['best_val_accuracy']:.2f} %"
                if s["selected_by"] == "validation"
                else ""
            )
            w = s.get("final_weights")
            wtext = (
                f"; final W1 max |w| {w['w_max_abs'][0]:.3g}, runaway neurons "
                f"{'/'.join(map(str, w['runaway'][:-1]))}"
                if w
                else ""
            )
            print(
                f"{run}: {s['dataset']} {'-'.join(map(str, s['sizes']))}, "
                f"{s['epochs_done']}/{s['epochs_planned']} epochs: final "
                f"{s['final_test_accuracy']:.2f} %, best {s['best_test_accuracy']:.2f} % (epoch "
                f"{s['best_epoch']}{val}), {s['seconds_per_epoch_median']:.1f} s/epoch (median)"
                f"{wtext}" + (f"; curves in {png}" if png else "")
            )
    for w in windows or []:
        if args.json:
            print(dumps_json({"window": w}))
        else:
            parts = [
                f"{name} {w[name + '_mean']:.2f} ± {w[name + '_std']:.2f} %"
                for name in ("val", "test", "train")
                if name + "_mean" in w
            ]
            print(f"{w['run_dir']}: mean over epochs {w['first']}-{w['last']}: {', '.join(parts)}")
    if agg is not None:
        if args.json:
            print(dumps_json({"seeds_mean": agg}))
        else:
            how = "validation" if agg["selected_by"] == "validation" else "test"
            print(
                f"mean ± std over {agg['n']} seeds ({', '.join(map(str, agg['seeds']))}"
                f"{'' if agg['complete'] else '; not all complete'}): final "
                f"{agg['final_mean']:.2f} ± {agg['final_std']:.2f} %, best "
                f"{agg['best_mean']:.2f} ± {agg['best_std']:.2f} % (best epochs chosen on the "
                f"{how} set)"
            )
    return 0


def cmd_table3(args: argparse.Namespace) -> int:
    """Measured operation counts, printed and written as CSV/JSON."""
    from ..opcount import format_table, measure_table3, write_table3

    check_output(args.out, "--out", directory=True)
    res = measure_table3(args.checkpoint, args.preset, args.samples, args.arithmetic, args.data_dir)
    cfg = res["config"]
    print(
        f"operations per neuron per sample ({args.samples} training samples of "
        f"{cfg['dataset']}, network {'-'.join(map(str, cfg['sizes']))}, T={cfg['T']}; "
        "layer 'network' = whole network per sample)"
    )
    print(format_table(res["rows"]))
    stem = write_table3(res, args.out, args.arithmetic)
    print(f"wrote {stem}.csv and {stem}.json")
    return 0


def cmd_export_nir(args: argparse.Namespace) -> int:
    try:
        import nir
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SystemExit("export-nir needs the nir package: pip install 'desire-bp[nir]'") from e
    from ..nir_export import LOST, agreement, export_nir, node_chain

    check_output(args.out, "OUT")
    graph = export_nir(args.checkpoint, args.out, args.dt, not args.no_delay, args.target)
    print(f"wrote {args.out}: " + " -> ".join(node_chain(graph)))
    lost = LOST
    if args.target != "nir":
        from ..interop import LOST_SPIKES

        print(f"for snnTorch and Norse: run {graph.metadata['steps']} steps, encoder outside")
        lost = LOST_SPIKES
    print("not expressible in NIR 1.0 (see docs/nir.md):")
    for line in lost:
        print(f"  - {line}")
    if args.check:
        from ..data import load_dataset
        from ..engine import Network

        net = Network.load(args.checkpoint)
        test = load_dataset(net.cfg.dataset, "test", args.data_dir).subset(args.check)
        back = nir.read(str(args.out))  # check what was written, not the in-memory graph
        print(json.dumps(agreement(back, net, test.images, test.labels), indent=1))
    return 0


def cmd_torch_check(args: argparse.Namespace) -> int:
    try:
        from ..torch import compare_with_engine
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise SystemExit("torch-check needs PyTorch: pip install 'desire-bp[torch]'") from e
    res = compare_with_engine(
        args.checkpoint,
        args.samples,
        args.exact,
        args.device,
        args.batch,
        args.threads,
        args.data_dir,
    )
    print(json.dumps(res, indent=1))
    return 0


# ----------------------------------------------------------------------------- parsers


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add ``sweep``, ``figure``, ``report``, ``table3``, ``export-nir`` and ``torch-check``."""
    s = sub.add_parser(
        "sweep",
        help="hyper-parameter sweep (grid / random search; local processes or Ray Tune)",
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
    s.add_argument("--trials", type=positive_int, help="random samples (default 10)")
    s.add_argument("--search-seed", type=int, default=0, help="seed of the random search (0)")
    s.add_argument(
        "--figure",
        choices=FIGURES[:2],
        help="the paper's sweep: fig4 = grid over N in 784-2N-N-10, fig5 = grid over T",
    )
    s.add_argument("--values", help="values of the --figure sweep (default: 50..1600 / 5..30)")
    add_config_options(s)
    s.add_argument(
        "--executor",
        choices=["local", "ray", "auto"],
        default="local",
        help="local (default): this machine, --max-concurrent worker processes; ray: Ray Tune "
        "(pip install 'desire-bp[ray]'); auto: Ray if installed, else local",
    )
    s.add_argument(
        "--address", help="Ray cluster address, e.g. 10.0.0.1:6379 (default: start local Ray)"
    )
    s.add_argument("--cpus-per-trial", type=float, default=1, help="Ray CPUs per trial (1)")
    s.add_argument(
        "--max-concurrent",
        type=positive_int,
        help="at most this many trials at once (local: worker processes, default 1; Ray: as "
        "many as fit)",
    )
    s.add_argument(
        "--asha",
        action="store_true",
        help="Ray: stop unpromising trials early (Tune's ASHA scheduler on the test accuracy)",
    )
    s.add_argument(
        "--grace-epochs", type=int, default=1, help="ASHA: epochs every trial gets at least (1)"
    )
    add_engine_option(s)
    s.add_argument("--data-dir")
    s.add_argument(
        "--reuse",
        action="append",
        default=[],
        metavar="RUN_DIR",
        help="take an existing run as the trial of its exact configuration instead of "
        "training it (repeat for more), e.g. --reuse results/mnist for N = 800 in fig4",
    )
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
    f.add_argument(
        "--compare",
        action="append",
        metavar="SWEEP_DIR",
        help="fig4, fig5: another sweep over the same parameter drawn beside the first, "
        "labelled by how its config differs (repeat for more); the CSV then holds all of them",
    )
    f.add_argument(
        "--zoom",
        type=float,
        metavar="POINTS",
        help="fig4, fig5: when a point lies more than POINTS below the highest, add a panel "
        "showing the top POINTS of the accuracy axis (default 3; 0: one panel)",
    )
    f.add_argument("--out", help="PNG to write (CSV beside it; default DIR/<name>.png)")
    f.add_argument("--title", help="replace the generated title")
    f.set_defaults(func=cmd_figure)

    p = sub.add_parser("report", help="summary and accuracy curves (PNG) of run directories")
    p.add_argument("run_dirs", nargs="+")
    p.add_argument("--json", action="store_true", help="one JSON object per run")
    p.add_argument(
        "--compare",
        metavar="PNG",
        help="also draw the test accuracy of all the runs in one figure",
    )
    p.add_argument(
        "--fingerprints",
        metavar="PNG",
        help="also draw the runs' per-epoch weight statistics (std, max |w|, runaway neurons)",
    )
    p.add_argument(
        "--reference",
        metavar="CHECKPOINT",
        help="with --fingerprints: a checkpoint (.npz, or the authors' .pt) drawn as dashed "
        "lines, e.g. the published model",
    )
    p.add_argument(
        "--window",
        metavar="FIRST-LAST",
        help="also print each run's mean ± std of validation, test and training accuracy over "
        "epochs FIRST to LAST (1-based, both included), e.g. 51-100",
    )
    p.add_argument(
        "--seeds",
        action="store_true",
        help="the runs are seeds of one configuration: also print the mean ± std of their "
        "final and best test accuracy (refused if the configs differ in more than the seed)",
    )
    p.add_argument(
        "--no-curves",
        action="store_true",
        help="print only: do not (re)draw each run's RUN_DIR/accuracy.png",
    )
    p.set_defaults(func=cmd_report)

    t3 = sub.add_parser(
        "table3", help="operation counts per neuron per sample (paper Table 3), measured"
    )
    src = t3.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="an .npz checkpoint (its weights and config)")
    src.add_argument("--preset", choices=sorted(PRESETS), help="initial weights")
    t3.add_argument("--samples", type=positive_int, default=100, help="training samples counted")
    t3.add_argument("--arithmetic", choices=["float", "int", "both"], default="float")
    t3.add_argument("--out", default="results/table3", help="directory for the CSV/JSON")
    t3.add_argument("--data-dir")
    t3.set_defaults(func=cmd_table3)

    n = sub.add_parser("export-nir", help="export a checkpoint as a NIR graph")
    n.add_argument("checkpoint", help="an .npz checkpoint")
    n.add_argument("out", help="the .nir (HDF5) file to write")
    n.add_argument("--dt", type=float, default=DEFAULT_DT, help="step length in s (1e-4)")
    n.add_argument(
        "--target",
        choices=NIR_TARGETS,
        default="nir",
        help="nir: encoder and delays in the graph; snntorch, norse: one graph for both "
        "importers (encoder spikes in, no Delay nodes, T - (L-1) steps; docs/nir.md)",
    )
    n.add_argument(
        "--check",
        type=positive_int,
        metavar="N",
        help="read back, run N test samples under NIR semantics, with desire-bp's metadata "
        "and (--target snntorch|norse) in the installed libraries; compare with the engine",
    )
    n.add_argument(
        "--no-delay",
        action="store_true",
        help="leave out the Delay nodes (for importers without Delay; changes the network)",
    )
    n.add_argument("--data-dir")
    n.set_defaults(func=cmd_export_nir)

    tc = sub.add_parser(
        "torch-check",
        help="run a checkpoint's test set as a PyTorch module (desire_bp.torch) and the engine",
        description="Prints as JSON both accuracies, the share of identical predictions and "
        "of identical count rows, and the seconds taken (docs/torch.md).",
    )
    tc.add_argument("checkpoint", help="an .npz checkpoint")
    tc.add_argument("--samples", type=int, help="the first N test samples (default: all)")
    tc.add_argument("--exact", action="store_true", help="the engine's summation order")
    tc.add_argument("--device", default="cpu", help="torch device (cpu)")
    tc.add_argument("--batch", type=int, default=10000, help="samples per call")
    tc.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    tc.add_argument("--data-dir")
    tc.set_defaults(func=cmd_torch_check)
