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

Executors (:meth:`Sweep.run`): ``local`` (the default) runs the trials on this machine, one
after the other in this process or in ``max_concurrent`` worker processes
(:mod:`concurrent.futures`); ``ray`` runs them on Ray Tune (``pip install 'desire-bp[ray]'``;
a local Ray instance, or the cluster at ``address``, whose nodes must see the sweep directory),
with Tune's own search space and optionally its ASHA early-stopping scheduler
(:mod:`.ray_backend`).  Both produce the same run directories and the same table, and print one
line per finished trial.

Resuming: running a sweep again skips its finished trials (and those stopped early) and
continues an unfinished trial from its last completed epoch (``train(..., resume=True)``), so
an interrupted sweep loses at most one epoch per running trial.

Parameters: any Config field (``lr``, ``p_hid``, ``T``, ``sizes`` as ``784-100-10``, ...) and two
derived ones: ``N`` (the paper's ``784-2N-N-10``, Fig. 4) and ``hidden`` (hidden sizes, e.g.
``1600-800``, input and output sizes of the base config kept).

Modules: :mod:`.space` (parameters, grid and distributions), :mod:`.core` (sweep directories,
trials, the local executor), :mod:`.ray_backend` (Ray Tune).
"""

from __future__ import annotations

from . import ray_backend, space
from .core import EXECUTORS, Sweep, Trial, read_results_csv, run_trial
from .ray_backend import ray_available
from .space import *  # noqa: F403  (parameters, grid, distributions: space.__all__)

__all__ = [
    "EXECUTORS",
    "Trial",
    "Sweep",
    "run_trial",
    "read_results_csv",
    "ray_available",
    "ray_backend",
    *space.__all__,
]
