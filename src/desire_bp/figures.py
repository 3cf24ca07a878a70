"""The paper's Fig. 4-8 from sweep and run directories: PNG and CSV files (``desire-bp figure``).

Fig. 4 and 5 come from a sweep directory (:mod:`desire_bp.sweep`), Fig. 6-8 from a run trained
with recording (:class:`desire_bp.analysis.Recorder`); :func:`draw_figure` writes either.
Epochs in titles and CSV files are counted from 1.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .config import Config

__all__ = ["FIGURES", "FigureError", "PAPER_POINTS", "describe", "draw_figure"]

#: Paper results quoted in the text (MNIST, 150 epochs): N = 800 / T = 20 -> 98.41 %.
PAPER_POINTS = {"fig4": {800.0: 98.41}, "fig5": {20.0: 98.41}}
FIGURES = ("fig4", "fig5", "fig6", "fig7", "fig8")


class FigureError(ValueError):
    """A figure cannot be drawn from the given directory; the message says why."""


def describe(cfg: Config, sizes: str | None = None, T: str | None = None) -> str:
    """A one-line description of a run for figure titles: data set, network, ``T``, epochs and
    samples, noting when fewer epochs or samples than the paper's are used."""
    from .config import SPEC_PRESETS

    full = SPEC_PRESETS["fashion-mnist" if cfg.dataset == "fashion-mnist" else "mnist"]
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
        raise FigureError(f"{run_dir} is not a run directory (no config.json)")
    return Config.from_dict(json.loads(path.read_text()))


@dataclass(frozen=True)
class _Swept:
    """What Fig. 4 or 5 plots the test accuracy against, and how it is drawn."""

    param: str  # the swept parameter, as ``desire-bp sweep --grid`` names it
    what: str  # its description in errors
    field: str  # the Config field it sets (left out of compared sweeps' labels)
    xlabel: str
    name: str  # the title's first line
    net: str | None  # the network in the title (None: the trials' own)
    T: str | None  # T in the title (None: the trials' own)
    logx: bool

    def x(self, cfg: Config) -> float:
        """The point's abscissa: N, the last hidden layer of 784-2N-N-10, or T."""
        return cfg.sizes[-2] if self.param == "N" else cfg.T


SWEPT = {
    "fig4": _Swept(
        "N", "the hidden size N of 784-2N-N-10", "sizes", "N (network 784-2N-N-10)",
        "Fig. 4: test accuracy vs hidden neurons N", "784-2N-N-10", None, True,
    ),
    "fig5": _Swept(
        "T", "the time steps T", "T", "time steps T",
        "Fig. 5: test accuracy vs time steps T", None, "swept", False,
    ),
}  # fmt: skip


def _sweep_curve(which: str, d: str | Path) -> tuple[dict, Config, Any, int]:
    """The Fig. 4 / 5 curve of the finished trials of the sweep ``d``: ``(curve, first
    finished trial's config, sweep, number of unfinished trials, which are not drawn)``."""
    from .analysis import accuracy_curve
    from .sweep import Sweep, SweepError

    try:
        sweep = Sweep.load(d)
    except SweepError as e:
        raise FigureError(str(e)) from e
    _check_swept(which, sweep)
    results = sweep.results()
    # a trial still training has no final accuracy yet: only finished trials are drawn
    rows = [r for r in results if r["status"] in ("done", "stopped")]
    if not rows:
        raise FigureError(
            f"no trial of {d} has finished yet ({len(results)} unfinished; run desire-bp sweep {d})"
        )
    curve = accuracy_curve(
        [SWEPT[which].x(r["config"]) for r in rows],
        [r["final_test_accuracy"] for r in rows],
        [r["best_test_accuracy"] for r in rows],
    )
    return curve, rows[0]["config"], sweep, len(results) - len(rows)


def _sweep_label(which: str, d: str | Path, cfg: Config, base: Config) -> str:
    """A compared sweep's legend label: its directory name and how its trials' config differs
    from the main sweep's (beside the swept parameter and the seed)."""
    skip = {SWEPT[which].field, "seed"}
    values = cfg.to_dict()
    diff = [f"{k}={values[k]}" for k in base.differing_fields(cfg) if k not in skip]
    return Path(d).name + (f" ({', '.join(diff)})" if diff else "")


