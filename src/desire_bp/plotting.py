"""Plots of the paper's figures 4-8 (matplotlib, headless: no display, no pyplot state).

Each ``plot_*`` function takes the data computed by :mod:`desire_bp.analysis` (or read from
run / sweep directories), draws one figure with the Agg renderer and writes it as PNG;
:func:`write_csv` writes the numbers behind it.  Nothing here trains or evaluates a network.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure  # no pyplot: Figure.savefig renders PNG with Agg

__all__ = [
    "write_csv",
    "check_zoom",
    "plot_accuracy_curve",
    "plot_local_losses",
    "plot_class_rates",
    "plot_contributions",
]


def write_csv(path: str | Path, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> Path:
    """Write ``rows`` under ``header`` as CSV (floats to 7 significant digits, NaN as an empty
    field); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        for r in rows:
            w.writerow([_cell(v) for v in r])
    return path


def _cell(v: Any) -> Any:
    if isinstance(v, float | np.floating):
        return "" if np.isnan(v) else f"{float(v):.7g}"
    return v


def _save(fig: Figure, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=130, bbox_inches="tight")
    return out


def check_zoom(zoom: float | None) -> None:
    """Refuse a zoom panel width (percentage points) outside (0, 100]; ``None`` is no panel.

    Raises:
        ValueError: naming the value.
    """
    if zoom is not None and not (isinstance(zoom, int | float) and 0 < zoom <= 100):
        raise ValueError(f"zoom must be a width in percentage points in (0, 100], not {zoom!r}")


def plot_accuracy_curve(
    curve: dict[str, np.ndarray],
    xlabel: str,
    title: str,
    out: str | Path,
    logx: bool = True,
    paper: dict[float, float] | None = None,
    others: Sequence[tuple[str, dict[str, np.ndarray]]] = (),
    label: str | None = None,
    zoom: float | None = 3.0,
) -> Path:
    """Fig. 4 / 5: test accuracy (percent) against a swept parameter.

    Args:
        curve: from :func:`desire_bp.analysis.accuracy_curve`: ``x``, ``n``, ``final_mean``,
            ``final_std``, ``best_mean``, ``best_std`` (arrays of equal length).
        xlabel: e.g. ``"N (784-2N-N-10)"``.
        logx: logarithmic x axis (base 2).
        paper: optional reference points ``{x: accuracy}`` drawn as crosses (their values in the
            legend).
        others: more ``(label, curve)`` pairs drawn beside ``curve``, each in its own colour.
        label: the legend name of ``curve`` (default none: "best / final test accuracy").
        zoom: width in percentage points of a second panel, below the first, showing only the
            top ``zoom`` points of the accuracy axis; drawn only when some point of the
            curves lies more than ``zoom`` points below their highest (a collapsed network
            would otherwise squeeze the points near the top together; the paper's points do
            not count). ``None``: never.

    Raises:
        ValueError: ``zoom`` outside (0, 100] (:func:`check_zoom`).
    """
    check_zoom(zoom)
    curves = [(label, curve), *others]
    values = [
        v
        for _, c in curves
        for key in ("best", "final")
        for v in np.asarray(c[f"{key}_mean"], float)
        if np.isfinite(v)
    ]
    # our points alone decide: the paper's may lie far above a reduced run's (drawn where the
    # panel reaches it)
    top = max(values, default=np.nan)
    zoomed = zoom is not None and bool(values) and min(values) < top - zoom
    width, height = (6.4, 4.2) if not others else (7.6, 4.8)
    fig = Figure(figsize=(width, height * 1.75) if zoomed else (width, height))
    axes = fig.subplots(2, 1, sharex=True) if zoomed else [fig.add_subplot()]
    for ax in axes:
        _draw_accuracy_curves(ax, curves, paper, several=bool(others))
    x = np.unique(np.concatenate([np.asarray(c["x"], float) for _, c in curves]))
    for ax in axes:
        if logx and len(x) and (x > 0).all():
            ax.set_xscale("log", base=2)
        ax.set_xticks(x)
        ax.set_xticklabels([f"{v:g}" for v in x])
        ax.set_ylabel("test accuracy (%)")
        ax.grid(alpha=0.3)
        ax.margins(y=0.1)  # room for the value labels above and below the points
    axes[-1].set_xlabel(xlabel)
    axes[0].legend(fontsize=8)
    axes[0].set_title(title, fontsize=9)
    if zoomed:
        assert zoom is not None
        # the labels sit above and below their points: a margin of a tenth of the range
        axes[1].set_ylim(top - zoom, top + zoom / 10)
        axes[1].set_title(f"the top {zoom:g} points of the same axis", fontsize=8)
    return _save(fig, out)


