"""Sweep directories, trials and the local executor (see :mod:`desire_bp.sweep`)."""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..checkpoint import atomic_write
from ..config import Config, ConfigError
from . import ray_backend
from .space import (
    Distribution,
    SweepError,
    _fmt,
    apply_params,
    grid_points,
    random_points,
)

__all__ = ["Trial", "Sweep", "run_trial", "read_results_csv", "EXECUTORS"]

#: ``local``: this machine, concurrent.futures (the default); ``ray``: Ray Tune; ``auto``: Ray
#: if installed, else local.
EXECUTORS = ("local", "ray", "auto")
STOPPED = "stopped.json"  # in a trial's run directory: stopped early by the scheduler (ASHA)
SWEEP_FILE = "sweep.json"
RESULTS_CSV = "results.csv"
BEST_JSON = "best.json"


# ----------------------------------------------------------------------------- trials


@dataclass(frozen=True)
class Trial:
    """One point of the search: ``id`` names its run directory ``trials/<id>``."""

    id: str
    params: dict[str, Any]


def _trial_id(index: int, params: dict[str, Any]) -> str:
    desc = "_".join(f"{k}={_fmt(v)}" for k, v in params.items())
    safe = "".join(c if c.isalnum() or c in "=-_.+" else "-" for c in desc)[:80]
    return f"{index:03d}" + (f"_{safe}" if safe else "")


def _trial_summary(run_dir: Path, cfg: Config) -> dict[str, Any]:
    from ..training import read_metrics

    rows = read_metrics(run_dir) if run_dir.exists() else []
    if len(rows) >= cfg.epochs and (rows or (run_dir / "config.json").exists()):
        status = "done"
    elif rows and (run_dir / STOPPED).exists():
        status = "stopped"  # by the early-stopping scheduler: finished, with fewer epochs
    elif rows or (run_dir / "config.json").exists():
        status = "partial"
    else:
        status = "pending"
    by_val = cfg.validation > 0
    out: dict[str, Any] = {"status": status, "epochs_done": len(rows), "epochs": cfg.epochs}
    out["selected_by"] = "validation" if by_val else "test"
    if rows:
        key = "val_accuracy" if by_val else "test_accuracy"
        best = max(rows, key=lambda r: r[key])  # first epoch of the maximum
        out.update(
            final_test_accuracy=rows[-1]["test_accuracy"],
            best_test_accuracy=best["test_accuracy"],
            best_epoch=best["epoch"] + 1,  # counted from 1, as every epoch a human reads
            final_train_accuracy=rows[-1]["train_accuracy"],
            seconds=sum(r["train_seconds"] + r["test_seconds"] for r in rows),
        )
        if by_val:
            out.update(best_val_accuracy=best[key], final_val_accuracy=rows[-1][key])
    else:
        out.update(
            final_test_accuracy=math.nan,
            best_test_accuracy=math.nan,
            best_epoch=0,
            final_train_accuracy=math.nan,
            seconds=0.0,
        )
        if by_val:
            out.update(best_val_accuracy=math.nan, final_val_accuracy=math.nan)
    return out


def run_trial(
    sweep_dir: str | Path,
    trial: Trial,
    base: Config,
    *,
    data_dir: str | Path | None = None,
    engine: str = "fast",
    threads: int | None = None,
    report: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = print,
    progress: bool = False,
) -> dict[str, Any]:
    """Train one trial in ``sweep_dir/trials/<id>`` (resuming it if it was started).

    Args:
        report: called with each epoch's metrics (Ray Tune's ``report``).
        threads: Numba threads for evaluation (``None``: leave as is).
        log: where the trial's per-epoch lines go (``None``: nowhere).
        progress: a progress bar per epoch (on a terminal).

    Returns:
        the trial's summary (status, accuracies, seconds), as in the results table.
    """
    from ..training import train

    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    cfg = apply_params(base, trial.params)
    run_dir = Path(sweep_dir) / "trials" / trial.id
    summary = _trial_summary(run_dir, cfg)
    if summary["status"] in ("done", "stopped"):
        return summary
    on_saved = None
    if report is not None:

        def on_saved(row: dict[str, Any]) -> None:  # after the epoch's checkpoint is written
            report(
                {
                    "epoch": row["epoch"] + 1,
                    "test_accuracy": row["test_accuracy"],
                    "best_test_accuracy": row["best_test_accuracy"],
                    "train_accuracy": row["train_accuracy"],
                    **(
                        {"val_accuracy": row["val_accuracy"]}
                        if row.get("val_accuracy") is not None
                        else {}
                    ),
                }
            )

    prefix = f"[{trial.id}] "
    train(
        cfg,
        run_dir,
        resume=(run_dir / "config.json").exists(),
        data_dir=data_dir,
        engine=engine,
        on_saved=on_saved,
        progress=progress,
        log=(lambda s: log(prefix + s)) if log is not None else None,
    )
    return _trial_summary(run_dir, cfg)