def _fig_sweep(
    which: str,
    d: str | Path,
    out: Path | None,
    title: str | None,
    compare: Sequence[str | Path] = (),
    zoom: float | None = 3.0,
) -> list[Path]:
    from .plotting import plot_accuracy_curve, write_csv

    curve, cfg, sweep, partial = _sweep_curve(which, d)
    others = []
    for c in compare:
        c_curve, c_cfg, _, c_partial = _sweep_curve(which, c)
        partial += c_partial
        others.append((_sweep_label(which, c, c_cfg, cfg), c_curve))
    fig = SWEPT[which]
    note = f"; {partial} unfinished trial(s) not drawn" if partial else ""
    title = title or f"{fig.name}{note}\n{describe(cfg, fig.net, fig.T)}"
    out = out or sweep.dir / f"{which}.png"
    png = plot_accuracy_curve(
        curve,
        fig.xlabel,
        title,
        out,
        logx=fig.logx,
        paper=PAPER_POINTS[which],
        others=others,
        label=Path(d).name if others else None,
        zoom=zoom,
    )
    keys = ["x", "n", "final_mean", "final_std", "best_mean", "best_std"]
    header = [fig.param, "trials"] + [f"{k}_test_accuracy" for k in keys[2:]]

    def table(c: dict) -> list[list]:
        return [[_num(c[k][i].item()) for k in keys] for i in range(len(c["x"]))]

    if not compare:
        return [png, write_csv(out.with_suffix(".csv"), header, table(curve))]
    # compared: one table, the sweep directory in the first column
    rows = [[str(d), *r] for r in table(curve)]
    rows += [[str(c), *r] for c, (_, cc) in zip(compare, others, strict=True) for r in table(cc)]
    return [png, write_csv(out.with_suffix(".csv"), ["sweep", *header], rows)]


def _check_swept(which: str, sweep) -> None:
    """Refuse a sweep that does not vary the figure's parameter, or varies others too (their
    trials would be averaged into one point); ``seed`` may vary (repeats)."""
    param, what = SWEPT[which].param, SWEPT[which].what
    swept = [*sweep.search.get("grid", {}), *sweep.search.get("random", {})]
    others = [p for p in swept if p not in (param, "seed")]
    if param in swept and not others:
        return
    told = f"{sweep.dir} sweeps {', '.join(swept) or 'nothing'}"
    if param in swept:
        told += f" (besides {param}, {', '.join(others)}, whose trials would be averaged)"
    raise FigureError(
        f"figure {which} plots test accuracy against {what}; {told}: draw it from a sweep "
        f"over {param} (desire-bp sweep DIR --figure {which}; seed may vary too)"
    )


def _num(v: float) -> float | int:
    return int(v) if float(v).is_integer() else v


def _fig6(run: Path, out: Path, title: str | None) -> list[Path]:
    from .plotting import plot_local_losses, write_csv
    from .training import read_metrics

    rows = [r for r in read_metrics(run) if "local_loss" in r]
    if not rows:
        raise FigureError(f"{run}: no local losses recorded (train with --record losses)")
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
        raise FigureError(f"{run}: no spike records (train with --record spikes)")
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
        raise FigureError(str(e)) from e
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


def draw_figure(
    which: str,
    directory: str | Path,
    out: str | Path | None = None,
    title: str | None = None,
    compare: Sequence[str | Path] = (),
    zoom: float | None = 3.0,
) -> list[Path]:
    """Draw figure ``which`` (one of :data:`FIGURES`) from ``directory`` (a sweep directory for
    fig4/fig5, a recorded run for fig6-8) into ``out`` (default ``DIRECTORY/<which>.png``) and
    a CSV file beside it; ``title`` replaces the generated one.  Returns the files written.
    Fig. 4 and 5 draw a sweep's finished trials (a trial still training is left out, and the
    title counts it).

    Args:
        compare: fig4/fig5 only: more sweeps over the same parameter, drawn beside the first
            (labelled by how their config differs from it, e.g. another rule); the CSV then
            has one table of all of them, the sweep directory in its first column ``sweep``.
        zoom: fig4/fig5 only: width in percentage points of the second panel that shows the
            top of the accuracy axis when a point lies further below the highest
            (:func:`desire_bp.plotting.plot_accuracy_curve`); ``None``: one panel.

    Raises:
        FigureError: the directory lacks what the figure needs, ``compare`` for fig6-8, or a
            ``zoom`` that is not a positive number.
    """
    if which not in FIGURES:
        raise FigureError(f"unknown figure {which!r}; choose one of {', '.join(FIGURES)}")
    from .plotting import check_zoom

    try:
        check_zoom(zoom)  # before any sweep is read
    except ValueError as e:
        raise FigureError(str(e)) from None
    out_path = Path(out) if out else None
    if which in ("fig4", "fig5"):
        return _fig_sweep(which, directory, out_path, title, compare, zoom)
    if compare:
        raise FigureError(f"figure {which} is drawn from one run; compare is for fig4 and fig5")
    run = Path(directory)
    if not run.is_dir():
        raise FigureError(f"{run} is not a directory")
    out_path = out_path or run / f"{which}.png"
    return {"fig6": _fig6, "fig7": _fig7, "fig8": _fig8}[which](run, out_path, title)