def _draw_accuracy_curves(
    ax: Any,
    curves: Sequence[tuple[str | None, dict[str, np.ndarray]]],
    paper: dict[float, float] | None,
    several: bool,
) -> None:
    """Draw best and final accuracy of each curve (labelled with their values) and the paper's
    points on ``ax``; ``several``: each curve in its own colour."""
    for k, (name, c) in enumerate(curves):
        x = np.asarray(c["x"], float)
        color = f"C{k}" if several else None
        # best values labelled above their points, final ones below, so close pairs stay legible;
        # two decimals, as the accuracies are reported everywhere else
        for key, style, dy, va in (("best", "o-", 6, "bottom"), ("final", "s--", -6, "top")):
            m, s = np.asarray(c[f"{key}_mean"]), np.asarray(c[f"{key}_std"])
            what = f"{key} test accuracy"
            ax.errorbar(
                x,
                m,
                yerr=np.where(np.asarray(c["n"]) > 1, s, 0),
                fmt=style,
                capsize=3,
                color=color,
                alpha=1.0 if key == "best" or not several else 0.7,
                label=f"{what}, {name}" if name else what,
            )
            for xi, mi in zip(x, m, strict=True):
                if np.isfinite(mi):
                    ax.annotate(
                        f"{mi:.2f}",
                        (xi, mi),
                        textcoords="offset points",
                        xytext=(0, dy),
                        ha="center",
                        va=va,
                        fontsize=7,
                        color=color,
                        annotation_clip=True,
                    )
    if paper:
        values = ", ".join(f"{v:.2f} at {x:g}" for x, v in paper.items())
        ax.plot(
            list(paper),
            list(paper.values()),
            "kx",
            markersize=9,
            markeredgewidth=2,
            zorder=5,
            label=f"paper (150 epochs, all data): {values}",
        )


def plot_local_losses(
    epochs: np.ndarray,
    losses: np.ndarray,
    test_accuracy: np.ndarray,
    title: str,
    out: str | Path,
) -> Path:
    """Fig. 6: local test loss of each LIF layer per epoch, with the test accuracy.

    Args:
        epochs: ``(E,)`` epoch numbers (plotted from 1).
        losses: ``(E, L)`` mean ``e^2`` per layer (dimensionless, in [0, 1]).
        test_accuracy: ``(E,)`` percent.
    """
    epochs = np.asarray(epochs) + 1
    losses = np.asarray(losses, float)
    fig = Figure(figsize=(6.4, 4.2))
    ax = fig.add_subplot()
    for layer in range(losses.shape[1]):
        ax.plot(epochs, losses[:, layer], "o-", ms=3, label=f"layer {layer + 1}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("local test loss (mean e², e = n/T − target)")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax2 = ax.twinx()
    ax2.plot(epochs, test_accuracy, "-", color="0.5", lw=2, label="test accuracy")
    ax2.set_ylabel("test accuracy (%)", color="0.4")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="center right")
    if len(epochs) <= 20:
        ax.set_xticks(epochs)
    ax.set_title(title, fontsize=9)
    return _save(fig, out)


