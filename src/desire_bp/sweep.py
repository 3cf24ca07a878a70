"""Hyper-parameter sweeps: grid or random search over :class:`~desire_bp.config.Config` fields.

Every trial is one training run (:func:`desire_bp.training.train`) in its own run directory.
A sweep directory holds::

    SWEEP_DIR/
      sweep.json           the base config, the search space and the list of trials (with the
                           sampled values of a random search), written once
      trials/<id>/         one run directory per trial (config.json, metrics.jsonl, ...)
      results.csv          one row per trial: parameters, status, final / best test accuracy,
                           best epoch, seconds
      best.json            the trial with the best test accuracy: parameters and full config

Trials are scheduled through Ray Tune when ``ray`` is installed (``pip install
'desire-bp[ray]'``; local Ray by default, ``address`` for a cluster whose nodes see the sweep
directory), otherwise one after the other in this process.  Both executors produce the same
run directories and the same table.

Resuming: running a sweep again skips its finished trials and continues an unfinished trial
from its last completed epoch (``train(..., resume=True)``), so an interrupted sweep loses at
most one epoch per running trial.

Parameters: any Config field (``lr``, ``p_hid``, ``T``, ``sizes`` as ``784-100-10``, ...) and two
derived ones: ``N`` (the paper's ``784-2N-N-10``, Fig. 4) and ``hidden`` (hidden sizes, e.g.
``1600-800``, input and output sizes of the base config kept).
"""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import atomic_write
from .config import Config, ConfigError

__all__ = [
    "FIGURE_SWEEPS",
    "Distribution",
    "Trial",
    "Sweep",
    "SweepError",
    "parse_grid",
    "parse_random",
    "parse_value",
    "grid_points",
    "random_points",
    "apply_params",
    "figure_grid",
    "run_trial",
    "ray_available",
]

SWEEP_FILE = "sweep.json"
RESULTS_CSV = "results.csv"
BEST_JSON = "best.json"

#: Preset sweeps of the paper's figures: parameter and its default values.
FIGURE_SWEEPS: dict[str, tuple[str, list[Any]]] = {
    "fig4": ("N", [50, 100, 200, 400, 800, 1600]),  # accuracy vs N in 784-2N-N-10
    "fig5": ("T", [5, 10, 15, 20, 25, 30]),  # accuracy vs T, N = 800
}

_DERIVED = {"N": "int", "hidden": "sizes"}
_DISTRIBUTIONS = ("uniform", "loguniform", "randint", "choice")


class SweepError(ValueError):
    """A sweep specification or sweep directory is invalid; the message says why."""


# ----------------------------------------------------------------------------- parameters


def _kind(name: str) -> str:
    """``"int"``, ``"float"``, ``"str"`` or ``"sizes"``: how a parameter's values are parsed."""
    if name in _DERIVED:
        return _DERIVED[name]
    fields = {
        f.name: f for f in dataclasses.fields(Config) if f.name not in ("integer", "init_from")
    }
    if name not in fields:
        raise SweepError(
            f"unknown sweep parameter {name!r}; choose a Config field "
            f"({', '.join(sorted(fields))}) or N / hidden"
        )
    ann = str(fields[name].type)
    if ann.startswith("tuple"):
        return "sizes"
    for k in ("int", "float", "str"):
        if ann.startswith(k):
            return k
    raise SweepError(f"parameter {name!r} cannot be swept")  # pragma: no cover


def parse_value(name: str, text: str) -> Any:
    """The value of parameter ``name`` written as ``text`` (``"none"`` -> ``None`` for ints).

    Sizes are written with dashes, e.g. ``784-100-10`` (a list of ints is returned).
    """
    kind = _kind(name)
    text = text.strip()
    try:
        if kind == "sizes":
            return [int(s) for s in text.split("-") if s]
        if kind == "int":
            if text.lower() == "none":
                return None
            v = float(text)
            if v != int(v):
                raise ValueError
            return int(v)
        if kind == "float":
            return float(text)
    except ValueError as e:
        raise SweepError(f"parameter {name!r}: cannot read {text!r} as {kind}") from e
    return text


def _split_spec(spec: str) -> tuple[str, str]:
    if "=" not in spec:
        raise SweepError(f"expected NAME=VALUES, got {spec!r}")
    name, rest = spec.split("=", 1)
    name = name.strip().replace("-", "_") if name.strip() not in _DERIVED else name.strip()
    _kind(name)
    return name, rest


