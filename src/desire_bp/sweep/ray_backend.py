"""Sweeps on Ray Tune: the search space as Tune's own, an optional early-stopping scheduler,
one line per trial.

The trials of a sweep are fixed when it is created (``sweep.json``: the grid's combinations and
the random search's samples, the same for every executor, so a sweep can be resumed or moved
between executors).  On Ray they are handed to Tune as its own search space: ``grid_search``
for the grid parameters and Tune's distributions (``uniform``, ``loguniform``, ``randint``,
``choice``) for the random ones, with the sweep's samples as the points Tune evaluates
(``BasicVariantGenerator(points_to_evaluate=...)``), so every Tune trial's config holds the
parameter values themselves.  ``asha=True`` adds Tune's ASHA scheduler on the test accuracy: a
trial it stops keeps its run directory and is marked ``stopped`` (a finished trial with fewer
epochs).  Tune's console tables are off; the sweep prints one line per finished trial.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .space import parse_random

if TYPE_CHECKING:  # pragma: no cover
    from .core import Sweep, Trial

__all__ = ["ray_available", "tune_space", "run_ray"]


def ray_available() -> bool:
    """True if Ray Tune can be imported."""
    try:
        import ray  # noqa: F401
        from ray import tune  # noqa: F401
    except Exception:  # ImportError, or a broken installation
        return False
    return True


def tune_space(search: dict[str, Any]) -> dict[str, Any]:
    """The sweep's search (``sweep.json``'s ``search``) as Tune search-space objects."""
    from ray import tune

    space: dict[str, Any] = {k: tune.grid_search(list(v)) for k, v in search["grid"].items()}
    for name, text in search["random"].items():
        d = parse_random(f"{name}={text}")
        if d.kind == "choice":
            space[name] = tune.choice(list(d.args))
        elif d.kind == "randint":
            space[name] = tune.randint(int(d.args[0]), int(d.args[1]) + 1)  # Tune: high excluded
        else:
            space[name] = getattr(tune, d.kind)(*d.args)
    return space


def _key(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, default=list)


def run_ray(
    sweep: Sweep,
    todo: list[Trial],
    *,
    address: str | None = None,
    cpus_per_trial: float = 1,
    max_concurrent: int | None = None,
    asha: bool = False,
    grace_epochs: int = 1,
    data_dir: str | Path | None = None,
    engine: str = "fast",
    say=print,
) -> None:
    """Run the ``todo`` trials of ``sweep`` on Ray Tune (see the module's description)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no boxed tables (verbose=0 below too)
    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # no TensorBoard / CSV
    import ray
    from ray import tune
    from ray.tune.search.basic_variant import BasicVariantGenerator

    sweep_dir = str(sweep.dir.resolve())
    base_dict = sweep.base.to_dict()
    names = list(dict.fromkeys(k for t in sweep.trials for k in t.params))
    by_key = {_key(t.params): (t.id, t.params) for t in todo}
    data = str(Path(data_dir).resolve()) if data_dir else None
    threads = max(1, int(math.ceil(cpus_per_trial)))
    epochs = sweep.base.epochs
    # ASHA ranks trials by validation accuracy when every trial holds a validation set out:
    # stopping trials on their test accuracy would tune the sweep on the test set.
    metric = (
        "val_accuracy" if all(c.validation > 0 for c in sweep.configs.values()) else "test_accuracy"
    )

    def trainable(config: dict[str, Any]) -> None:
        from desire_bp.config import Config
        from desire_bp.sweep.core import Trial as _Trial
        from desire_bp.sweep.core import run_trial

        tid, params = by_key[_key({k: config[k] for k in names})]
        run_trial(
            sweep_dir,
            _Trial(tid, params),
            Config.from_dict(base_dict),
            data_dir=data,
            engine=engine,
            threads=threads,
            report=tune.report,
            log=None,
        )

    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address,
            include_dashboard=False,
            logging_level="ERROR",
            log_to_driver=False,  # the trials' own lines stay in their run directories
            configure_logging=True,
        )
    where = f"the Ray cluster at {address}" if address else "a local Ray instance"
    say(
        f"Ray Tune on {where}: {len(todo)} trials, {cpus_per_trial} CPU(s) each"
        + (f", ASHA early stopping (grace {grace_epochs} epoch(s))" if asha else "")
    )
    scheduler = None
    if asha:
        from ray.tune.schedulers import ASHAScheduler

        scheduler = ASHAScheduler(
            time_attr="epoch", max_t=epochs, grace_period=max(1, grace_epochs), reduction_factor=2
        )
    points = [{k: t.params[k] for k in names} for t in todo]
    tuner = tune.Tuner(
        tune.with_resources(trainable, {"cpu": cpus_per_trial}),
        param_space=tune_space(sweep.search),
        tune_config=tune.TuneConfig(
            metric=metric,
            mode="max",
            num_samples=len(points),
            search_alg=BasicVariantGenerator(points_to_evaluate=points, max_concurrent=0),
            scheduler=scheduler,
            max_concurrent_trials=max_concurrent,
        ),
        run_config=tune.RunConfig(
            name=f"tune-{time.strftime('%Y%m%d-%H%M%S')}",
            storage_path=str(Path(sweep_dir) / "ray"),
            verbose=0,
            callbacks=[_one_line(sweep, by_key, names, say)],
        ),
    )
    try:
        grid = tuner.fit()
    finally:
        if started:
            ray.shutdown()
    failed = [r for r in grid if r.error is not None]
    for r in failed:
        first = str(r.error).strip().splitlines()
        say(f"a trial failed under Ray: {first[-1] if first else r.error}")


def _one_line(sweep: Sweep, by_key: dict, names: list[str], say) -> Any:
    """A Tune callback: one line per finished trial; marks the trials the scheduler stopped."""
    from ray.tune import Callback

    from .core import STOPPED, Trial, _trial_summary, trial_line

    t_start, n, finished = time.perf_counter(), len(by_key), [0]

    def trial_of(trial: Any) -> Trial:
        return Trial(*by_key[_key({k: trial.config[k] for k in names})])

    class OneLine(Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
            t = trial_of(trial)
            run_dir, cfg = sweep.trial_dir(t), sweep.configs[t.id]
            s = _trial_summary(run_dir, cfg)
            if s["status"] == "partial":  # ended by the scheduler before its last epoch
                (run_dir / STOPPED).write_text(json.dumps({"stopped_by": "ASHA"}) + "\n")
                s = _trial_summary(run_dir, cfg)
            finished[0] += 1
            say(trial_line(t, s, s["seconds"], finished[0], n, t_start))
            sweep.write_results()

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any):
            finished[0] += 1
            say(f"trial {finished[0]}/{n} {trial_of(trial).id}: failed (see below)")

    return OneLine()