def plot_class_rates(
    records: dict[int, dict[str, np.ndarray]], title: str, out: str | Path
) -> Path:
    """Fig. 7: relative spike count ``n / T`` of the recorded neurons per class and epoch.

    One row of panels per LIF layer, one column per class; each panel is an image with the
    recorded neurons down and the epochs across (left: first epoch), colour = mean ``n / T``
    over the class's samples (one colour scale per layer).

    Args:
        records: ``{epoch: arrays}`` as from :func:`desire_bp.analysis.read_spike_records`
            (``layer{l}_neurons`` ``(k,)``, ``layer{l}_rates`` ``(k, n_classes)``).
    """
    epochs = sorted(records)
    if not epochs:
        raise ValueError("no spike records to plot")
    first = records[epochs[0]]
    layers = sorted(int(k[5:-6]) for k in first if k.startswith("layer") and k.endswith("_rates"))
    n_cls = first[f"layer{layers[0]}_rates"].shape[1]
    fig = Figure(figsize=(1.25 * n_cls + 1.2, 2.3 * len(layers) + 0.6))
    axes = fig.subplots(len(layers), n_cls, squeeze=False, sharey="row")
    for r, layer in enumerate(layers):
        # (neurons, classes, epochs)
        cube = np.stack([records[e][f"layer{layer}_rates"] for e in epochs], axis=-1)
        neurons = first[f"layer{layer}_neurons"]
        vmax = np.nanmax(cube) if np.isfinite(cube).any() and np.nanmax(cube) > 0 else 1.0
        im = None
        for c in range(n_cls):
            ax = axes[r, c]
            im = ax.imshow(
                cube[:, c, :],
                aspect="auto",
                cmap="inferno",
                vmin=0,
                vmax=vmax,
                interpolation="nearest",
            )
            ax.set_xticks(range(len(epochs)))
            ax.set_xticklabels([str(e + 1) for e in epochs], fontsize=6)
            if r == 0:
                ax.set_title(f"class {c}", fontsize=8)
            if r == len(layers) - 1:
                ax.set_xlabel("epoch", fontsize=7)
            if c == 0:
                ax.set_ylabel(f"layer {layer}\nneuron", fontsize=8)
                step = max(1, len(neurons) // 10)
                ax.set_yticks(range(0, len(neurons), step))
                ax.set_yticklabels([str(n) for n in neurons[::step]], fontsize=6)
        fig.colorbar(im, ax=list(axes[r]), fraction=0.02, pad=0.01, label="n / T")
    fig.suptitle(title, fontsize=9)
    return _save(fig, out)


def plot_contributions(
    samples: np.ndarray,
    C: np.ndarray,
    title: str,
    out: str | Path,
    shape: tuple[int, int] = (28, 28),
    ncols: int = 7,
) -> Path:
    """Fig. 8: contribution of each input pixel to satisfying layer 1's desire, per snapshot.

    One image per snapshot (blue: positive contribution, red: negative, white: none; one
    symmetric colour scale for all), and below them the mean over pixels against the number of
    training samples seen.

    Args:
        samples: ``(S,)`` training samples seen at each snapshot.
        C: ``(S, n_0)`` contributions (``n_0 = shape[0] * shape[1]``).
    """
    samples = np.asarray(samples)
    C = np.asarray(C, float)
    S = len(samples)
    if S == 0:
        raise ValueError("no contribution snapshots to plot")
    ncols = min(ncols, S)
    nrows = -(-S // ncols)
    height = 1.55 * nrows + 3.0
    fig = Figure(figsize=(1.5 * ncols + 1.0, height))
    gs = fig.add_gridspec(
        nrows + 1, ncols, height_ratios=[1] * nrows + [1.3], hspace=0.45, top=1 - 0.8 / height
    )
    vmax = float(np.nanmax(np.abs(C))) or 1.0
    im = None
    for k in range(S):
        ax = fig.add_subplot(gs[k // ncols, k % ncols])
        im = ax.imshow(C[k].reshape(shape), cmap="RdBu", vmin=-vmax, vmax=vmax)
        ax.set_title(f"{samples[k]} samples", fontsize=7)
        ax.set_xticks([])
        ax.set_yticks([])
    img_axes = fig.axes[:]
    fig.colorbar(im, ax=img_axes, fraction=0.02, pad=0.01, label="contribution C[i]")
    ax = fig.add_subplot(gs[nrows, :])
    ax.plot(samples, C.mean(axis=1), "o-", ms=3, label="mean over pixels")
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("training samples seen (epoch 1)")
    ax.set_ylabel("mean C")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.suptitle(title, fontsize=9)
    return _save(fig, out)