# ----------------------------------------------------------------------------- sweep


class Sweep:
    """A sweep directory: its base config, its trials, their run directories and results.

    Create with :meth:`create` (or resume an existing one with :meth:`load`), then
    :meth:`run`; :meth:`results` and :meth:`write_results` read the run directories.
    """

    def __init__(
        self, directory: str | Path, base: Config, trials: list[Trial], search: dict[str, Any]
    ) -> None:
        self.dir = Path(directory)
        self.base = base
        self.trials = trials
        self.search = search
        self.configs = {t.id: apply_params(base, t.params) for t in trials}  # validates all

    # ---------------------------------------------------------------- construction
    @classmethod
    def create(
        cls,
        directory: str | Path,
        base: Config,
        grid: dict[str, Sequence[Any]] | None = None,
        random: Sequence[Distribution] = (),
        trials: int = 1,
        seed: int = 0,
    ) -> Sweep:
        """A new sweep, or the existing one in ``directory`` if it has the same specification.

        Args:
            base: configuration every trial starts from.
            grid: values per parameter; every combination is a trial.
            random: distributions sampled ``trials`` times (each combined with every grid
                point).
            trials: number of random samples (ignored without ``random``).
            seed: seed of the random search.

        Raises:
            SweepError: empty search, invalid trial configs, or ``directory`` holds a sweep with
                another specification.
        """
        grid = {k: list(v) for k, v in (grid or {}).items()}
        if not grid and not random:
            raise SweepError("nothing to sweep: give --grid and/or --random (or --figure)")
        names = list(grid) + [d.name for d in random]
        if len(set(names)) != len(names):
            raise SweepError(f"a parameter appears twice in the search: {names}")
        if len({"N", "hidden", "sizes"}.intersection(names)) > 1:
            raise SweepError("sweep only one of N, hidden and sizes")
        rnd = random_points(random, trials, seed) if random else [{}]
        points = [{**g, **r} for r in rnd for g in grid_points(grid)]
        search = {
            "grid": {k: [_jsonable(v) for v in vs] for k, vs in grid.items()},
            "random": {d.name: d.to_text() for d in random},
            "trials": trials if random else None,
            "seed": seed if random else None,
        }
        trial_list = [Trial(_trial_id(i, p), p) for i, p in enumerate(points)]
        try:
            sweep = cls(directory, base, trial_list, search)
        except ConfigError as e:
            raise SweepError(f"a trial's configuration is invalid: {e}") from e
        path = Path(directory) / SWEEP_FILE
        if path.exists():
            old = cls.load(directory)
            if old.search == search and old.base.replace(epochs=base.epochs) == base:
                return old.raise_epochs(base.epochs)
            if old.base != base or old.search != search:
                what = "base config" if old.base != base else "search space"
                diff = ""
                if old.base != base:
                    diff = ": " + _config_changes(old.base, base)
                raise SweepError(
                    f"{directory} holds a sweep with another {what}{diff}; resume it without "
                    "search options, or use another directory"
                )
            return old
        sweep._write_spec()
        return sweep

    @classmethod
    def load(cls, directory: str | Path) -> Sweep:
        """The sweep stored in ``directory/sweep.json``."""
        path = Path(directory) / SWEEP_FILE
        if not path.exists():
            raise SweepError(f"{path} not found: {directory} is not a sweep directory")
        try:
            d = json.loads(path.read_text())
            base = Config.from_dict(d["base"])
            trials = [Trial(t["id"], t["params"]) for t in d["trials"]]
            return cls(directory, base, trials, d["search"])
        except (KeyError, TypeError, json.JSONDecodeError, ConfigError) as e:
            raise SweepError(f"{path} is not a valid sweep file ({e})") from e

    def raise_epochs(self, epochs: int) -> Sweep:
        """Continue the sweep to ``epochs`` epochs per trial (finished trials resume from their
        last epoch); ``epochs`` equal to the current value changes nothing.

        Raises:
            SweepError: ``epochs`` is lower than the sweep's, or ``epochs`` is swept.
        """
        if epochs == self.base.epochs:
            return self
        if epochs < self.base.epochs:
            raise SweepError(f"cannot lower the epochs of {self.dir} ({self.base.epochs})")
        if any("epochs" in t.params for t in self.trials):
            raise SweepError("epochs is a swept parameter of this sweep; it cannot be raised")
        sweep = Sweep(self.dir, self.base.replace(epochs=epochs), self.trials, self.search)
        sweep._write_spec()
        return sweep

    def _write_spec(self) -> None:
        d = {
            "version": 1,
            "base": self.base.to_dict(),
            "search": self.search,
            "trials": [{"id": t.id, "params": _jsonable(t.params)} for t in self.trials],
        }
        text = json.dumps(d, indent=2) + "\n"
        atomic_write(self.dir / SWEEP_FILE, lambda f: f.write(text.encode()))

    def adopt(self, run_dir: str | Path) -> Trial:
        """Take an existing run as the trial of the same configuration, instead of training it.

        The run's files (``config.json``, ``metrics.jsonl``, ``checkpoint.npz``, ``best.npz``)
        are copied into the trial's directory; training and resuming are deterministic, so the
        trial is the run (e.g. the N = 800, T = 20 points of Fig. 4 and 5 are the preset's
        run).  An unfinished run is adopted as a partial trial and resumed by :meth:`run`.

        Raises:
            SweepError: ``run_dir`` is not a run with a checkpoint, no trial has its exact
                configuration, or that trial already has a run directory.
        """
        import shutil

        from ..training import RunError, run_config

        src = Path(run_dir)
        try:
            cfg = run_config(src)
        except RunError as e:
            raise SweepError(f"--reuse {src}: {e}") from None
        if not (src / "checkpoint.npz").is_file():
            raise SweepError(f"--reuse {src}: no checkpoint.npz (nothing trained to reuse)")
        match = [t for t in self.trials if self.configs[t.id] == cfg]
        if not match:
            near = [t.id for t in self.trials if self.configs[t.id].sizes == cfg.sizes]
            hint = ""
            if near:
                changes = _config_changes(cfg, self.configs[near[0]])
                hint = f" (trial {near[0]} has its sizes but differs in {changes})"
            raise SweepError(
                f"--reuse {src}: no trial of {self.dir} has the run's configuration{hint}"
            )
        trial = match[0]
        dest = self.trial_dir(trial)
        if dest.exists():
            raise SweepError(f"--reuse {src}: trial {trial.id} already has {dest}")
        tmp = dest.with_name(f".{dest.name}.adopt.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for name in ("config.json", "metrics.jsonl", "checkpoint.npz", "best.npz"):
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        tmp.rename(dest)  # all files or none
        return trial

    # ---------------------------------------------------------------- state
    def trial_dir(self, trial: Trial) -> Path:
        """The run directory of ``trial``."""
        return self.dir / "trials" / trial.id

    def results(self) -> list[dict[str, Any]]:
        """One row per trial, in trial order: ``trial``, the parameters, ``status``
        (``done`` / ``stopped`` early by ASHA / ``partial`` / ``pending``), ``epochs_done``,
        ``epochs``,
        ``final_test_accuracy``, ``best_test_accuracy`` (percent), ``best_epoch`` (counted from
        1; 0 if none), ``final_train_accuracy``, ``seconds`` (training + test time summed over the
        epochs), ``run_dir``, and ``config`` (the trial's :class:`Config`, not in the CSV).

        The best epoch is chosen on the validation set when the trials hold one out
        (``Config.validation``; ``selected_by`` is then ``"validation"``, with
        ``best_val_accuracy`` and ``final_val_accuracy`` added, and ``best_test_accuracy`` is the
        test accuracy of that epoch), else on the test set; trials are ranked by the
        accuracy their best epoch was chosen on."""
        rows = []
        for t in self.trials:
            cfg = self.configs[t.id]
            row: dict[str, Any] = {"trial": t.id, **t.params}
            row.update(_trial_summary(self.trial_dir(t), cfg))
            row["run_dir"] = str(self.trial_dir(t))
            row["config"] = cfg
            rows.append(row)
        return rows

    def pending(self) -> list[Trial]:
        """Trials not finished yet (pending or partial; not those stopped early), in order."""
        rows = self.results()
        return [
            t
            for t, r in zip(self.trials, rows, strict=True)
            if r["status"] not in ("done", "stopped")
        ]

    def write_results(self) -> tuple[Path, Path | None]:
        """Write ``results.csv`` and (if any trial has a result) ``best.json``.

        Returns:
            their paths (``None`` for ``best.json`` when no trial has finished an epoch).
        """
        rows = self.results()
        params = list(dict.fromkeys(k for t in self.trials for k in t.params))
        cols = ["trial", *params, "status", "epochs_done", "epochs", "final_test_accuracy"]
        cols += ["best_test_accuracy", "best_epoch", "final_train_accuracy", "seconds", "run_dir"]
        if any(r["selected_by"] == "validation" for r in rows):
            cols[-1:-1] = ["selected_by", "best_val_accuracy", "final_val_accuracy"]

        def write_csv(f) -> None:
            import io

            buf = io.StringIO()
            w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
            w.writeheader()
            for r in rows:
                w.writerow({k: _csv_value(r.get(k, "")) for k in cols})
            f.write(buf.getvalue().encode())

        csv_path = self.dir / RESULTS_CSV
        atomic_write(csv_path, write_csv)
        scored = [r for r in rows if r["epochs_done"] > 0]
        if not scored:
            return csv_path, None

        # Prefer finished trials; then the highest score (the best validation accuracy when the
        # trials hold a validation set out, else the best test accuracy); ties: first trial.
        def rank(r: dict[str, Any]) -> tuple[bool, float]:
            chosen_on = (
                "best_val_accuracy" if r["selected_by"] == "validation" else "best_test_accuracy"
            )
            return r["status"] in ("done", "stopped"), r[chosen_on]

        best = max(scored, key=rank)
        out = {k: _jsonable(v) for k, v in best.items() if k != "config"}
        out["params"] = {k: _jsonable(best[k]) for k in params if k in best}
        out["config"] = best["config"].to_dict()
        out["checkpoint"] = str(Path(best["run_dir"]) / "best.npz")
        text = json.dumps(out, indent=2) + "\n"
        best_path = self.dir / BEST_JSON
        atomic_write(best_path, lambda f: f.write(text.encode()))
        return csv_path, best_path

    # ---------------------------------------------------------------- running
    def run(
        self,
        executor: str = "local",
        *,
        address: str | None = None,
        cpus_per_trial: float = 1,
        max_concurrent: int | None = None,
        asha: bool = False,
        grace_epochs: int = 1,
        data_dir: str | Path | None = None,
        engine: str = "fast",
        log: Callable[[str], None] | None = print,
    ) -> list[dict[str, Any]]:
        """Run every unfinished trial, then write the results table.

        Args:
            executor: ``"local"`` (this machine: one trial after the other in this process, or
                ``max_concurrent`` worker processes of :mod:`concurrent.futures`), ``"ray"``
                (Ray Tune: :mod:`desire_bp.sweep.ray_backend`) or ``"auto"`` (Ray if
                installed, else local, saying so).
            address: Ray cluster address (``None``: start a local Ray instance).
            cpus_per_trial: CPUs Ray reserves per trial (also the trial's Numba threads).
            max_concurrent: at most this many trials at once (local: worker processes, default
                1; Ray: default as many as fit).
            asha: Ray only: stop unpromising trials early (Tune's ASHA scheduler on the test
                accuracy, at ``grace_epochs`` epochs at the least); they are marked
                ``stopped``.
            data_dir, engine: passed to :func:`desire_bp.training.train`.
            log: where the one-line messages go (``None``: nowhere).

        Returns:
            :meth:`results` after the run.
        """
        say = log or (lambda s: None)
        if executor not in EXECUTORS:
            raise SweepError(f"unknown executor {executor!r}; choose {', '.join(EXECUTORS)}")
        if executor == "auto":
            if ray_backend.ray_available():
                executor = "ray"
            else:
                executor = "local"
                say(
                    "ray is not installed (pip install 'desire-bp[ray]'): running the trials "
                    "on this machine"
                )
        elif executor == "ray" and not ray_backend.ray_available():
            raise SweepError("executor 'ray' needs ray[tune]: pip install 'desire-bp[ray]'")
        if (address or asha) and executor != "ray":
            raise SweepError("--address and --asha need the ray executor")
        todo = self.pending()
        done = len(self.trials) - len(todo)
        say(
            f"sweep {self.dir}: {len(self.trials)} trials, {done} finished, {len(todo)} to run "
            f"({executor} executor)"
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            if todo and executor == "local":
                self._run_local(todo, max_concurrent or 1, data_dir, engine, log, say)
            elif todo:
                ray_backend.run_ray(
                    self,
                    todo,
                    address=address,
                    cpus_per_trial=cpus_per_trial,
                    max_concurrent=max_concurrent,
                    asha=asha,
                    grace_epochs=grace_epochs,
                    data_dir=data_dir,
                    engine=engine,
                    say=say,
                )
        finally:
            self.write_results()
        return self.results()

    def _run_local(self, todo, workers, data_dir, engine, log, say) -> None:
        """One trial after the other in this process (``workers`` 1: per-epoch lines and bars)
        or in ``workers`` processes (one line per finished trial).

        A trial that another process is training (its run directory is locked: a second
        ``desire-bp sweep DIR`` on this machine, or on another one sharing the directory) is
        left to it, so several sweep processes share one sweep's trials."""
        from ..training import RunInUse

        t_start = time.perf_counter()
        kw = {"data_dir": data_dir, "engine": engine}
        elsewhere: list[str] = []

        def left(t: Trial, e: RunInUse) -> None:
            elsewhere.append(t.id)
            say(f"trial {t.id} is being trained by another process ({e.pid}): left to it")

        if workers == 1:
            for k, t in enumerate(todo, start=1):
                t0 = time.perf_counter()
                say(f"trial {k}/{len(todo)}: {t.id}")
                try:
                    s = run_trial(self.dir, t, self.base, **kw, log=log, progress=True)
                except RunInUse as e:
                    left(t, e)
                    continue
                say(trial_line(t, s, time.perf_counter() - t0, k, len(todo), t_start))
                self.write_results()
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor, as_completed

            say(f"{len(todo)} trials in {workers} worker processes (one Numba thread each)")
            ctx = multiprocessing.get_context("spawn")  # no fork of a process with Numba threads
            with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
                futures = {
                    pool.submit(run_trial, self.dir, t, self.base, **kw, threads=1, log=None): t
                    for t in todo
                }
                for k, fut in enumerate(as_completed(futures), start=1):
                    t = futures[fut]
                    try:
                        s = fut.result()
                    except RunInUse as e:
                        left(t, e)
                        continue
                    say(trial_line(t, s, s["seconds"], k, len(todo), t_start))
                    self.write_results()
        if elsewhere:
            say(
                f"{len(elsewhere)} trial(s) left to other processes ({', '.join(elsewhere)}): "
                "the table is complete once they finish"
            )


def _config_changes(a: Config, b: Config) -> str:
    """The fields in which ``b`` differs from ``a``, as ``name a-value -> b-value, ...``."""
    da, db = a.to_dict(), b.to_dict()
    return ", ".join(f"{k} {da[k]!r} -> {db[k]!r}" for k in a.differing_fields(b))


def best_text(s: dict[str, Any]) -> str:
    """A trial's best epoch in words, from its summary (a :meth:`Sweep.results` row or
    ``best.json``): the validation accuracy it was chosen on, if any, its test accuracy and
    its epoch."""
    how = (
        f"best validation accuracy {s['best_val_accuracy']:.2f}%, test "
        if s.get("selected_by") == "validation"
        else "best test accuracy "
    )
    return f"{how}{s['best_test_accuracy']:.2f}% (epoch {s['best_epoch']})"


def trial_line(
    trial: Trial, s: dict[str, Any], seconds: float, k: int, n: int, t_start: float
) -> str:
    """The one-line summary of a finished trial: its parameters, accuracies, time, and the time
    the sweep has left (at the mean rate so far)."""
    from ..progress import format_duration

    params = ", ".join(f"{key}={_fmt(v)}" for key, v in trial.params.items())
    text = f"trial {k}/{n} {trial.id} ({params}): "
    if s["epochs_done"]:
        text += (
            f"{best_text(s)}, "
            f"final {s['final_test_accuracy']:.2f}% after {s['epochs_done']}/{s['epochs']} epochs"
        )
    else:
        text += "no epoch completed"
    if s["status"] == "stopped":
        text += ", stopped early"
    text += f" [{format_duration(seconds)}"
    if k < n:
        text += f"; sweep ~{format_duration((time.perf_counter() - t_start) * (n - k) / k)} left"
    return text + "]"


def _jsonable(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v


def _csv_value(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return "-".join(str(x) for x in v)
    if v is None:
        return "none"
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v


def read_results_csv(path: str | Path) -> list[dict[str, str]]:
    """The rows of a ``results.csv`` (all values as strings)."""
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
