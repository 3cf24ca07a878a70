"""Summaries and accuracy curves of run directories (``desire-bp report RUN_DIR``)."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .config import Config
from .training import RunError, read_metrics, run_config

__all__ = [
    "summarize",
    "aggregate_seeds",
    "window_means",
    "parse_window",
    "plot_curves",
    "plot_comparison",
    "config_differences",
    "PAPER",
]


def summarize(run_dir: str | Path) -> dict[str, Any]:
    """Final and best test accuracy, best epoch (1-based), epochs done, mean seconds per epoch.

    In a run with a validation hold-out the "best" epoch is the one chosen on the validation
    set (``selected_by`` is ``"validation"``, ``best_val_accuracy`` its validation accuracy)
    and ``best_test_accuracy`` the test accuracy of that epoch; otherwise the epoch of the
    highest test accuracy (``selected_by``: ``"test"``).  ``final_weights`` is the weight
    summary of the last epoch (``w_std``, ``w_max_abs``, ``runaway`` per layer) when the run
    recorded one.

    Raises:
        RunError: no completed epoch in ``run_dir``.
    """
    rows = read_metrics(run_dir)
    if not rows:
        raise RunError(f"{run_dir}: no completed epoch (metrics.jsonl missing or empty)")
    by_val = rows[-1].get("val_accuracy") is not None
    if by_val:
        best = max(rows, key=lambda r: (r["val_accuracy"], -r["epoch"]))
    else:
        best = max(rows, key=lambda r: (r["test_accuracy"], -r["epoch"]))
    secs = [r["train_seconds"] + r["test_seconds"] for r in rows]
    cfg = json.loads((Path(run_dir) / "config.json").read_text())
    return {
        "run_dir": str(run_dir),
        "dataset": cfg["dataset"],
        "sizes": cfg["sizes"],
        "epochs_done": len(rows),
        "epochs_planned": cfg["epochs"],
        "final_test_accuracy": rows[-1]["test_accuracy"],
        "final_train_accuracy": rows[-1]["train_accuracy"],
        "best_test_accuracy": best["test_accuracy"],
        "best_epoch": best["epoch"] + 1,
        "selected_by": "validation" if by_val else "test",
        **(
            {
                "best_val_accuracy": best["val_accuracy"],
                "final_val_accuracy": rows[-1]["val_accuracy"],
            }
            if by_val
            else {}
        ),
        **(
            {"final_weights": {k: rows[-1][k] for k in ("w_std", "w_max_abs", "runaway")}}
            if "runaway" in rows[-1]
            else {}
        ),
        "seconds_per_epoch": sum(secs) / len(secs),
        "seconds_per_epoch_median": float(statistics.median(secs)),
    }


def aggregate_seeds(run_dirs: Sequence[str | Path]) -> dict[str, Any]:
    """Mean and standard deviation of the final and best test accuracy of runs that are seeds
    of one configuration (the README's "mean ± std" rows).

    The runs' configs must be equal except for ``seed``; the best epoch of each run is chosen
    as :func:`summarize` chooses it (on the validation set where the runs hold one out).

    Returns:
        ``n`` and ``seeds`` (in the order given), ``dataset``, ``selected_by``,
        ``complete`` (every run has trained all its epochs), ``final_mean`` /
        ``final_std`` and ``best_mean`` / ``best_std`` (percent; the sample standard deviation,
        with ``n - 1``), and ``runs`` (each run's directory, seed, final and best accuracy).

    Raises:
        RunError: fewer than two runs, a run with no completed epoch, two runs with the same
            seed, or configs that differ in more than the seed (the message names the run and
            the fields).
    """
    if len(run_dirs) < 2:
        raise RunError("a mean over seeds needs at least two runs")
    cfgs = [run_config(r) for r in run_dirs]
    for r, cfg in zip(run_dirs[1:], cfgs[1:], strict=True):
        fields = ", ".join(k for k in cfgs[0].differing_fields(cfg) if k != "seed")
        if fields:
            raise RunError(
                f"{r}: not a seed of {run_dirs[0]}: the configs differ in {fields}, not only "
                "in the seed"
            )
    seeds = [c.seed for c in cfgs]
    if len(set(seeds)) < len(seeds):
        raise RunError(f"the runs {', '.join(map(str, run_dirs))} repeat a seed: {seeds}")
    sums = [summarize(r) for r in run_dirs]
    final = [x["final_test_accuracy"] for x in sums]
    best = [x["best_test_accuracy"] for x in sums]
    return {
        "n": len(sums),
        "seeds": seeds,
        "dataset": sums[0]["dataset"],
        "selected_by": sums[0]["selected_by"],
        "complete": all(x["epochs_done"] == x["epochs_planned"] for x in sums),
        "final_mean": statistics.mean(final),
        "final_std": statistics.stdev(final),
        "best_mean": statistics.mean(best),
        "best_std": statistics.stdev(best),
        "runs": [
            {"run_dir": str(r), "seed": sd, "final": f, "best": b}
            for r, sd, f, b in zip(run_dirs, seeds, final, best, strict=True)
        ],
    }


def parse_window(text: str) -> tuple[int, int]:
    """``"A-B"`` (1-based epochs, both included; ``"A"`` alone is one epoch) as ``(A, B)``.

    Raises:
        RunError: not of that form, an epoch below 1, or ``A > B`` (the message quotes it).
    """
    parts = text.split("-")
    try:
        if len(parts) not in (1, 2):
            raise ValueError
        first, last = int(parts[0]), int(parts[-1])
    except ValueError:
        raise RunError(
            f"window {text!r}: expected FIRST-LAST, 1-based epochs, e.g. 51-100"
        ) from None
    if first < 1 or last < first:
        raise RunError(f"window {text!r}: needs 1 <= FIRST <= LAST")
    return first, last


def window_means(run_dir: str | Path, first: int, last: int) -> dict[str, Any]:
    """Mean (and sample standard deviation) of a run's accuracies over epochs ``first`` to
    ``last`` (1-based, both included): the figures the write-ups compare protocols with, as
    one epoch's accuracy carries ±0.1-0.2 points of epoch-to-epoch noise.

    Returns:
        ``run_dir``, ``first``, ``last``, ``n`` (epochs), and for each of ``test``, ``train``
        (with dropout) and, in a run with a validation hold-out, ``val``: ``{name}_mean`` and
        ``{name}_std`` (percent; the std is 0.0 for a one-epoch window).

    Raises:
        RunError: the run has not completed epoch ``last`` (the message says how many it has).
    """
    rows = read_metrics(run_dir)
    if len(rows) < last:
        raise RunError(
            f"{run_dir}: window {first}-{last} needs {last} completed epochs, the run has "
            f"{len(rows)}"
        )
    sel = rows[first - 1 : last]
    out: dict[str, Any] = {"run_dir": str(run_dir), "first": first, "last": last, "n": len(sel)}
    keys = [("test", "test_accuracy"), ("train", "train_accuracy")]
    if all(r.get("val_accuracy") is not None for r in sel):
        keys.append(("val", "val_accuracy"))
    for name, key in keys:
        vals = [float(r[key]) for r in sel]
        out[f"{name}_mean"] = statistics.mean(vals)
        out[f"{name}_std"] = statistics.stdev(vals) if len(vals) > 1 else 0.0
    return out


def config_differences(run_dirs: list[str | Path]) -> list[str]:
    """Per run, the config fields (``name=value``) in which it differs from the first run
    (``init_from`` shown as the source's directory/file name and the epochs its run had
    completed); ``""`` for the first and for a twin."""
    cfgs = [  # through Config: fields an older config.json lacks get their defaults
        Config.from_dict(json.loads((Path(r) / "config.json").read_text())).to_dict()
        for r in run_dirs
    ]
    labels = []
    for cfg in cfgs:
        parts = []
        for key, value in cfg.items():
            if key == "init_from":
                if value and value != cfgs[0]["init_from"]:
                    src = Path(value["path"])
                    src_name = f"{src.parent.name}/{src.name}" if src.parent.name else src.name
                    parts.append(f"init from {src_name} (epoch {_own_epochs(value)})")
            elif key != "epochs" and value != cfgs[0].get(key):
                parts.append(f"{key}={value}")
        labels.append(", ".join(parts))
    return labels


def _init_from(cfg: dict[str, Any]) -> dict[str, Any] | None:
    """The ``init_from`` record of a ``config.json`` dictionary (also in the older form, inside
    ``extra``)."""
    return cfg.get("init_from") or (cfg.get("extra") or {}).get("init_from")


def _own_epochs(origin: dict[str, Any]) -> int:
    """Epochs the source checkpoint of ``--init-from`` had completed in its run (0 if unknown)."""
    epoch = origin.get("epoch")
    return 0 if epoch is None else int(epoch) + 1


def _epochs_before(origin: dict[str, Any], depth: int = 0) -> int:
    """Epochs of training behind the source checkpoint of ``--init-from``: those of its own
    run plus, when that run was itself started from a checkpoint, those behind that one
    (followed through the source run directories' ``config.json``, as far as they exist)."""
    done = _own_epochs(origin)
    path = origin.get("path")
    src_cfg = Path(path).parent / "config.json" if path else None
    if depth < 32 and src_cfg is not None and src_cfg.is_file():
        try:
            parent = _init_from(json.loads(src_cfg.read_text()))
        except (OSError, ValueError, AttributeError):
            parent = None
        if parent:
            done += _epochs_before(parent, depth + 1)
    return done


def plot_comparison(
    run_dirs: list[str | Path], out: str | Path, paper: float | None = None
) -> Path:
    """One PNG with the test accuracy per epoch of several runs (labels: run directory name and
    how its config differs from the first run's).  A run started from another run's checkpoint
    (``train --init-from``) is drawn from the epoch after the one it started from, counting
    every epoch behind that checkpoint when its run was itself started from another one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6))
    lo, hi = 100.0, 0.0
    drawn: list[int] = []
    for run, diff in zip(run_dirs, config_differences(run_dirs), strict=True):
        rows = read_metrics(run)
        if not rows:
            raise RunError(f"{run}: no completed epoch to plot")
        acc = [r["test_accuracy"] for r in rows]
        lo, hi = min(lo, min(acc[len(acc) // 10 :])), max(hi, max(acc))
        label = f"{Path(run).name}" + (f" ({diff})" if diff else "")
        cfg = json.loads((Path(run) / "config.json").read_text())
        start = _epochs_before(_init_from(cfg) or {})
        epochs = [start + r["epoch"] + 1 for r in rows]
        drawn += epochs
        ax.plot(epochs, acc, lw=1.2, label=label, **_marks(rows))
    if paper is not None:
        ax.axhline(paper, color="gray", ls="--", lw=1, label=f"paper {paper:.2f} %")
        lo, hi = min(lo, paper), max(hi, paper)
    ax.set_ylim(max(0.0, lo - 0.8), min(100.0, hi + 0.4))
    _integer_epochs(ax, drawn)
    ax.set_xlabel("epoch")
    ax.set_ylabel("test accuracy [%] (strict maximum)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save_png(fig, out, 120)


def plot_curves(
    run_dir: str | Path, out: str | Path | None = None, paper: float | None = None
) -> Path:
    """PNG of training and test accuracy per epoch (default ``RUN_DIR/accuracy.png``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        raise RunError(f"{run_dir}: no completed epoch to plot")
    s = summarize(run_dir)
    ep = [r["epoch"] + 1 for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.plot(
        ep, [r["train_accuracy"] for r in rows], label="training (with dropout)", **_marks(rows)
    )
    ax.plot(ep, [r["test_accuracy"] for r in rows], label="test", **_marks(rows))
    if s["selected_by"] == "validation":
        ax.plot(
            ep,
            [r["val_accuracy"] for r in rows],
            label="validation (held-out training images)",
            **_marks(rows),
        )
    _integer_epochs(ax, ep)
    if paper is not None:
        ax.axhline(paper, color="gray", ls="--", lw=1, label=f"paper {paper:.2f} %")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy [%] (strict maximum)")
    lo = min(
        min(r["test_accuracy"] for r in rows[len(rows) // 10 :]),
        min(r["train_accuracy"] for r in rows[len(rows) // 10 :]),
    )
    ax.set_ylim(max(0.0, lo - 1.0), 100.0)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")  # the curves sit low (Fashion-MNIST) or high (MNIST)
    ax.set_title(
        f"{s['dataset']} {'-'.join(map(str, s['sizes']))}, "
        f"{s['epochs_done']}/{s['epochs_planned']} epochs\nfinal {s['final_test_accuracy']:.2f} %,"
        f" best {s['best_test_accuracy']:.2f} % (epoch {s['best_epoch']}"
        f"{', chosen on validation' if s['selected_by'] == 'validation' else ''})",
        fontsize=9,
    )
    return _save_png(fig, Path(out) if out else Path(run_dir) / "accuracy.png", 120)


def plot_fingerprints(
    run_dirs: list[str | Path],
    out: str | Path,
    reference: str | Path | None = None,
    reference_label: str | None = None,
) -> Path:
    """PNG of the per-epoch weight statistics that every run records in ``metrics.jsonl``
    (:func:`desire_bp.fingerprint.summary`): one column per weight layer, rows standard
    deviation, maximum ``|w|`` and "runaway" neurons (maximum incoming ``|w|`` > 20), one line
    per run; ``reference`` (a checkpoint, ``.npz`` or the authors' ``.pt``) is drawn as dashed
    horizontal lines, e.g. the published model.

    Raises:
        RunError: a run has no completed epoch, no recorded statistics, or another number of
            layers than the first run or the reference.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .fingerprint import load_weights, summary

    series = []
    for run in run_dirs:
        rows = [r for r in read_metrics(run) if "w_std" in r]
        if not rows:
            raise RunError(f"{run}: no epoch with recorded weight statistics (w_std) to plot")
        series.append((Path(run).name, rows))
    n_layers = len(series[0][1][0]["w_std"])
    ref = summary(load_weights(reference)) if reference is not None else None
    for name, rows in series:
        if len(rows[0]["w_std"]) != n_layers:
            raise RunError(f"{name} has {len(rows[0]['w_std'])} weight layers, not {n_layers}")
    if ref is not None and len(ref["w_std"]) != n_layers:
        raise RunError(f"{reference} has {len(ref['w_std'])} weight layers, not {n_layers}")
    stats = (("w_std", "std of W"), ("w_max_abs", "max |w|"), ("runaway", "neurons > 20"))
    fig, axes = plt.subplots(
        len(stats), n_layers, figsize=(3.4 * n_layers, 7.2), sharex=True, squeeze=False
    )
    label_ref = reference_label or (Path(reference).name if reference is not None else "")
    for row, (key, title) in enumerate(stats):
        for layer in range(n_layers):
            ax = axes[row][layer]
            if key == "runaway" and layer == n_layers - 1:  # not a hidden layer
                ax.axis("off")
                continue
            for name, rows in series:
                ep = [r["epoch"] + 1 for r in rows]
                ax.plot(ep, [r[key][layer] for r in rows], lw=1.1, label=name)
            if ref is not None:
                ax.axhline(ref[key][layer], color="gray", ls="--", lw=1, label=label_ref)
            ax.set_title(f"W{layer + 1}: {title}", fontsize=9)
            ax.grid(alpha=0.3)
            if row == len(stats) - 1 or (row == len(stats) - 2 and layer == n_layers - 1):
                ax.set_xlabel("epoch")
                ax.xaxis.set_tick_params(labelbottom=True)
    axes[0][0].legend(fontsize=7, loc="best")
    return _save_png(fig, out, 110)


def _save_png(fig: Any, out: str | Path, dpi: int) -> Path:
    """Lay out ``fig``, write it to ``out`` (creating its folder) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return path


def _marks(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Markers on the points of a short run (a run of one epoch is a point, not a line)."""
    return {"marker": "o", "ms": 4 if len(rows) < 5 else 2.5} if len(rows) <= 40 else {}


def _integer_epochs(ax: Any, epochs: list[int]) -> None:
    """Epoch ticks at whole numbers only (every epoch of a short run, half an epoch of margin)."""
    from matplotlib.ticker import MaxNLocator

    lo, hi = min(epochs), max(epochs)
    if hi - lo < 5:
        ax.set_xticks(range(lo, hi + 1))
        ax.set_xlim(lo - 0.5, hi + 0.5)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))


PAPER = {"mnist": 98.41, "fashion-mnist": 87.56}