def parse_grid(spec: str) -> tuple[str, list[Any]]:
    """``"lr=1e-5,2e-5"`` -> ``("lr", [1e-05, 2e-05])`` (values parsed per :func:`parse_value`)."""
    name, rest = _split_spec(spec)
    values = [parse_value(name, v) for v in rest.split(",") if v.strip()]
    if not values:
        raise SweepError(f"--grid {spec!r}: no values")
    return name, values


@dataclass(frozen=True)
class Distribution:
    """A random-search distribution of one parameter.

    ``uniform:a:b``, ``loguniform:a:b`` (``a > 0``), ``randint:a:b`` (integers ``a..b``
    inclusive) or ``choice:v1,v2,...``; values of integer parameters are rounded.
    """

    name: str
    kind: str
    args: tuple[Any, ...]

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn from ``rng``."""
        if self.kind == "choice":
            return self.args[int(rng.integers(len(self.args)))]
        a, b = self.args
        if self.kind == "randint":
            v: Any = int(rng.integers(int(a), int(b) + 1))
        elif self.kind == "uniform":
            v = float(rng.uniform(a, b))
        else:
            v = float(math.exp(rng.uniform(math.log(a), math.log(b))))
        if _kind(self.name) == "int":
            v = int(round(v))
        return v

    def to_text(self) -> str:
        """The specification this distribution was parsed from (canonical form)."""
        if self.kind == "choice":
            return "choice:" + ",".join(_fmt(v) for v in self.args)
        return f"{self.kind}:{self.args[0]!r}:{self.args[1]!r}"


def parse_random(spec: str) -> Distribution:
    """``"lr=loguniform:1e-6:1e-4"`` -> a :class:`Distribution` (see its doc for the kinds)."""
    name, rest = _split_spec(spec)
    kind, _, args = rest.partition(":")
    if kind not in _DISTRIBUTIONS:
        raise SweepError(f"--random {spec!r}: distribution must be one of {_DISTRIBUTIONS}")
    if kind == "choice":
        values = tuple(parse_value(name, v) for v in args.split(",") if v.strip())
        if not values:
            raise SweepError(f"--random {spec!r}: no choices")
        return Distribution(name, kind, values)
    if _kind(name) not in ("int", "float"):
        raise SweepError(f"--random {spec!r}: {kind} needs a numeric parameter; use choice:")
    parts = args.split(":")
    try:
        a, b = (float(p) for p in parts)
    except ValueError as e:
        raise SweepError(f"--random {spec!r}: expected {kind}:LOW:HIGH") from e
    if not a <= b or (kind == "loguniform" and a <= 0):
        raise SweepError(f"--random {spec!r}: need LOW <= HIGH (and LOW > 0 for loguniform)")
    return Distribution(name, kind, (a, b))


def grid_points(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid's values (the first parameter varies slowest)."""
    names = list(grid)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grid.values())]


def random_points(space: Sequence[Distribution], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` points drawn from ``default_rng(seed)``, parameter by parameter in order."""
    rng = np.random.default_rng(seed)
    return [{d.name: d.sample(rng) for d in space} for _ in range(n)]


def figure_grid(name: str, values: Sequence[Any] | None = None) -> dict[str, list[Any]]:
    """The grid of a paper figure's sweep: ``fig4`` over ``N`` (784-2N-N-10), ``fig5`` over
    ``T`` (the base config's sizes, 784-1600-800-10 for the mnist preset, i.e. N = 800)."""
    if name not in FIGURE_SWEEPS:
        raise SweepError(f"unknown figure sweep {name!r}; choose one of {sorted(FIGURE_SWEEPS)}")
    param, default = FIGURE_SWEEPS[name]
    return {param: list(values) if values else list(default)}


def apply_params(base: Config, params: dict[str, Any]) -> Config:
    """``base`` with the trial's ``params`` applied (``N`` and ``hidden`` become ``sizes``)."""
    changes = dict(params)
    if "N" in changes:
        n = int(changes.pop("N"))
        changes["sizes"] = (base.sizes[0], 2 * n, n, base.sizes[-1])
    if "hidden" in changes:
        changes["sizes"] = (base.sizes[0], *changes.pop("hidden"), base.sizes[-1])
    if "sizes" in changes:
        changes["sizes"] = tuple(changes["sizes"])
    return base.replace(**changes)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list | tuple):
        return "-".join(str(x) for x in v)
    return str(v)


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
    from .training import read_metrics

    rows = read_metrics(run_dir) if run_dir.exists() else []
    if len(rows) >= cfg.epochs and (rows or (run_dir / "config.json").exists()):
        status = "done"
    elif rows or (run_dir / "config.json").exists():
        status = "partial"
    else:
        status = "pending"
    out: dict[str, Any] = {"status": status, "epochs_done": len(rows), "epochs": cfg.epochs}
    if rows:
        best = max(rows, key=lambda r: r["test_accuracy"])  # first epoch of the maximum
        out.update(
            final_test_accuracy=rows[-1]["test_accuracy"],
            best_test_accuracy=best["test_accuracy"],
            best_epoch=best["epoch"] + 1,  # counted from 1, as every epoch a human reads
            final_train_accuracy=rows[-1]["train_accuracy"],
            seconds=sum(r["train_seconds"] + r["test_seconds"] for r in rows),
        )
    else:
        out.update(
            final_test_accuracy=math.nan,
            best_test_accuracy=math.nan,
            best_epoch=0,
            final_train_accuracy=math.nan,
            seconds=0.0,
        )
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
) -> dict[str, Any]:
    """Train one trial in ``sweep_dir/trials/<id>`` (resuming it if it was started).

    Args:
        report: called with each epoch's metrics (Ray Tune's ``report``).
        threads: Numba threads for evaluation (``None``: leave as is).

    Returns:
        the trial's summary (status, accuracies, seconds), as in the results table.
    """
    from .training import train

    if threads:
        import numba

        numba.set_num_threads(max(1, min(int(threads), numba.config.NUMBA_NUM_THREADS)))
    cfg = apply_params(base, trial.params)
    run_dir = Path(sweep_dir) / "trials" / trial.id
    summary = _trial_summary(run_dir, cfg)
    if summary["status"] == "done":
        return summary
    on_epoch = None
    if report is not None:

        def on_epoch(m, net):
            report(
                {
                    "epoch": m.epoch + 1,
                    "test_accuracy": m.test_accuracy,
                    "best_test_accuracy": m.best_test_accuracy,
                    "train_accuracy": m.train_accuracy,
                }
            )

    prefix = f"[{trial.id}] "
    train(
        cfg,
        run_dir,
        resume=(run_dir / "config.json").exists(),
        data_dir=data_dir,
        engine=engine,
        on_epoch=on_epoch,
        progress=False,
        log=(lambda s: log(prefix + s)) if log is not None else None,
    )
    return _trial_summary(run_dir, cfg)


def ray_available() -> bool:
    """True if Ray Tune can be imported."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except Exception:  # ImportError, or a broken installation
        return False
    return True


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
                    a, b = old.base.to_dict(), base.to_dict()
                    diff = ": " + ", ".join(f"{k} {a[k]!r} -> {b[k]!r}" for k in a if a[k] != b[k])
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

    # ---------------------------------------------------------------- state
    def trial_dir(self, trial: Trial) -> Path:
        """The run directory of ``trial``."""
        return self.dir / "trials" / trial.id

    def results(self) -> list[dict[str, Any]]:
        """One row per trial, in trial order: ``trial``, the parameters, ``status``
        (``done`` / ``partial`` / ``pending``), ``epochs_done``, ``epochs``,
        ``final_test_accuracy``, ``best_test_accuracy`` (percent), ``best_epoch`` (counted from
        1; 0 if none), ``final_train_accuracy``, ``seconds`` (training + test time summed over the
        epochs), ``run_dir``, and ``config`` (the trial's :class:`Config`, not in the CSV)."""
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
        """Trials not finished yet (pending or partial), in order."""
        rows = self.results()
        return [t for t, r in zip(self.trials, rows, strict=True) if r["status"] != "done"]

    def write_results(self) -> tuple[Path, Path | None]:
        """Write ``results.csv`` and (if any trial has a result) ``best.json``.

        Returns:
            their paths (``None`` for ``best.json`` when no trial has finished an epoch).
        """
        rows = self.results()
        params = list(dict.fromkeys(k for t in self.trials for k in t.params))
        cols = ["trial", *params, "status", "epochs_done", "epochs", "final_test_accuracy"]
        cols += ["best_test_accuracy", "best_epoch", "final_train_accuracy", "seconds", "run_dir"]

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
        # Prefer finished trials; then the highest best test accuracy; ties: first trial.
        best = max(scored, key=lambda r: (r["status"] == "done", r["best_test_accuracy"]))
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
        executor: str = "auto",
        *,
        address: str | None = None,
        cpus_per_trial: float = 1,
        max_concurrent: int | None = None,
        data_dir: str | Path | None = None,
        engine: str = "fast",
        log: Callable[[str], None] | None = print,
    ) -> list[dict[str, Any]]:
        """Run every unfinished trial, then write the results table.

        Args:
            executor: ``"ray"`` (Ray Tune), ``"local"`` (sequential, this process) or ``"auto"``
                (Ray if installed, else local, saying so).
            address: Ray cluster address (``None``: start a local Ray instance).
            cpus_per_trial: CPUs Ray reserves per trial (also the trial's Numba threads).
            max_concurrent: at most this many trials at once (Ray; ``None``: as many as fit).
            data_dir, engine: passed to :func:`desire_bp.training.train`.

        Returns:
            :meth:`results` after the run.
        """
        say = log or (lambda s: None)
        if executor not in ("auto", "ray", "local"):
            raise SweepError(f"unknown executor {executor!r}; choose auto, ray or local")
        if executor == "auto":
            if ray_available():
                executor = "ray"
            else:
                executor = "local"
                say(
                    "ray is not installed (pip install 'desire-bp[ray]'): running the trials "
                    "one after the other in this process"
                )
        elif executor == "ray" and not ray_available():
            raise SweepError("executor 'ray' needs ray[tune]: pip install 'desire-bp[ray]'")
        if address and executor != "ray":
            raise SweepError("--address needs the ray executor")
        todo = self.pending()
        done = len(self.trials) - len(todo)
        say(
            f"sweep {self.dir}: {len(self.trials)} trials, {done} finished, {len(todo)} to run "
            f"({executor} executor)"
        )
        self.dir.mkdir(parents=True, exist_ok=True)
        try:
            if todo and executor == "local":
                for k, t in enumerate(todo, start=1):
                    t0 = time.perf_counter()
                    say(f"trial {k}/{len(todo)}: {t.id}")
                    s = run_trial(self.dir, t, self.base, data_dir=data_dir, engine=engine, log=log)
                    say(
                        f"trial {t.id}: best test accuracy {s['best_test_accuracy']:.2f}% "
                        f"({time.perf_counter() - t0:.1f}s)"
                    )
                    self.write_results()
            elif todo:
                self._run_ray(todo, address, cpus_per_trial, max_concurrent, data_dir, engine, say)
        finally:
            self.write_results()
        return self.results()

    def _run_ray(self, todo, address, cpus_per_trial, max_concurrent, data_dir, engine, say):
        import ray
        from ray import tune

        sweep_dir = str(self.dir.resolve())
        base_dict = self.base.to_dict()
        by_id = {t.id: t.params for t in todo}
        data = str(Path(data_dir).resolve()) if data_dir else None
        threads = max(1, int(math.ceil(cpus_per_trial)))

        def trainable(config: dict[str, Any]) -> None:
            try:
                from ray.tune import report
            except ImportError:  # Ray < 2.40
                from ray.train import report
            from desire_bp.config import Config as _Config
            from desire_bp.sweep import Trial as _Trial
            from desire_bp.sweep import run_trial as _run_trial

            tid = config["trial"]
            _run_trial(
                sweep_dir,
                _Trial(tid, by_id[tid]),
                _Config.from_dict(base_dict),
                data_dir=data,
                engine=engine,
                threads=threads,
                report=report,
            )

        started = not ray.is_initialized()
        if started:
            ray.init(address=address, include_dashboard=False, logging_level="WARNING")
        RunConfig = getattr(tune, "RunConfig", None)
        if RunConfig is None:  # Ray < 2.40
            from ray.train import RunConfig
        say(f"Ray Tune: {len(todo)} trials, {cpus_per_trial} CPU(s) each")
        tuner = tune.Tuner(
            tune.with_resources(trainable, {"cpu": cpus_per_trial}),
            param_space={"trial": tune.grid_search([t.id for t in todo])},
            tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent),
            run_config=RunConfig(
                name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
                storage_path=str(Path(sweep_dir) / "ray"),
                verbose=1,
            ),
        )
        try:
            grid = tuner.fit()
        finally:
            if started:
                ray.shutdown()
        errors = [r.error for r in grid if r.error is not None]
        if errors:
            say(f"{len(errors)} trial(s) failed under Ray; first error: {errors[0]}")


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
